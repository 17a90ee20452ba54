import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { createLogger } from '../../src/lib/logger.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { REVEAL_LINK_GONE } from '../../src/modules/orders/reveal-tokens.js';

const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  },
});
const clock = new ManualClock(new Date());
let t: TestApp;
let finance: string;
let owner: string;
/** Every clear token the tests saw, to prove that none of them is stored or logged. */
const issuedTokens: string[] = [];

beforeAll(async () => {
  t = await bootTestApp({ clock, logger: createLogger('info', sink), env: { PUBLIC_URL: 'https://shop.example.com' } });
  finance = (await t.loginAs('finance')).token;
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

let ipSeq = 0;
/** Each test talks from its own address, so the per-IP limits of one do not spill into another. */
const freshIp = () => `192.0.2.${++ipSeq}`;

async function agentWithKey() {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: 1_000_000, reference: 'bank transfer' } });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  const call = (method: 'GET' | 'POST', url: string, body?: object) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
  return { agent, call };
}

/** A delivered (not yet revealed) order placed through the agent's key, as a bot delivery would leave it. */
async function deliveredOrder(agentId: string, opts: { quantity?: number; secrets?: string[] } = {}) {
  const sku = await createCodeSku(t);
  const quantity = opts.quantity ?? 2;
  await stockCodes(t, sku, quantity, { secrets: opts.secrets });
  const order = await t.platform.db.transaction((tx) =>
    t.services.orders.createOrder({ buyer: { type: 'agent', id: agentId }, skuId: sku, quantity, channel: 'telegram', payment: 'balance', apiKeyOwner: `agent:${agentId}` }, tx),
  );
  expect(order.status).toBe('delivered');
  return order;
}

/** The order's codes as the vault holds them. */
async function vaultCodes(orderId: string) {
  const held = await t.services.vault.codesOfOrder(orderId);
  const plain = await t.services.vault.openCodes(held.map((c) => c.id));
  return held.map((c) => ({ id: c.id, state: c.state, secret: plain.get(c.id)!.secret }));
}

const tokenOf = (url: string) => {
  const token = url.split('/r/')[1]!;
  issuedTokens.push(token);
  return token;
};
const html = { accept: 'text/html,application/xhtml+xml' };
const json = { accept: 'application/json' };
const open = (token: string, ip: string, headers: Record<string, string> = html) => t.inject({ method: 'GET', url: `/r/${token}`, headers, remoteAddress: ip });
const press = (token: string, ip: string, headers: Record<string, string> = html) =>
  t.inject({ method: 'POST', url: `/r/${token}`, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: '', remoteAddress: ip });

describe('one-time reveal links', () => {
  it('the partner gets a link; opening it only asks; the button shows the codes once, audited', async () => {
    const { agent, call } = await agentWithKey();
    const order = await deliveredOrder(agent.id);
    const issued = await call('POST', `/open/v1/orders/${order.id}/reveal-link`);
    expect(issued.statusCode).toBe(201);
    expect(issued.headers['cache-control']).toBe('no-store');
    const { url, expires_at } = issued.json() as { url: string; expires_at: string };
    expect(url).toMatch(/^https:\/\/shop\.example\.com\/r\/[A-Za-z0-9_-]{43}$/);
    expect(new Date(expires_at).getTime()).toBe(clock.now().getTime() + 24 * 60 * MINUTE);
    const token = tokenOf(url);
    const ip = freshIp();
    const held = await vaultCodes(order.id);
    expect(held.map((c) => c.state)).toEqual(['delivered', 'delivered']);

    // What a link preview or a scanner sees: a page with a button, no code, the link still unused.
    for (let i = 0; i < 3; i++) {
      const confirm = await open(token, ip);
      expect(confirm.statusCode).toBe(200);
      expect(confirm.headers['content-type']).toMatch(/^text\/html/);
      expect(confirm.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex, nofollow' });
      expect(confirm.body).toMatch(/<form method="post">/);
      expect(confirm.body).not.toContain(token);
      for (const c of held) expect(confirm.body).not.toContain(c.secret);
    }
    expect((await open(token, ip, json)).json()).toMatchObject({ status: 'ready', expires_at });
    expect((await vaultCodes(order.id)).map((c) => c.state)).toEqual(['delivered', 'delivered']);

    const shown = await press(token, ip);
    expect(shown.statusCode).toBe(200);
    expect(shown.headers).toMatchObject({ 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-robots-tag': 'noindex, nofollow' });
    for (const c of held) expect(shown.body).toContain(c.secret);
    expect(shown.body).toContain(order.id);
    expect((await vaultCodes(order.id)).map((c) => c.state)).toEqual(['revealed', 'revealed']);

    const audit = await t.services.audit.list({ limit: 10, action: 'order.codes.reveal' });
    const entry = audit.data.find((a) => a.target_id === order.id)!;
    expect(entry).toMatchObject({ actor_type: 'customer', actor_id: expect.stringMatching(/^rvt_/), target_type: 'order', ip });
    expect(entry.details).toMatchObject({ via: 'reveal_token', token_id: entry.actor_id, code_ids: held.map((c) => c.id) });
    const issuedAudit = (await t.services.audit.list({ limit: 10, action: 'order.reveal_link.issue' })).data.find((a) => a.target_id === order.id)!;
    expect(issuedAudit).toMatchObject({ actor_type: 'api_key', details: { token_id: entry.actor_id } });

    // Used up: the same answer as a link that never existed.
    const again = await press(token, ip, json);
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toEqual({ code: 'NOT_FOUND', message: REVEAL_LINK_GONE, details: null });
    const againPage = await press(token, ip);
    expect(againPage.statusCode).toBe(404);
    expect(againPage.headers['content-type']).toMatch(/^text\/html/);
    for (const c of held) expect(againPage.body).not.toContain(c.secret);
    expect((await open(token, ip)).statusCode).toBe(404);
  });

  it('JSON for a page that fetches; codes already revealed to the API are shown again', async () => {
    const { agent, call } = await agentWithKey();
    const order = await deliveredOrder(agent.id, { quantity: 1 });
    await t.services.orders.revealCodes(order.id, { apiKeyOwner: `agent:${agent.id}` });
    const token = tokenOf((await call('POST', `/open/v1/orders/${order.id}/reveal-link`, { ttl_minutes: 60 })).json().url);
    const res = await press(token, freshIp(), json);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    const [code] = await vaultCodes(order.id);
    expect(body).toMatchObject({ order: { id: order.id, quantity: 1 }, codes: [{ code_id: code!.id, secret: code!.secret }], usage_instructions: expect.any(String) });
  });

  it('an expired link, an unknown one and a malformed one all get the same 404', async () => {
    const { agent, call } = await agentWithKey();
    const order = await deliveredOrder(agent.id, { quantity: 1 });
    const token = tokenOf((await call('POST', `/open/v1/orders/${order.id}/reveal-link`, { ttl_minutes: 5 })).json().url);
    const ip = freshIp();
    expect((await open(token, ip)).statusCode).toBe(200);
    clock.advance(5 * MINUTE);
    const expired = await press(token, ip, json);
    const unknown = await press(randomBytes(32).toString('base64url'), ip, json);
    const malformed = await press('not-a-token', ip, json);
    for (const res of [expired, unknown, malformed]) {
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: REVEAL_LINK_GONE, details: null } });
    }
    expect((await open(token, ip)).statusCode).toBe(404);
    expect((await vaultCodes(order.id)).map((c) => c.state)).toEqual(['delivered']);
  });

  it('two simultaneous presses: exactly one gets the codes', async () => {
    const { agent, call } = await agentWithKey();
    const order = await deliveredOrder(agent.id);
    const token = tokenOf((await call('POST', `/open/v1/orders/${order.id}/reveal-link`)).json().url);
    const results = await Promise.all(Array.from({ length: 6 }, () => press(token, freshIp(), json)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 404, 404, 404, 404, 404]);
    const winner = results.find((r) => r.statusCode === 200)!;
    expect(winner.json().codes).toHaveLength(2);
    const reveals = (await t.services.audit.list({ limit: 50, action: 'order.codes.reveal' })).data.filter((a) => a.target_id === order.id);
    expect(reveals).toHaveLength(1);
  });

  it('only the key that placed the order gets a link for it; others are told it does not exist', async () => {
    const a = await agentWithKey();
    const b = await agentWithKey();
    const order = await deliveredOrder(a.agent.id, { quantity: 1 });
    const theirs = await b.call('POST', `/open/v1/orders/${order.id}/reveal-link`);
    expect(theirs.statusCode).toBe(404);
    const missing = await b.call('POST', `/open/v1/orders/ord_01J0000000000000000000000Z/reveal-link`);
    expect(missing.statusCode).toBe(404);
    expect(theirs.json().error.code).toBe(missing.json().error.code);
    expect((await a.call('POST', `/open/v1/orders/${order.id}/reveal-link`, { ttl_minutes: 100_000 })).statusCode).toBe(400);

    // An unpaid order has nothing to show.
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 1);
    const unpaid = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: a.agent.id }, skuId: sku, quantity: 1, channel: 'api', payment: 'external', provider: 'sandbox', apiKeyOwner: `agent:${a.agent.id}` }, tx));
    expect((await a.call('POST', `/open/v1/orders/${unpaid.id}/reveal-link`)).statusCode).toBe(409);
  });

  it('support staff can issue a link (audited); read-only staff cannot', async () => {
    const { agent } = await agentWithKey();
    const order = await deliveredOrder(agent.id, { quantity: 1 });
    const support = await t.loginAs('support');
    const readonly = await t.loginAs('readonly');
    expect((await t.inject({ method: 'POST', url: `/admin/orders/${order.id}/reveal-link`, headers: bearer(readonly.token) })).statusCode).toBe(403);
    const res = await t.inject({ method: 'POST', url: `/admin/orders/${order.id}/reveal-link`, headers: bearer(support.token), payload: { ttl_minutes: 30 } });
    expect(res.statusCode).toBe(201);
    tokenOf(res.json().url);
    expect(new Date(res.json().expires_at).getTime()).toBe(clock.now().getTime() + 30 * MINUTE);
    const entry = (await t.services.audit.list({ limit: 10, action: 'order.reveal_link.issue', actorId: support.userId })).data[0]!;
    expect(entry).toMatchObject({ actor_type: 'staff', target_type: 'order', target_id: order.id, details: { token_id: expect.stringMatching(/^rvt_/) } });
  });

  it('the page escapes what it shows: a secret with <script> is text, not markup', async () => {
    const { agent, call } = await agentWithKey();
    const evil = `<script>alert(${randomBytes(3).toString('hex')})</script>`;
    const order = await deliveredOrder(agent.id, { quantity: 1, secrets: [evil] });
    const token = tokenOf((await call('POST', `/open/v1/orders/${order.id}/reveal-link`)).json().url);
    const res = await press(token, freshIp());
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(evil);
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain(evil.replace(/</g, '&#60;').replace(/>/g, '&#62;'));
  });

  it('failed attempts from one address are limited', async () => {
    const ip = freshIp();
    for (let i = 0; i < 20; i++) expect((await open(randomBytes(32).toString('base64url'), ip, json)).statusCode).toBe(404);
    const blocked = await open(randomBytes(32).toString('base64url'), ip, json);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    expect((await open(randomBytes(32).toString('base64url'), freshIp(), json)).statusCode).toBe(404);
  });

  it('no clear token in the database or the logs; only its hash is stored', async () => {
    expect(issuedTokens.length).toBeGreaterThanOrEqual(6);
    const rows = (await t.platform.database.executeSql<{ row: string }>('select row_to_json(r)::text as row from reveal_tokens r')).rows.map((r) => r.row);
    const audit = (await t.platform.database.executeSql<{ row: string }>('select row_to_json(a)::text as row from audit_log a')).rows.map((r) => r.row);
    expect(rows.length).toBeGreaterThanOrEqual(issuedTokens.length);
    const logs = logLines.join('\n');
    for (const token of issuedTokens) {
      for (const text of [...rows, ...audit, logs]) expect(text).not.toContain(token);
    }
    expect(rows.every((r) => /"token_hash":"[0-9a-f]{64}"/.test(r))).toBe(true);
    // The request log still shows which route was hit.
    expect(logs).toContain('/r/:token');
  });
});
