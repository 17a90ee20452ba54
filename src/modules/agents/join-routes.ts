import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders } from '../customers/service.js';
import { agentRoles } from './service.js';
import { applicationStatuses, type AgentJoinService, type Decider } from './join.js';
import { normalizePhone, phoneHash } from '../customers/phone.js';
import type { RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import { Agent } from './routes.js';

export interface JoinRouteOptions {
  platform: Platform;
  join: AgentJoinService;
  /** The risk gate (action register): a block or challenge refuses the application before anything is written. */
  risk?: RiskService;
  /** POST /join per IP and 10 minutes (default 10). */
  limits?: { applicationsPer10Minutes?: number };
}

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Signal = Type.Union([Type.Literal('phone'), Type.Literal('ip'), Type.Literal('device')]);
const Application = Type.Object({
  id: Type.String(),
  upline_id: Type.String(),
  name: Type.String(),
  phone: Type.String({ description: 'masked, e.g. 138****1234' }),
  identity: Type.Union([Type.Object({ provider: Type.String(), external_id: Type.String() }), Type.Null()]),
  status: Type.String({ description: 'pending | approved | rejected' }),
  decided_by: Nullable(Type.String({ description: 'agent:agt_…, staff:usr_… or system (auto-approval)' })),
  decided_at: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  agent_id: Nullable(Type.String({ description: 'the agent created on approval' })),
  self_referral: Type.Boolean({ description: 'the applicant shares a phone, IP or device with its upline: review before approving' }),
  flags: Type.Object({ self_referral: Type.Optional(Type.Object({ signals: Type.Array(Signal), stage: Type.String() })) }),
  created_at: Type.String(),
});
const StaffApplication = Type.Composite([Application, Type.Object({ ip: Nullable(Type.String()), device_id: Nullable(Type.String()) })]);
const Approved = Type.Object({ application: Application, agent: Agent });
const ApproveBody = Strict({ role: Type.Optional(Type.Union(agentRoles.map((r) => Type.Literal(r)), { description: 'default: sub_agent under a distributor, group_leader below' })) });
const RejectBody = Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) });
const Status = Type.Union(applicationStatuses.map((s) => Type.Literal(s)));
const ListQuery = Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Type.String({ pattern: '^apl_[0-9A-HJKMNP-TV-Z]{26}$' })), status: Type.Optional(Status) });
const ReferralCode = Type.String({ minLength: 4, maxLength: 32, pattern: '^[A-Za-z0-9]+$' });
const JoinBody = Strict({
  referral_code: ReferralCode,
  name: Type.String({ minLength: 1, maxLength: 64 }),
  phone: Type.String({ minLength: 1, maxLength: 32, description: 'mobile number, e.g. 13812341234 or +8613812341234' }),
  identity: Type.Optional(Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the chat account to reach the applicant on; becomes the new agent\'s customer account' })),
});

/** The calling API key's agent: applications are decided by the agent they were made to. */
function agentIdOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', `applications are decided with the upline agent's API key; this key belongs to a ${key.ownerType}`);
  return key.ownerId;
}
const agentOf = (request: FastifyRequest): Decider => ({ type: 'agent', id: agentIdOf(request), ip: request.ip });
const staffDecider = (request: FastifyRequest): Decider => {
  const s = staffOf(request);
  return { type: 'staff', id: s.id, ip: s.ip };
};

export async function agentJoinRoutes(fastify: FastifyInstance, opts: JoinRouteOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { join } = opts;

  // ---- the upline, through its signed agent API ----
  const tags = ['open api: agent back office'];
  app.get(
    '/open/v1/agent/applications',
    { config: { signed: true }, schema: { tags, summary: 'Applications to join under the calling agent, newest first (self-referral flags shown)', querystring: ListQuery, response: { 200: Page(Application), ...errorResponses } } },
    async (request) => join.listForUpline(agentIdOf(request), request.query),
  );
  app.post(
    '/open/v1/agent/applications/:id/approve',
    {
      config: { signed: true },
      schema: { tags, summary: 'Approve an applicant: it becomes an agent directly under the caller (audited). A frozen agent cannot approve (403).', params: IdParams('apl'), body: ApproveBody, response: { 200: Approved, ...errorResponses } },
    },
    async (request) => join.approve(request.params.id, agentOf(request), { role: request.body.role }),
  );
  app.post(
    '/open/v1/agent/applications/:id/reject',
    { config: { signed: true }, schema: { tags, summary: 'Reject an applicant, with a reason (audited)', params: IdParams('apl'), body: RejectBody, response: { 200: Application, ...errorResponses } } },
    async (request) => join.reject(request.params.id, request.body.reason, agentOf(request)),
  );

  // ---- staff ----
  const adminTags = ['admin: agents'];
  app.get(
    '/admin/agents/applications',
    {
      config: { permission: 'agents:read' },
      schema: {
        tags: adminTags,
        summary: 'Join applications, newest first, with IP, device and self-referral flags',
        querystring: Strict({ ...ListQuery.properties, upline_id: Type.Optional(Type.String({ pattern: '^agt_[0-9A-HJKMNP-TV-Z]{26}$' })) }),
        response: { 200: Page(StaffApplication), ...errorResponses },
      },
    },
    async (request) => join.listForStaff({ limit: request.query.limit, cursor: request.query.cursor, status: request.query.status, uplineId: request.query.upline_id }),
  );
  app.post(
    '/admin/agents/applications/:id/approve',
    { config: { permission: 'agents:manage' }, schema: { tags: adminTags, summary: 'Approve an application: the agent is created under its upline (audited); refused while the upline is frozen', params: IdParams('apl'), body: ApproveBody, response: { 200: Approved, ...errorResponses } } },
    async (request) => join.approve(request.params.id, staffDecider(request), { role: request.body.role }),
  );
  app.post(
    '/admin/agents/applications/:id/reject',
    { config: { permission: 'agents:manage' }, schema: { tags: adminTags, summary: 'Reject an application, with a reason (audited)', params: IdParams('apl'), body: RejectBody, response: { 200: Application, ...errorResponses } } },
    async (request) => join.reject(request.params.id, request.body.reason, staffDecider(request)),
  );

  await app.register(async (pub) => publicJoinPages(pub, opts));
}

/** GET /join/:referralCode (the invitation page) and POST /join (the application, JSON or the page's form). */
async function publicJoinPages(fastify: FastifyInstance, opts: JoinRouteOptions) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { join, platform } = opts;
  const applications = platform.kv.rateLimiter({ keyPrefix: 'join:ip', points: opts.limits?.applicationsPer10Minutes ?? 10, durationSeconds: 600 });

  // The page's form posts urlencoded fields; they become the same body as the JSON one.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    const form = new URLSearchParams(body as string);
    const out: Record<string, string> = {};
    for (const k of ['referral_code', 'name', 'phone']) {
      const v = form.get(k);
      if (v !== null) out[k] = v;
    }
    done(null, out);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('referrer-policy', 'no-referrer');
  });
  const isForm = (request: FastifyRequest) => (request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');

  app.get(
    '/join/:referralCode',
    { config: { public: true }, schema: { hide: true, params: Type.Object({ referralCode: Type.String({ maxLength: 64 }) }) } },
    async (request, reply) => {
      let invite: { referral_code: string; upline_name: string };
      try {
        invite = await join.invitation(request.params.referralCode);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'NOT_FOUND') throw err;
        return reply.code(404).type('text/html; charset=utf-8').send(page('邀请链接无效 / Invalid invitation', '<p>此邀请链接无效或已停用。</p><p class="muted">This invitation link is unknown or no longer active.</p>'));
      }
      return reply.type('text/html; charset=utf-8').send(invitationPage(invite));
    },
  );

  const deviceOf = (request: FastifyRequest) => {
    const v = request.headers['x-device-id'];
    const s = (Array.isArray(v) ? v[0] : v)?.trim();
    return s ? s.slice(0, 128) : undefined;
  };

  app.post(
    '/join',
    {
      config: { public: true },
      schema: {
        tags: ['public'],
        summary:
          'Apply to become an agent under the owner of a referral code (public; at most 10 per IP in 10 minutes). One pending application per phone and upline (409). The upline (signed agent API) or staff approve it, unless AGENT_JOIN_AUTO_APPROVE. X-Device-Id, when sent, joins the self-referral check. The invitation page posts its form here and gets a page back.',
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' })),
          'x-device-id': Type.Optional(Type.String({ maxLength: 256 })),
          'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })),
          'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })),
        }),
        body: JoinBody,
        response: { 201: Application, 200: Application, ...errorResponses },
      },
    },
    async (request, reply) => {
      const form = isForm(request);
      try {
        await gate(request.ip);
        const b = request.body;
        if (opts.risk) {
          // Only a valid phone is hashed; an invalid one is refused by the application itself, with its field.
          const phone = normalizePhone(b.phone);
          refuseUnlessPassed(await opts.risk.assess({ action: 'register', ...gateInputOf(request), ...(phone ? { phoneHash: phoneHash(platform, phone) } : {}) }));
        }
        const done = await join.apply({
          referralCode: b.referral_code,
          name: b.name,
          phone: b.phone,
          identity: b.identity ? { provider: b.identity.provider, externalId: b.identity.external_id } : undefined,
          ip: request.ip,
          deviceId: deviceOf(request),
          idempotencyKey: request.headers['idempotency-key'],
        });
        if (form) return reply.code(done.statusCode).type('text/html; charset=utf-8').send(submittedPage(done.application.status));
        return reply.code(done.statusCode).send(done.application);
      } catch (err) {
        if (!form || !(err instanceof AppError)) throw err;
        const message =
          err.code === 'RATE_LIMITED'
            ? '请求过多，请稍后再试。 Too many requests; try again later.'
            : err.code === 'CHALLENGE_REQUIRED'
              ? '需要人机验证，请稍后再试或联系邀请人。 A human check is needed: try again later or ask the person who invited you.'
              : err.code === 'RISK_BLOCKED'
                ? `申请被风控拒绝。 ${err.message}`
                : err.message;
        return reply.code(err.status).headers(err.headers).type('text/html; charset=utf-8').send(page('申请未提交 / Not submitted', `<p class="warn">${escapeHtml(message)}</p><p class="muted">请返回上一页修改后重试。 Go back, correct it and try again.</p>`));
      }
    },
  );

  /** The per-IP limit; without its store (Redis down) applications still go through: they only wait for a human anyway. */
  async function gate(ip: string): Promise<void> {
    try {
      await applications.consume(ip);
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        const retry = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
        throw new AppError('RATE_LIMITED', 'too many applications from this address; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
      }
      platform.logger.warn({ err: e }, 'join rate limiter unavailable');
    }
  }
}

function invitationPage(invite: { referral_code: string; upline_name: string }): string {
  const who = escapeHtml(invite.upline_name);
  return page(
    '加入团队 / Join the team',
    `<p><strong class="upline">${who}</strong> 邀请您成为代理。</p>
<p class="muted">${who} invites you to join as an agent.</p>
<form method="post" action="/join">
<input type="hidden" name="referral_code" value="${escapeHtml(invite.referral_code)}">
<label>姓名 <small>Name</small><input name="name" required maxlength="64" autocomplete="name"></label>
<label>手机号 <small>Mobile phone</small><input name="phone" type="tel" required maxlength="20" inputmode="tel" autocomplete="tel"></label>
<button type="submit">提交申请 / Apply</button>
</form>
<p class="muted">提交后由邀请人审核。 Your application is reviewed by the person who invited you.</p>`,
  );
}

function submittedPage(status: string): string {
  return status === 'approved'
    ? page('申请已通过 / Approved', '<p>欢迎加入！请联系邀请人获取后台登录方式。</p><p class="muted">Welcome aboard: ask the person who invited you how to reach your back office.</p>')
    : page('申请已提交 / Application sent', '<p>申请已提交，请等待邀请人审核。</p><p class="muted">Your application was sent; the person who invited you will review it.</p>');
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex, nofollow"><meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#222}
label{display:block;margin:.8rem 0}input{display:block;width:100%;box-sizing:border-box;font-size:1rem;padding:.5rem;margin-top:.2rem}
button{font-size:1.05rem;padding:.6rem 1.3rem;border:0;border-radius:.4rem;background:#1a73e8;color:#fff}
.muted{color:#777;font-size:.85rem}.warn{color:#b3261e;font-weight:600}small{color:#777}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
