import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { requestMeta, staffOf } from '../../http/auth.js';
import { MAX_REVEAL_TTL_MINUTES, REVEAL_LINK_GONE, type RevealedOrder, type RevealTokenService } from './reveal-tokens.js';

export interface RevealRouteOptions {
  platform: Platform;
  revealTokens: RevealTokenService;
  usageInstructions: (skuId: string) => Promise<string>;
  /** Requests to /r/… per IP and minute, and failed ones (unknown, used, expired) per IP and 10 minutes before a 10-minute block. */
  limits?: { perMinute?: number; failuresPer10Minutes?: number };
}

const DEFAULT_TTL_MINUTES = 24 * 60;
const LinkBody = Strict({ ttl_minutes: Type.Optional(Type.Integer({ minimum: 5, maximum: MAX_REVEAL_TTL_MINUTES, description: `how long the link works (default ${DEFAULT_TTL_MINUTES})` })) });
const Link = Type.Object({ url: Type.String({ description: 'works once; send it to the buyer' }), expires_at: Type.String() });
const TokenParams = Type.Object({ token: Type.String({ maxLength: 200 }) });
const Code = Type.Object({ code_id: Type.String(), card_number: Type.Union([Type.String(), Type.Null()]), secret: Type.String() });
const Revealed = Type.Object({
  order: Type.Object({ id: Type.String(), sku_id: Type.String(), quantity: Type.Integer(), delivered_at: Type.Union([Type.String(), Type.Null()]) }),
  codes: Type.Array(Code),
  usage_instructions: Type.String(),
});

/** The API key's owner, as orders record it ("partner:p1", "agent:agt_…"). */
const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

/**
 * One-time reveal links: partners (signed) and staff ask for a link to a
 * delivered order; whoever opens it sees the codes once. GET only shows a
 * confirmation page, because chat apps (Telegram, WeChat) and link scanners
 * fetch links to preview them: only the button's POST uses the link up.
 */
export async function revealRoutes(fastify: FastifyInstance, opts: RevealRouteOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { revealTokens } = opts;
  const link = (l: { url: string; expiresAt: Date }) => ({ url: l.url, expires_at: l.expiresAt.toISOString() });
  const ttlOf = (body: { ttl_minutes?: number } | undefined) => body?.ttl_minutes ?? DEFAULT_TTL_MINUTES;
  // The body is optional: a POST without one means the defaults.
  const emptyBodyIsDefaults = async (request: FastifyRequest) => {
    if (request.body === undefined || request.body === null) request.body = {};
  };

  app.post(
    '/open/v1/orders/:id/reveal-link',
    {
      config: { signed: true },
      preValidation: emptyBodyIsDefaults,
      schema: {
        tags: ['open api'],
        summary: 'A one-time link that shows the codes of one of your delivered orders to whoever opens it (to pass on to your customer); audited',
        params: IdParams('ord'),
        body: LinkBody,
        response: { 201: Link, ...errorResponses },
      },
    },
    async (request, reply) => {
      const issued = await revealTokens.issue(request.params.id, {
        ttlMinutes: ttlOf(request.body),
        issuedFor: { actorType: 'api_key', actorId: request.apiKey!.keyId, ip: request.ip, apiKeyOwner: ownerOf(request) },
      });
      return reply.code(201).header('cache-control', 'no-store').send(link(issued));
    },
  );

  app.post(
    '/admin/orders/:id/reveal-link',
    {
      config: { permission: 'orders:reveal-link' },
      preValidation: emptyBodyIsDefaults,
      schema: {
        tags: ['admin: orders'],
        summary: 'A one-time link that shows the order\'s codes to whoever opens it (to send to the buyer); audited',
        params: IdParams('ord'),
        body: LinkBody,
        response: { 201: Link, ...errorResponses },
      },
    },
    async (request, reply) => {
      const staff = staffOf(request);
      const issued = await revealTokens.issue(request.params.id, { ttlMinutes: ttlOf(request.body), issuedFor: { actorType: 'staff', actorId: staff.id, ip: staff.ip } });
      return reply.code(201).header('cache-control', 'no-store').send(link(issued));
    },
  );

  await app.register(async (pub) => publicRevealPages(pub, opts));
}

/** GET /r/:token and POST /r/:token: public, rate-limited, never cached, never indexed, never logged with the token. */
async function publicRevealPages(fastify: FastifyInstance, opts: RevealRouteOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { revealTokens, platform } = opts;
  const requests = platform.kv.rateLimiter({ keyPrefix: 'reveal:ip', points: opts.limits?.perMinute ?? 60, durationSeconds: 60 });
  const failures = platform.kv.rateLimiter({ keyPrefix: 'reveal:fail', points: opts.limits?.failuresPer10Minutes ?? 20, durationSeconds: 600, blockSeconds: 600 });

  // The page's button posts an empty HTML form; its body carries nothing we read.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, _body, done) => done(null, {}));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-robots-tag', 'noindex, nofollow');
  });

  const wantsJson = (request: FastifyRequest) => {
    const accept = request.headers.accept ?? '';
    return accept.includes('application/json') && !accept.includes('text/html');
  };

  const limited = (res: RateLimiterRes) => {
    const retry = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    return new AppError('RATE_LIMITED', 'too many requests; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
  };
  /** A limiter's refusal, or null to go on. Without its store (Redis down) the link still works: tokens are 256-bit, guessing is hopeless anyway. */
  async function gate(ip: string): Promise<AppError | null> {
    try {
      const blocked = await failures.get(ip);
      if (blocked && blocked.remainingPoints <= 0 && blocked.msBeforeNext > 0) return limited(blocked);
      await requests.consume(ip);
      return null;
    } catch (e) {
      if (e instanceof RateLimiterRes) return limited(e);
      platform.logger.warn({ err: e }, 'reveal link rate limiter unavailable');
      return null;
    }
  }

  async function answer(request: FastifyRequest, reply: FastifyReply, run: () => Promise<{ json: unknown; html: string }>) {
    let result: { json: unknown; html: string };
    try {
      const refused = await gate(request.ip);
      if (refused) throw refused;
      result = await run();
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'NOT_FOUND') await failures.consume(request.ip).catch(() => undefined);
      if (wantsJson(request)) throw err;
      const message =
        err.code === 'NOT_FOUND' ? `链接无效、已过期或已被使用。 ${REVEAL_LINK_GONE}` : err.code === 'RATE_LIMITED' ? '请求过多，请稍后再试。 Too many requests; try again later.' : err.message;
      return reply
        .code(err.status)
        .headers(err.headers)
        .type('text/html; charset=utf-8')
        .send(page('无法显示卡密 / Cannot show the codes', `<p class="warn">${escapeHtml(message)}</p><p>如需帮助，请联系卖家。 If you need help, contact the seller.</p>`));
    }
    if (wantsJson(request)) return reply.send(result.json);
    return reply.type('text/html; charset=utf-8').send(result.html);
  }

  // The token is the whole secret: request logs show the route, not the URL.
  const logSerializers = { req: (req: { method?: string; routeOptions?: { url?: string }; ip?: string }) => ({ method: req.method, url: req.routeOptions?.url ?? '/r/:token', remoteAddress: req.ip }) };

  app.get(
    '/r/:token',
    { config: { public: true }, logSerializers, schema: { hide: true, params: TokenParams } },
    async (request, reply) =>
      answer(request, reply, async () => {
        const { expiresAt } = await revealTokens.peek(request.params.token);
        return {
          json: { status: 'ready', expires_at: expiresAt.toISOString(), reveal: 'POST this URL to show the codes; the link then stops working' },
          // No action attribute: the form posts back to this same URL, so the token is written nowhere in the page.
          html: page(
            '查看卡密 / Show your codes',
            `<p>您的卡密已准备好。此链接只能打开一次：点击后请立即保存。</p>
<p>Your codes are ready. This link works once: save them as soon as they are shown.</p>
<form method="post"><button type="submit">显示卡密 / Show codes</button></form>
<p class="muted">有效期至 / Valid until ${escapeHtml(expiresAt.toISOString().replace('T', ' ').slice(0, 16))} UTC</p>`,
          ),
        };
      }),
  );

  app.post(
    '/r/:token',
    { config: { public: true }, logSerializers, schema: { hide: true, params: TokenParams, response: { 200: Revealed } } },
    async (request, reply) =>
      answer(request, reply, async () => {
        const revealed = await revealTokens.redeem(request.params.token, requestMeta(request));
        const usage = await opts.usageInstructions(revealed.order.sku_id).catch(() => '');
        return { json: { ...revealed, usage_instructions: usage }, html: codesPage(revealed, usage) };
      }),
  );
}

function codesPage(r: RevealedOrder, usage: string): string {
  const items = r.codes
    .map(
      (c) => `<li>${c.card_number ? `<div><span class="label">卡号 / Card number</span><code>${escapeHtml(c.card_number)}</code></div>` : ''}<div><span class="label">卡密 / Code</span><code>${escapeHtml(c.secret)}</code></div></li>`,
    )
    .join('\n');
  return page(
    '您的卡密 / Your codes',
    `<p class="warn">请立即保存：此页面不会再次显示。 Save them now: this page will not be shown again.</p>
<ol class="codes">${items}</ol>
${usage ? `<h2>使用说明 / How to use</h2><p class="usage">${escapeHtml(usage)}</p>` : ''}
<p class="muted">订单 / Order ${escapeHtml(r.order.id)}</p>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
button{font-size:1.1rem;padding:.7rem 1.4rem;border:0;border-radius:.4rem;background:#1a73e8;color:#fff}
code{display:block;font-size:1.15rem;word-break:break-all;user-select:all;background:#f3f3f3;padding:.3rem .5rem;border-radius:.3rem}
.codes li{margin-bottom:1rem}.label{font-size:.85rem;color:#666}.warn{color:#b3261e;font-weight:600}.muted{color:#777;font-size:.85rem}.usage{white-space:pre-wrap}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
