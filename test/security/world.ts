import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { bootTestApp, bearer, TEST_PASSWORD, type TestApp } from '../helpers/boot.js';
import { startFakeWechatMp, type FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { errorStatus } from '../../src/lib/errors.js';
import type { Clock } from '../../src/lib/clock.js';
import type { Logger } from '../../src/lib/logger.js';

/**
 * A small populated platform for the hostile-input tests: an owner, two agents
 * with signing keys and orders, two mini-program customers (one with a phone)
 * with orders, stocked codes. Every secret seeded here is listed in `secrets`
 * so a test can assert none of them leaks.
 */
export const MP_APPID = 'wx5ec0ffee5ec0ffee';
export const MP_SECRET = 'fedcba9876543210fedcba9876543210';
export const uniq = () => randomBytes(6).toString('hex');

export interface Key { id: string; secret: string }
export interface Customer { token: string; id: string }
export interface World {
  t: TestApp;
  wx: FakeWechatMp;
  owner: { token: string; userId: string; cookie: string };
  agentA: { id: string; key: Key; orderId: string };
  agentB: { id: string; key: Key; orderId: string };
  custA: Customer & { orderId: string; phone: string };
  custB: Customer & { orderId: string };
  skuId: string;
  /** Seeded values that must never appear in a response that did not ask for them, nor in a log line. */
  secrets: string[];
  close(): Promise<void>;
}

export async function buildWorld(opts: { clock?: Clock; logger?: Logger; env?: Record<string, string> } = {}): Promise<World> {
  const wx = await startFakeWechatMp({ appId: MP_APPID, secret: MP_SECRET });
  const t = await bootTestApp({
    clock: opts.clock,
    logger: opts.logger,
    env: { WECHAT_MP_APPID: MP_APPID, WECHAT_MP_SECRET: MP_SECRET, WECHAT_MP_API_BASE: wx.url, RISK_SEED_RULES: 'false', SESSION_TTL_MINUTES: '43200', ...opts.env },
  });
  const owner = await t.loginAs('owner');
  const skuId = await createCodeSku(t, { retailPriceFen: 1_000 });
  const codeSecrets = await stockCodes(t, skuId, 12);

  const agent = async (name: string) => {
    const a = await t.services.agents.create({ name, role: 'distributor' });
    const k = await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner.token), payload: { owner_type: 'agent', owner_id: a.id, name: `${name} key` } });
    expect(k.statusCode, k.body).toBe(201);
    const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'agent', buyer_id: a.id, amount_fen: 50_000, reference: `seed-${uniq()}` } });
    expect(credit.statusCode, credit.body).toBe(200);
    const key = k.json() as Key;
    const order = await signedCall(t, key, 'POST', '/open/v1/orders', { sku_id: skuId, quantity: 1, payment: 'balance' }, `seed-${uniq()}`);
    expect(order.statusCode, order.body).toBe(201);
    return { id: a.id, key, orderId: order.json().order.id as string };
  };
  const agentA = await agent('Agent A');
  const agentB = await agent('Agent B');

  const customer = async (phone?: string) => {
    const code = `login-${uniq()}`;
    wx.loginCode(code, { openid: `o_${uniq()}` });
    const res = await t.inject({ method: 'POST', url: '/mp/v1/login', payload: { code } });
    expect(res.statusCode, res.body).toBe(200);
    const c = { token: res.json().token as string, id: res.json().customer.id as string };
    if (phone) {
      wx.phoneCode(`phone-${c.id}`, phone);
      const p = await t.inject({ method: 'POST', url: '/mp/v1/phone', headers: bearer(c.token), payload: { code: `phone-${c.id}` } });
      expect(p.statusCode, p.body).toBe(200);
    }
    const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner.token), payload: { buyer_type: 'customer', buyer_id: c.id, amount_fen: 20_000, reference: `seed-${uniq()}` } });
    expect(credit.statusCode, credit.body).toBe(200);
    const order = await t.inject({ method: 'POST', url: '/mp/v1/orders', headers: { ...bearer(c.token), 'idempotency-key': `seed-${uniq()}` }, payload: { sku_id: skuId, quantity: 1, payment: 'balance' } });
    expect(order.statusCode, order.body).toBe(201);
    return { ...c, orderId: order.json().order.id as string };
  };
  const phone = '13712345678';
  const custA = { ...(await customer(phone)), phone };
  const custB = await customer();

  return {
    t,
    wx,
    owner,
    agentA,
    agentB,
    custA,
    custB,
    skuId,
    secrets: [...codeSecrets, TEST_PASSWORD, owner.token, owner.cookie.split('=')[1]!, agentA.key.secret, agentB.key.secret, custA.token, custB.token, phone, MP_SECRET],
    async close() {
      await t.close();
      await wx.close();
    },
  };
}

/** A signed open-API request as the holder of `key`. */
export function signedCall(t: TestApp, key: Key, method: string, url: string, body?: unknown, idem?: string, raw?: string) {
  const text = raw ?? (body === undefined ? '' : JSON.stringify(body));
  return t.inject({
    method: method as InjectOptions['method'],
    url,
    payload: text || undefined,
    headers: { ...(text ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, text, t.platform.clock.now()) },
  });
}

// What a response must never show: a stack frame, a source path, SQL or a driver's error text.
const leakPatterns: RegExp[] = [
  /\bat [\w.<>$]+ \(?[^)\s]*:\d+:\d+\)?/, // stack frame
  /(\/work\/|\/home\/|node_modules|file:\/\/|[\w-]+\.(ts|js|mjs):\d+)/,
  /\b(select|insert|update|delete)\b[\s\S]{0,80}\b(from|into|set|where)\b\s+["\w]/i,
  /(syntax error at or near|violates (foreign key|unique|check|not-null) constraint|duplicate key value|invalid input syntax for|relation "\w+" does not exist|column "\w+"|PostgresError|DrizzleQueryError|Failed query)/i,
  /\b(TypeError|ReferenceError|RangeError|SyntaxError):/,
];

const errorCodes = new Set(Object.keys(errorStatus));

/**
 * A refused code import answers 422 with its report (which rows failed and why), by design and documented
 * in the vault routes' OpenAPI: the one 4xx that is not the error shape.
 */
const isImportReport = (res: LightMyRequestResponse) => {
  if (res.statusCode !== 422) return false;
  const b = res.json() as { status?: unknown; rejections?: unknown; id?: unknown };
  return b.status === 'rejected' && Array.isArray(b.rejections) && typeof b.id === 'string' && b.id.startsWith('imp_');
};

/**
 * The response holds: no 5xx, no internals, no seeded secret, and 4xx bodies have the one error shape.
 * `echo` is what the request itself sent (decoded URL and body): a message quoting the caller's own
 * "' UNION SELECT ..." back ("device ... not found") is not a leak of ours.
 */
export function assertSafeResponse(res: LightMyRequestResponse, secrets: readonly string[], what: string, echo = '') {
  const ctx = `${what} -> ${res.statusCode} ${res.body.slice(0, 400)}`;
  expect(res.statusCode, ctx).toBeLessThan(500);
  const echoed = [echo, JSON.stringify(echo)].join('\n');
  for (const p of leakPatterns) {
    const found = [...res.body.matchAll(new RegExp(p.source, `${p.flags}g`))].map((m) => m[0]).filter((m) => !echoed.includes(m));
    expect(found, `${ctx}\nmatches ${p}`).toEqual([]);
  }
  for (const s of secrets) expect(res.body.includes(s), `${ctx}\ncontains a seeded secret`).toBe(false);
  if (res.statusCode >= 400 && !isImportReport(res)) {
    const body = res.json() as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    expect(Object.keys(body), ctx).toEqual(['error']);
    expect(Object.keys(body.error ?? {}).sort(), ctx).toEqual(['code', 'details', 'message']);
    expect(errorCodes.has(String(body.error!.code)), ctx).toBe(true);
    expect(typeof body.error!.message, ctx).toBe('string');
  }
}

/**
 * Row counts of business tables (log-like tables such as audit, risk decisions or sessions excluded).
 * `customers` is left out on purpose: every open-API call naming a chat identity resolves it to a
 * customer first (an upsert, the same as POST /open/v1/customers/resolve), whatever happens next.
 */
export const businessTables = [
  'orders', 'payments', 'refunds', 'ledger_entries', 'ledger_transactions', 'code_batches', 'customer_coupons', 'coupon_templates', 'withdrawals',
  'commissions', 'cdks', 'cdk_batches', 'cdk_redemptions', 'points_entries', 'points_exchanges', 'wallet_gifts', 'wallet_holdings', 'redemptions', 'flash_sales',
  'flash_sale_purchases', 'group_buy_groups', 'group_buy_members', 'fission_packets', 'fission_opens', 'supplier_orders', 'suppliers', 'agents',
  'staff_users', 'api_keys', 'webhook_endpoints', 'stock_allocations', 'after_sales_tickets', 'products', 'skus', 'recharges', 'referral_bindings', 'merchants', 'stores',
] as const;

export async function businessSnapshot(t: TestApp): Promise<string> {
  const counts = businessTables.map((n) => `(select count(*) from ${n})::text`).join(` || ',' || `);
  const sql = `select ${counts} || '|' || coalesce((select string_agg(state || ':' || n, ',' order by state) from (select state, count(*) n from codes group by state) x), '') as s`;
  const rows = (await t.platform.database.executeSql<{ s: string }>(sql)).rows;
  return rows[0]!.s;
}

export const mp = (t: TestApp, c: Customer, method: string, url: string, payload?: object, idem?: string) =>
  t.inject({ method: method as InjectOptions['method'], url, payload, headers: { ...bearer(c.token), ...(idem ? { 'idempotency-key': idem } : {}) } });
