import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { AgentView } from '../../src/modules/agents/service.js';

/**
 * Agents joining through an invitation link (apply, upline or staff decides,
 * the self-referral check), customers bound to agents by the first/last-touch
 * rules with expiry, and a bound customer's order attributed to its agent
 * with commissions following.
 */
const DAY = 86_400_000;
const clock = new ManualClock('2026-06-01T02:00:00Z');
type Key = { id: string; secret: string };
let t: TestApp;
let owner: string;
let finance: string;
let root: AgentView;
let rootKey: Key;
let partnerKey: Key;
let ipSeq = 0;
/** A fresh address per test scenario, so the per-IP limit and the IP signal stay where a test puts them. */
const nextIp = () => `203.0.113.${++ipSeq}`;

const issueKey = async (app: TestApp, token: string, ownerType: 'agent' | 'partner', ownerId: string): Promise<Key> => {
  const res = await app.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(token), payload: { owner_type: ownerType, owner_id: ownerId, name: 'join test' } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Key;
};
const signedOn = (app: TestApp, key: Key, method: 'GET' | 'POST' | 'PUT', url: string, body?: object, idem?: string) => {
  const raw = body ? JSON.stringify(body) : '';
  return app.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
};
const signed = (key: Key, method: 'GET' | 'POST' | 'PUT', url: string, body?: object, idem?: string) => signedOn(t, key, method, url, body, idem);
const applyOn = (app: TestApp, body: object, opts: { ip?: string; device?: string; idem?: string } = {}) =>
  app.inject({ method: 'POST', url: '/join', payload: body, remoteAddress: opts.ip ?? nextIp(), headers: { ...(opts.device ? { 'x-device-id': opts.device } : {}), ...(opts.idem ? { 'idempotency-key': opts.idem } : {}) } });
const apply = (body: object, opts: { ip?: string; device?: string; idem?: string } = {}) => applyOn(t, body, opts);
const alertsOf = async (app: TestApp, subjectId: string) => (await app.services.alerts.list({ limit: 100, kind: 'agent.self_referral' })).data.filter((a) => a.subject_id === subjectId);

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  // The upline's own customer account has a phone: an applicant with the same phone is a self-referral.
  const me = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'root-owner' } });
  await t.services.customers.setPhone(me.customerId, '13800000001');
  root = await t.services.agents.create({ name: 'Root distributor', role: 'distributor', customerId: me.customerId });
  rootKey = await issueKey(t, owner, 'agent', root.id);
  partnerKey = await issueKey(t, owner, 'partner', 'partner-shop');
});
afterAll(() => t?.close());

describe('the invitation page', () => {
  it('shows who invites, escaped, with a form posting to /join', async () => {
    const hostile = await t.services.agents.create({ name: '<script>alert("x")</script>&\'Bob', role: 'distributor' });
    const res = await t.inject({ method: 'GET', url: `/join/${hostile.referral_code}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;Bob');
    expect(res.body).toContain('<form method="post" action="/join">');
    expect(res.body).toContain(`value="${hostile.referral_code}"`);
    // Lower case works too: codes are typed in by hand.
    expect((await t.inject({ method: 'GET', url: `/join/${hostile.referral_code.toLowerCase()}` })).statusCode).toBe(200);
  });

  it('answers 404 for an unknown code and for a frozen upline', async () => {
    const unknown = await t.inject({ method: 'GET', url: '/join/NOSUCHCODE' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('text/html');
    const frozen = await t.services.agents.create({ name: 'Frozen one', role: 'distributor' });
    await t.services.agents.freeze(frozen.id, 'test freeze', { id: 'usr_test' });
    const res = await t.inject({ method: 'GET', url: `/join/${frozen.referral_code}` });
    expect(res.statusCode).toBe(404);
    expect(res.body).not.toContain('Frozen one');
  });

  it('the form post gets a page back and makes an application', async () => {
    const up = await t.services.agents.create({ name: 'Form upline', role: 'distributor' });
    const res = await t.inject({ method: 'POST', url: '/join', remoteAddress: nextIp(), headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ referral_code: up.referral_code, name: '表单 用户', phone: '139 0000 0042' }).toString() });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('申请已提交');
    const list = (await t.services.agentJoin.listForUpline(up.id, { limit: 10 })).data;
    expect(list.map((a) => [a.name, a.phone, a.status])).toEqual([['表单 用户', '139****0042', 'pending']]);
  });
});

describe('join applications', () => {
  it('join -> the upline approves through its signed API -> a new agent under it, one level down (audited)', async () => {
    const ip = nextIp();
    const res = await apply({ referral_code: root.referral_code, name: 'Alice', phone: '13912345678', identity: { provider: 'telegram', external_id: 'alice-tg' } }, { ip, device: 'alice-phone' });
    expect(res.statusCode, res.body).toBe(201);
    const app = res.json();
    expect(app).toMatchObject({ upline_id: root.id, name: 'Alice', phone: '139****5678', status: 'pending', agent_id: null, self_referral: false });
    expect(res.body).not.toContain('13912345678');

    const listed = await signed(rootKey, 'GET', '/open/v1/agent/applications?status=pending');
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().data.map((a: { id: string }) => a.id)).toContain(app.id);
    expect(listed.json().data[0]).not.toHaveProperty('ip');

    const approved = await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {});
    expect(approved.statusCode, approved.body).toBe(200);
    const { agent, application } = approved.json();
    expect(agent).toMatchObject({ name: 'Alice', parent_id: root.id, depth: root.depth + 1, role: 'sub_agent', status: 'active' });
    expect(application).toMatchObject({ id: app.id, status: 'approved', agent_id: agent.id, decided_by: `agent:${root.id}` });
    // The applicant's chat identity became the new agent's customer account.
    const tree = await t.services.agents.list({ limit: 100, underAgentId: root.id });
    expect(tree.data.map((a) => a.id)).toContain(agent.id);

    const audit = await t.services.audit.list({ limit: 20, action: 'agent.application.approve' });
    expect(audit.data.find((e) => e.target_id === app.id)).toMatchObject({ actor_type: 'agent', actor_id: root.id });

    // Decided once: a second approval is a conflict.
    expect((await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {})).statusCode).toBe(409);
    // Staff see where it came from.
    const staffList = await t.inject({ method: 'GET', url: `/admin/agents/applications?upline_id=${root.id}`, headers: bearer(owner) });
    expect(staffList.statusCode, staffList.body).toBe(200);
    expect(staffList.json().data.find((a: { id: string }) => a.id === app.id)).toMatchObject({ ip, device_id: 'alice-phone', status: 'approved' });
  });

  it('another agent cannot see or decide an application (404); a partner key is refused (403)', async () => {
    const other = await t.services.agents.create({ name: 'Other', role: 'distributor' });
    const otherKey = await issueKey(t, owner, 'agent', other.id);
    const app = (await apply({ referral_code: root.referral_code, name: 'Nosy', phone: '13700000011' })).json();
    expect((await signed(otherKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {})).statusCode).toBe(404);
    expect((await signed(otherKey, 'POST', `/open/v1/agent/applications/${app.id}/reject`, { reason: 'not mine' })).statusCode).toBe(404);
    expect((await signed(otherKey, 'GET', '/open/v1/agent/applications')).json().data).toEqual([]);
    expect((await signed(partnerKey, 'GET', '/open/v1/agent/applications')).statusCode).toBe(403);
    expect((await t.services.agentJoin.get(app.id)).status).toBe('pending');
  });

  it('reject with a reason; the reason is kept and audited', async () => {
    const app = (await apply({ referral_code: root.referral_code, name: 'Bob', phone: '13700000001' })).json();
    const noReason = await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/reject`, { reason: '' });
    expect(noReason.statusCode).toBe(400);
    const res = await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/reject`, { reason: 'not in our region' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'rejected', reason: 'not in our region', agent_id: null });
    const audit = await t.services.audit.list({ limit: 20, action: 'agent.application.reject' });
    expect(audit.data.find((e) => e.target_id === app.id)?.details).toMatchObject({ reason: 'not in our region' });
    expect((await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {})).statusCode).toBe(409);
    // Once rejected, the same phone may apply again.
    expect((await apply({ referral_code: root.referral_code, name: 'Bob', phone: '13700000001' })).statusCode).toBe(201);
  });

  it('one pending application per phone and upline (409 on phone); an Idempotency-Key retry answers the same one', async () => {
    const body = { referral_code: root.referral_code, name: 'Carol', phone: '13700000002' };
    const first = await apply(body, { idem: 'join-carol-0001' });
    expect(first.statusCode).toBe(201);
    const retry = await apply(body, { idem: 'join-carol-0001' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json().id).toBe(first.json().id);
    const dup = await apply({ ...body, phone: '137-0000-0002' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.details).toEqual([{ field: 'phone', message: 'application already pending' }]);
    // Under another upline it is a separate application.
    const up2 = await t.services.agents.create({ name: 'Second upline', role: 'distributor' });
    expect((await apply({ ...body, referral_code: up2.referral_code })).statusCode).toBe(201);
  });

  it('refuses a bad phone, a blank name and an unknown code, naming the field', async () => {
    const bad = await apply({ referral_code: root.referral_code, name: 'Dave', phone: 'call me maybe' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('phone');
    const blank = await apply({ referral_code: root.referral_code, name: '   ', phone: '13700000003' });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().error.details[0].field).toBe('name');
    const unknown = await apply({ referral_code: 'NOSUCHCODE', name: 'Dave', phone: '13700000003' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.details[0].field).toBe('referral_code');
    const extra = await apply({ referral_code: root.referral_code, name: 'Dave', phone: '13700000003', role: 'distributor' });
    expect(extra.statusCode).toBe(400);
  });

  it('limits applications per IP (429)', async () => {
    const ip = nextIp();
    for (let i = 0; i < 10; i++) expect((await apply({ referral_code: root.referral_code, name: 'Spam', phone: 'x' }, { ip })).statusCode).toBe(400);
    const limited = await apply({ referral_code: root.referral_code, name: 'Spam', phone: '13700000099' }, { ip });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
  });

  it('a frozen upline takes no applications (404) and cannot approve (403), through its API or staff', async () => {
    const up = await t.services.agents.create({ name: 'Soon frozen', role: 'distributor' });
    const upKey = await issueKey(t, owner, 'agent', up.id);
    const app = (await apply({ referral_code: up.referral_code, name: 'Erin', phone: '13700000004' })).json();
    await t.services.agents.freeze(up.id, 'suspicious volume', { id: 'usr_test' });
    const late = await apply({ referral_code: up.referral_code, name: 'Frank', phone: '13700000005' });
    expect(late.statusCode).toBe(404);
    const byAgent = await signed(upKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {});
    expect(byAgent.statusCode).toBe(403);
    expect(byAgent.json().error.details).toMatchObject({ code: 'AGENT_NOT_ACTIVE' });
    const byStaff = await t.inject({ method: 'POST', url: `/admin/agents/applications/${app.id}/approve`, headers: bearer(owner), payload: {} });
    expect(byStaff.statusCode).toBe(403);
    expect((await t.services.agentJoin.get(app.id)).status).toBe('pending');
    expect((await t.services.agents.list({ limit: 10, underAgentId: up.id })).data).toEqual([]);
  });

  it('staff approve and reject with agents:manage; read-only roles cannot', async () => {
    const a = (await apply({ referral_code: root.referral_code, name: 'Gina', phone: '13700000006' })).json();
    const b = (await apply({ referral_code: root.referral_code, name: 'Hank', phone: '13700000007' })).json();
    const support = (await t.loginAs('support')).token;
    expect((await t.inject({ method: 'POST', url: `/admin/agents/applications/${a.id}/approve`, headers: bearer(support), payload: {} })).statusCode).toBe(403);
    const ok = await t.inject({ method: 'POST', url: `/admin/agents/applications/${a.id}/approve`, headers: bearer(owner), payload: { role: 'group_leader' } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().agent).toMatchObject({ parent_id: root.id, depth: 2, role: 'group_leader' });
    expect(ok.json().application.decided_by).toMatch(/^staff:/);
    const no = await t.inject({ method: 'POST', url: `/admin/agents/applications/${b.id}/reject`, headers: bearer(owner), payload: { reason: 'duplicate person' } });
    expect(no.statusCode).toBe(200);
    expect(no.json()).toMatchObject({ status: 'rejected', reason: 'duplicate person' });
  });
});

describe('self-referral', () => {
  it("an applicant with the upline's own phone is flagged and raises an alert (without the phone); approval still works", async () => {
    const res = await apply({ referral_code: root.referral_code, name: 'Me again', phone: '138 0000 0001' });
    expect(res.statusCode).toBe(201);
    const app = res.json();
    expect(app.self_referral).toBe(true);
    expect(app.flags.self_referral).toEqual({ signals: ['phone'], stage: 'application' });
    const [alert] = await alertsOf(t, app.id);
    expect(alert).toMatchObject({ kind: 'agent.self_referral', subject_type: 'agent_application', severity: 'warning' });
    expect(alert!.details).toMatchObject({ upline_id: root.id, signals: ['phone'] });
    expect(JSON.stringify(alert)).not.toContain('13800000001');
    // The upline sees the flag in its list, and may still approve.
    const listed = (await signed(rootKey, 'GET', '/open/v1/agent/applications')).json().data.find((a: { id: string }) => a.id === app.id);
    expect(listed.self_referral).toBe(true);
    const approved = await signed(rootKey, 'POST', `/open/v1/agent/applications/${app.id}/approve`, {});
    expect(approved.statusCode).toBe(200);
    expect(approved.json().application.self_referral).toBe(true);
  });

  it("an applicant on the device the upline joined with is flagged (device, not IP)", async () => {
    // The upline itself joined through an application, from device "dev-shared".
    const joined = (await apply({ referral_code: root.referral_code, name: 'Mid', phone: '13600000001' }, { device: 'dev-shared' })).json();
    const mid = (await signed(rootKey, 'POST', `/open/v1/agent/applications/${joined.id}/approve`, {})).json().agent as AgentView;
    const clean = (await apply({ referral_code: mid.referral_code, name: 'Stranger', phone: '13600000002' }, { device: 'dev-other' })).json();
    expect(clean.self_referral).toBe(false);
    expect(await alertsOf(t, clean.id)).toEqual([]);
    const same = (await apply({ referral_code: mid.referral_code, name: 'Sock puppet', phone: '13600000003' }, { device: 'dev-shared' })).json();
    expect(same.flags.self_referral).toEqual({ signals: ['device'], stage: 'application' });
    const [alert] = await alertsOf(t, same.id);
    expect(alert!.details).toMatchObject({ upline_id: mid.id, signals: ['device'] });
    // Same IP as the upline's own application counts too.
    const ip = nextIp();
    const up2 = (await apply({ referral_code: root.referral_code, name: 'Mid two', phone: '13600000004' }, { ip })).json();
    const mid2 = (await signed(rootKey, 'POST', `/open/v1/agent/applications/${up2.id}/approve`, {})).json().agent as AgentView;
    const viaIp = (await apply({ referral_code: mid2.referral_code, name: 'Cousin', phone: '13600000005' }, { ip })).json();
    expect(viaIp.flags.self_referral.signals).toEqual(['ip']);
    // An upline approving from the applicant's address: flagged at approval.
    const here = nextIp();
    const late = (await apply({ referral_code: root.referral_code, name: 'Late', phone: '13600000006' }, { ip: here })).json();
    expect(late.self_referral).toBe(false);
    const url = `/open/v1/agent/applications/${late.id}/approve`;
    const approved = await t.inject({ method: 'POST', url, remoteAddress: here, payload: '{}', headers: { 'content-type': 'application/json', ...signedHeaders(rootKey.id, rootKey.secret, 'POST', url, '{}', clock.now()) } });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().application.flags.self_referral).toEqual({ signals: ['ip'], stage: 'approval' });
    expect((await alertsOf(t, late.id))[0]!.details).toMatchObject({ stage: 'approval', signals: ['ip'] });
  });
});

describe('customer bindings (first touch, 30 days)', () => {
  let a: AgentView;
  let b: AgentView;
  const bind = (external: string, code: string, key: Key = partnerKey) => signed(key, 'POST', '/open/v1/bindings', { customer: { provider: 'wechat_openid', external_id: external }, referral_code: code, source: 'link' });

  beforeAll(async () => {
    a = await t.services.agents.create({ name: 'Agent A', role: 'distributor' });
    b = await t.services.agents.create({ name: 'Agent B', role: 'distributor' });
  });

  it('the first agent keeps the customer; after expiry the next touch rebinds', async () => {
    const first = await bind('cust-1', a.referral_code);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ agent_id: a.id, bound: true, reason: 'new' });
    expect(Date.parse(first.json().expires_at) - clock.now().getTime()).toBe(30 * DAY);
    const customerId = first.json().customer_id as string;

    const second = await bind('cust-1', b.referral_code);
    expect(second.json()).toMatchObject({ agent_id: a.id, bound: false, reason: 'kept_first_touch' });
    const again = await bind('cust-1', a.referral_code);
    expect(again.json()).toMatchObject({ agent_id: a.id, bound: false, reason: 'already_bound' });
    expect(await t.services.agents.boundAgentOf(customerId)).toBe(a.id);

    clock.advance(30 * DAY + 1000);
    // Staff sessions last at most 30 days: log in again on the new day.
    owner = (await t.loginAs('owner')).token;
    finance = (await t.loginAs('finance')).token;
    expect(await t.services.agents.boundAgentOf(customerId)).toBeNull();
    const view = await t.inject({ method: 'GET', url: `/admin/customers/${customerId}/binding`, headers: bearer(owner) });
    expect(view.json().binding).toMatchObject({ agent_id: a.id, active: false });
    const later = await bind('cust-1', b.referral_code);
    expect(later.json()).toMatchObject({ agent_id: b.id, bound: true, reason: 'rebound_expired' });
    expect(await t.services.agents.boundAgentOf(customerId)).toBe(b.id);
    const after = await t.inject({ method: 'GET', url: `/admin/customers/${customerId}/binding`, headers: bearer(owner) });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({ customer_id: customerId, binding: { agent_id: b.id, agent_name: 'Agent B', source: 'link', active: true } });
  });

  it("a frozen agent's binding does not count, and the next touch rebinds", async () => {
    const c = await t.services.agents.create({ name: 'Agent C', role: 'distributor' });
    const first = (await bind('cust-2', c.referral_code)).json();
    await t.services.agents.freeze(c.id, 'test', { id: 'usr_test' });
    expect(await t.services.agents.boundAgentOf(first.customer_id)).toBeNull();
    expect((await bind('cust-2', c.referral_code)).statusCode).toBe(422);
    expect((await bind('cust-2', a.referral_code)).json()).toMatchObject({ agent_id: a.id, bound: true, reason: 'rebound_agent_frozen' });
  });

  it('refuses unknown codes, and agent keys binding to somebody else', async () => {
    const unknown = await bind('cust-3', 'NOSUCHCODE');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.details[0].field).toBe('referral_code');
    const aKey = await issueKey(t, owner, 'agent', a.id);
    const foreign = await bind('cust-3', b.referral_code, aKey);
    expect(foreign.statusCode).toBe(403);
    expect((await bind('cust-3', a.referral_code, aKey)).json()).toMatchObject({ agent_id: a.id, bound: true });
    // No binding yet: null; an unknown customer: 404.
    const fresh = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'never-bound' } });
    expect((await t.inject({ method: 'GET', url: `/admin/customers/${fresh.customerId}/binding`, headers: bearer(owner) })).json()).toEqual({ customer_id: fresh.customerId, binding: null });
    expect((await t.inject({ method: 'GET', url: '/admin/customers/cus_00000000000000000000000000/binding', headers: bearer(owner) })).statusCode).toBe(404);
  });

  it("a bound customer's order through the partner API is attributed to its agent, and commissions accrue to it", async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
    await stockCodes(t, sku, 4);
    const skuRow = await t.services.catalog.getSku(sku);
    const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '5%', scope_type: 'product', scope_value: skuRow.productId, levels: [{ kind: 'percent_of_price', bps: 500 }] } });
    expect(rule.statusCode, rule.body).toBe(201);

    const bound = (await bind('buyer-1', a.referral_code)).json();
    for (const c of [bound.customer_id, (await t.services.customers.resolve({ identity: { provider: 'wechat_openid', externalId: 'buyer-unbound' } })).customerId]) {
      const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: c, amount_fen: 50_000, reference: 'top-up test' } });
      expect(credit.statusCode, credit.body).toBe(200);
    }
    const pendingBefore = await t.services.ledger.balance(accounts.commissionPending(a.id).id);
    const order = await signed(partnerKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: { provider: 'wechat_openid', external_id: 'buyer-1' } }, 'bound-order-1');
    expect(order.statusCode, order.body).toBe(201);
    expect(order.json().order).toMatchObject({ buyer_type: 'customer', buyer_id: bound.customer_id, agent_id: a.id, status: 'delivered' });
    const unbound = await signed(partnerKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: { provider: 'wechat_openid', external_id: 'buyer-unbound' } }, 'unbound-order-1');
    expect(unbound.statusCode, unbound.body).toBe(201);
    expect(unbound.json().order.agent_id).toBeNull();

    expect(await t.services.commissions.accrueDelivered()).toBeGreaterThanOrEqual(1);
    expect(await t.services.ledger.balance(accounts.commissionPending(a.id).id)).toBe(pendingBefore + 500);
  });

  it("a customer buying through an agent pays the agent's resale price, never below the SKU's current minimum", async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
    await stockCodes(t, sku, 3);
    const seller = await t.services.agents.create({ name: 'Pricing agent', role: 'distributor' });
    const sellerKey = await issueKey(t, owner, 'agent', seller.id);
    const price = await signed(sellerKey, 'PUT', `/open/v1/agent/prices/${sku}`, { price_fen: 9_500 });
    expect(price.statusCode, price.body).toBe(200);
    const bound = (await bind('price-buyer', seller.referral_code)).json();
    const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: bound.customer_id, amount_fen: 50_000, reference: 'top-up test' } });
    expect(credit.statusCode, credit.body).toBe(200);
    const buy = (idem: string) => signed(partnerKey, 'POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: { provider: 'wechat_openid', external_id: 'price-buyer' } }, idem);
    const first = await buy('resale-1');
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json().order).toMatchObject({ agent_id: seller.id, unit_price_fen: 9_500, amount_fen: 9_500 });
    // The brand raises the floor above the agent's price: the floor is charged until the agent follows.
    const floor = await t.inject({ method: 'PATCH', url: `/admin/skus/${sku}`, headers: bearer(owner), payload: { min_resale_price_fen: 9_800 } });
    expect(floor.statusCode, floor.body).toBe(200);
    const second = await buy('resale-2');
    expect(second.statusCode, second.body).toBe(201);
    expect(second.json().order).toMatchObject({ unit_price_fen: 9_800, amount_fen: 9_800 });
    expect(await t.services.ledger.balance(accounts.customerBalance(bound.customer_id).id)).toBe(50_000 - 9_500 - 9_800);
  });
});

describe('last touch, bindings that never expire, auto-approval', () => {
  let t2: TestApp;
  let owner2: string;
  let partner2: Key;
  beforeAll(async () => {
    t2 = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', REFERRAL_BINDING_MODE: 'last_touch', REFERRAL_BINDING_DAYS: '0', AGENT_JOIN_AUTO_APPROVE: 'true' } });
    owner2 = (await t2.loginAs('owner')).token;
    partner2 = await issueKey(t2, owner2, 'partner', 'partner-two');
  });
  afterAll(() => t2?.close());

  it('every touch rebinds; without expiry', async () => {
    const a = await t2.services.agents.create({ name: 'A', role: 'distributor' });
    const b = await t2.services.agents.create({ name: 'B', role: 'distributor' });
    const bind = (code: string) => signedOn(t2, partner2, 'POST', '/open/v1/bindings', { customer: { provider: 'telegram', external_id: 'lt-1' }, referral_code: code });
    expect((await bind(a.referral_code)).json()).toMatchObject({ agent_id: a.id, bound: true, reason: 'new', expires_at: null });
    expect((await bind(b.referral_code)).json()).toMatchObject({ agent_id: b.id, bound: true, reason: 'rebound_last_touch', expires_at: null });
    expect((await bind(b.referral_code)).json()).toMatchObject({ agent_id: b.id, bound: true, reason: 'renewed' });
    clock.advance(400 * DAY);
    const customerId = (await bind(b.referral_code)).json().customer_id;
    expect(await t2.services.agents.boundAgentOf(customerId)).toBe(b.id);
  });

  it('AGENT_JOIN_AUTO_APPROVE approves at once (audited as system)', async () => {
    const up = await t2.services.agents.create({ name: 'Auto upline', role: 'distributor' });
    const res = await applyOn(t2, { referral_code: up.referral_code, name: 'Quick', phone: '13500000001' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: 'approved', decided_by: 'system' });
    const child = (await t2.services.agents.list({ limit: 10, underAgentId: up.id })).data;
    expect(child.map((c) => [c.id, c.depth, c.parent_id])).toEqual([[res.json().agent_id, 2, up.id]]);
    const audit = await t2.services.audit.list({ limit: 10, action: 'agent.application.approve' });
    expect(audit.data[0]).toMatchObject({ actor_type: 'system', target_id: res.json().id });
  });
});
