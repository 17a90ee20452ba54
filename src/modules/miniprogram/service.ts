import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import { RateLimiterRes } from 'rate-limiter-flexible';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import { newId, randomToken } from '../../lib/ids.js';
import { sha256Hex } from '../../lib/crypto.js';
import type { CustomerService } from '../customers/service.js';
import { mpSessions } from './schema.js';
import { WechatMpError, createWechatMpClient, type MpConfig, type WechatMpClient } from './wechat-client.js';

/** The customer behind a mini-program request (set by the `customer: true` route guard). */
export interface CustomerPrincipal {
  kind: 'customer';
  customerId: string;
  sessionId: string;
}

export const MP_SESSION_TTL_MS = 30 * 24 * 60 * 60_000;

/** WeChat's errcodes for a code that cannot be exchanged: invalid, already used, or from another app. */
const BAD_CODE = new Set([40029, 40163, 40226, 40013]);

/**
 * Mini-program login: the wx.login code is exchanged through code2session,
 * the openid (with the unionid, when WeChat gives one) resolves the customer,
 * and a random bearer token, stored only as its hash, is the session.
 */
export function createMiniProgramService(p: Platform, deps: { customers: Pick<CustomerService, 'resolve' | 'link' | 'setPhone' | 'get'> }, opts: { client?: WechatMpClient } = {}) {
  const cfg: MpConfig | null = p.config.wechatMiniProgram;
  const client = opts.client ?? (cfg ? createWechatMpClient(p, cfg) : null);

  function wechat(): WechatMpClient {
    if (!client) throw new AppError('SERVICE_UNAVAILABLE', 'the mini-program is not configured (WECHAT_MP_APPID, WECHAT_MP_SECRET)');
    return client;
  }

  /** A WeChat refusal of the code the client sent is the client's problem (422, naming the field); anything else is WeChat's. */
  function translate(err: unknown, what: string): never {
    if (err instanceof WechatMpError) {
      if (BAD_CODE.has(err.errcode)) throw new AppError('UNPROCESSABLE', `the ${what} code is invalid or was already used: get a new one and try again`, [{ field: 'code', message: `WeChat errcode ${err.errcode}` }]);
      if (err.errcode === 45011) throw new AppError('RATE_LIMITED', 'WeChat is limiting requests; try again in a minute', null, { 'retry-after': '60' });
      throw new AppError('SERVICE_UNAVAILABLE', `WeChat refused the request (errcode ${err.errcode})`);
    }
    throw err;
  }

  // Every attempt counts, good or bad: each costs a code2session call, and WeChat limits the app, not the caller.
  const loginsByIp = p.kv.rateLimiter({ keyPrefix: 'mp:login:ip', points: p.config.mpLoginPerIp, durationSeconds: p.config.mpLoginWindowSeconds });

  async function login(code: string, client: { ip: string }): Promise<{ token: string; expires_at: string; customer: { id: string; phone: string | null; created: boolean } }> {
    await loginsByIp.consume(client.ip).catch((e: unknown) => {
      if (!(e instanceof RateLimiterRes)) throw e;
      const retry = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
      throw new AppError('RATE_LIMITED', 'too many logins from this address; try again later', { retry_after_seconds: retry }, { 'retry-after': String(retry) });
    });
    const session = await wechat().code2session(code).catch((err: unknown) => translate(err, 'wx.login'));
    const resolved = await deps.customers.resolve({ identity: { provider: 'miniprogram_openid', externalId: session.openid }, unionId: session.unionid });
    if (session.unionid && !resolved.created) {
      // A customer first seen without a unionid gets it now; one that belongs to another customer is left alone (never merged here).
      await deps.customers.link(resolved.customerId, { provider: 'wechat_unionid', externalId: session.unionid }).catch((err: unknown) => {
        if (!(err instanceof AppError && err.code === 'CONFLICT')) throw err;
        p.logger.warn({ customer_id: resolved.customerId }, 'mini-program unionid already belongs to another customer');
      });
    }
    const token = randomToken(32);
    const now = p.clock.now();
    const expiresAt = new Date(now.getTime() + MP_SESSION_TTL_MS);
    await p.db.insert(mpSessions).values({ id: newId('mps', now), tokenHash: sha256Hex(token), customerId: resolved.customerId, createdAt: now, expiresAt });
    const customer = await deps.customers.get(resolved.customerId);
    return { token, expires_at: expiresAt.toISOString(), customer: { id: customer.id, phone: customer.phone, created: resolved.created } };
  }

  async function authenticate(token: string): Promise<CustomerPrincipal | null> {
    const [row] = await p.db
      .select({ id: mpSessions.id, customerId: mpSessions.customerId })
      .from(mpSessions)
      .where(and(eq(mpSessions.tokenHash, sha256Hex(token)), isNull(mpSessions.revokedAt), gt(mpSessions.expiresAt, p.clock.now())));
    return row ? { kind: 'customer', customerId: row.customerId, sessionId: row.id } : null;
  }

  async function logout(principal: CustomerPrincipal): Promise<void> {
    await p.db.update(mpSessions).set({ revokedAt: p.clock.now() }).where(eq(mpSessions.id, principal.sessionId));
  }

  /** Stores the phone behind a getPhoneNumber code on the customer (sealed); answers it masked. */
  async function setPhone(principal: CustomerPrincipal, code: string): Promise<{ phone: string }> {
    const phone = await wechat().phoneNumber(code).catch((err: unknown) => translate(err, 'getPhoneNumber'));
    await deps.customers.setPhone(principal.customerId, phone);
    const c = await deps.customers.get(principal.customerId);
    return { phone: c.phone! };
  }

  async function me(principal: CustomerPrincipal) {
    const c = await deps.customers.get(principal.customerId);
    return { id: c.id, display_name: c.display_name, locale: c.locale, phone: c.phone, created_at: c.created_at };
  }

  async function purgeExpiredSessions(): Promise<number> {
    const rows = await p.db.delete(mpSessions).where(lt(mpSessions.expiresAt, p.clock.now())).returning({ id: mpSessions.id });
    return rows.length;
  }

  return { login, authenticate, logout, setPhone, me, purgeExpiredSessions };
}

export type MiniProgramService = ReturnType<typeof createMiniProgramService>;
