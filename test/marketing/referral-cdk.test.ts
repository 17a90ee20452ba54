import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { accounts } from '../../src/modules/ledger/accounts.js';

// Noon in China, so a day's cap resets at a known distance.
const clock = new ManualClock(new Date('2026-06-01T04:00:00Z'));
const DAY = 86_400_000;
let t: TestApp;
let owner: string;
let ops: string;
let partner: { id: string; secret: string };
let seq = 0;

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = (await t.loginAs('owner')).token;
  ops = (await t.loginAs('operations')).token;
  partner = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'referral-partner', name: 'rfc' } })).json();
}, 60_000);
afterAll(() => t?.close());

async function agentWithKey(opts: { customerId?: string } = {}) {
  const agent = await t.services.agents.create({ name: `Leader ${++seq}`, role: 'group_leader', customerId: opts.customerId });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  const get = (url: string) => t.inject({ method: 'GET', url, headers: signedHeaders(key.id, key.secret, 'GET', url, '', clock.now()) });
  return { agent, get };
}

function redeem(code: string, customer: string, opts: { idem?: string; device?: string } = {}) {
  const url = '/open/v1/referral-cdks/redeem';
  const raw = JSON.stringify({ code, customer: { provider: 'partner', external_id: customer } });
  return t.inject({
    method: 'POST',
    url,
    payload: raw,
    remoteAddress: `203.0.113.${++seq % 250}`,
    headers: { 'content-type': 'application/json', 'idempotency-key': opts.idem ?? `rfc-key-${++seq}`, ...(opts.device ? { 'x-device-id': opts.device } : {}), ...signedHeaders(partner.id, partner.secret, 'POST', url, raw, clock.now()) },
  });
}

const customerOf = async (external: string) => (await t.services.customers.resolve({ identity: { provider: 'partner', externalId: external } })).customerId;
const promo = async (customer: string) => t.services.ledger.balance(accounts.customerPromo(await customerOf(customer)).id);
const agentBalance = (agentId: string) => t.services.ledger.balance(accounts.agentBalance(agentId).id);
const count = async (sql: string, params: unknown[]) => Number((await t.platform.database.executeSql<{ n: number }>(sql, params)).rows[0]!.n);

async function setProgram(body: Record<string, unknown>) {
  const res = await t.inject({ method: 'PUT', url: '/admin/marketing/referral-cdk-program', headers: bearer(ops), payload: { rewards: { new_customer: { promo_fen: 500 }, referrer: { promo_fen: 300 } }, per_referrer_daily_cap: 2, per_referrer_total_cap: 3, enabled: true, ...body } });
  expect(res.statusCode).toBe(200);
  return res.json();
}

describe('referral codes', () => {
  it('an agent gets one personal code with a link, a QR code and a poster', async () => {
    const { get } = await agentWithKey();
    const first = await get('/open/v1/agent/referral-cdk');
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(body.id).toMatch(/^rfc_/);
    expect(body.code).toMatch(/^[23456789A-HJKMNP-Z]{8}$/);
    expect(body.link).toContain(`/invite/${body.code}`);
    expect(body.qr_png).toMatch(/^data:image\/png;base64,/);
    expect((await get('/open/v1/agent/referral-cdk')).json().code).toBe(body.code);
    const poster = await get('/open/v1/agent/referral-cdk/poster.svg');
    expect(poster.headers['content-type']).toContain('image/svg+xml');
    expect(poster.body).toContain(body.code);
  });

  it('binds a new customer to the agent and rewards both sides once; replayable; once per customer', async () => {
    await setProgram({});
    const { agent, get } = await agentWithKey();
    const { code } = (await get('/open/v1/agent/referral-cdk')).json();
    const idem = `rfc-first-${seq}`;
    const res = await redeem(code.toLowerCase(), 'newbie-1', { idem });
    expect(res.statusCode).toBe(201);
    expect(res.json().redemption).toMatchObject({ reward_status: 'rewarded', bound_agent_id: agent.id, referrer_id: agent.id });
    const customer = await customerOf('newbie-1');
    expect((await t.services.agents.bindingOf(customer))?.agent_id).toBe(agent.id);
    expect(await promo('newbie-1')).toBe(500);
    expect(await agentBalance(agent.id)).toBe(300);
    const replay = await redeem(code, 'newbie-1', { idem });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().redemption.id).toBe(res.json().redemption.id);
    expect((await redeem(code, 'newbie-1')).statusCode).toBe(409);
    expect(await promo('newbie-1')).toBe(500);
    expect(await agentBalance(agent.id)).toBe(300);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('caps: per referrer per China day and in total; over the cap the customer is still bound, nobody is rewarded', async () => {
    await setProgram({ per_referrer_daily_cap: 2, per_referrer_total_cap: 3 });
    const { agent, get } = await agentWithKey();
    const { code } = (await get('/open/v1/agent/referral-cdk')).json();
    const statuses: string[] = [];
    for (const c of ['cap-a', 'cap-b', 'cap-c']) statuses.push((await redeem(code, c)).json().redemption.reward_status);
    expect(statuses).toEqual(['rewarded', 'rewarded', 'capped']);
    expect((await t.services.agents.bindingOf(await customerOf('cap-c')))?.agent_id).toBe(agent.id);
    expect(await promo('cap-c')).toBe(0);
    clock.advance(DAY);
    expect((await redeem(code, 'cap-d')).json().redemption.reward_status).toBe('rewarded');
    expect((await redeem(code, 'cap-e')).json().redemption.reward_status).toBe('capped');
    expect(await agentBalance(agent.id)).toBe(3 * 300);
    expect(await count(`select count(*)::int as n from referral_cdk_redemptions where referrer_id = $1 and reward_status = 'rewarded'`, [agent.id])).toBe(3);
  });

  it('parallel redemptions of one referrer never pass its cap', async () => {
    await setProgram({ per_referrer_daily_cap: 3, per_referrer_total_cap: 100 });
    const { agent, get } = await agentWithKey();
    const { code } = (await get('/open/v1/agent/referral-cdk')).json();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => redeem(code, `burst-${agent.id}-${i}`)));
    expect(results.every((r) => r.statusCode === 201)).toBe(true);
    expect(results.filter((r) => r.json().redemption.reward_status === 'rewarded')).toHaveLength(3);
    expect(await agentBalance(agent.id)).toBe(3 * 300);
  }, 60_000);

  it('only new customers earn: one already bound or with orders is bound by the rules but not rewarded', async () => {
    await setProgram({ per_referrer_daily_cap: 100, per_referrer_total_cap: 100 });
    const { agent, get } = await agentWithKey();
    const other = await agentWithKey();
    const { code } = (await get('/open/v1/agent/referral-cdk')).json();
    const veteran = await customerOf('veteran-1');
    await t.services.agents.bindCustomer(veteran, (await t.services.agents.get(other.agent.id)).referral_code, 'test');
    const res = await redeem(code, 'veteran-1');
    expect(res.json().redemption).toMatchObject({ reward_status: 'not_new', bound_agent_id: other.agent.id });
    expect(await promo('veteran-1')).toBe(0);

    // A customer who has bought before, never bound: bound now, but not new.
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 1);
    const buyer = await customerOf('buyer-1');
    await t.services.orders.creditBalance({ type: 'customer', id: buyer }, 1_000, 'top-up 1', { id: 'stf_test' });
    await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: buyer }, skuId: sku, quantity: 1, channel: 'api', payment: 'balance' }, tx));
    const bought = await redeem(code, 'buyer-1');
    expect(bought.json().redemption).toMatchObject({ reward_status: 'not_new', bound_agent_id: agent.id });
    expect(await promo('buyer-1')).toBe(0);
    expect(await agentBalance(agent.id)).toBe(0);
  });

  it('self-referral is refused: the agent\'s own account, the same phone, the same device', async () => {
    await setProgram({ per_referrer_daily_cap: 100, per_referrer_total_cap: 100 });
    const own = await customerOf('agent-self');
    await t.services.customers.setPhone(own, '13800138000');
    const { agent, get } = await agentWithKey({ customerId: own });
    const { code } = (await get('/open/v1/agent/referral-cdk')).json();

    const self = await redeem(code, 'agent-self');
    expect(self.statusCode).toBe(422);
    expect(self.json().error.details[0].signals).toContain('own_account');

    await t.services.customers.setPhone(await customerOf('alt-phone'), '13800138000');
    const phone = await redeem(code, 'alt-phone');
    expect(phone.statusCode).toBe(422);
    expect(phone.json().error.details[0].signals).toEqual(['phone']);

    // A device the agent used (the risk gate links devices to the accounts it sees).
    await t.services.risk.assess({ action: 'login', ip: '192.0.2.7', deviceId: 'dev-agent-phone', account: { type: 'agent', id: agent.id } });
    await t.services.risk.flush();
    const device = await redeem(code, 'alt-device', { device: 'dev-agent-phone' });
    expect(device.statusCode).toBe(422);
    expect(device.json().error.details[0].signals).toEqual(['device']);

    expect(await count('select count(*)::int as n from referral_cdk_redemptions where referrer_id = $1', [agent.id])).toBe(0);
    expect(await t.services.agents.bindingOf(await customerOf('alt-device'))).toBeNull();
    expect(await agentBalance(agent.id)).toBe(0);
    expect((await redeem(code, 'honest-friend', { device: 'dev-friend' })).json().redemption.reward_status).toBe('rewarded');
  });

  it('a customer referrer earns points; the new customer gets a coupon; staff issue, list and void codes', async () => {
    const template = await t.services.coupons.createTemplate({ name: 'Welcome ¥5', kind: 'fixed', amountOffFen: 500, perUserLimit: 1, validDays: 30 }, { id: 'stf_test' });
    await setProgram({ rewards: { new_customer: { coupon_template_id: template.id }, referrer: { points: 200 } }, per_referrer_daily_cap: 10, per_referrer_total_cap: 10 });
    const referrer = await customerOf('loyal-referrer');
    const issued = await t.inject({ method: 'POST', url: '/admin/marketing/referral-cdks', headers: bearer(ops), payload: { owner_type: 'customer', owner_id: referrer } });
    expect(issued.statusCode).toBe(200);
    const res = await redeem(issued.json().code, 'friend-of-loyal');
    expect(res.json().redemption).toMatchObject({ reward_status: 'rewarded', referrer_reward: { points: 200 }, bound_agent_id: null });
    expect(res.json().redemption.new_customer_reward.coupon_id).toMatch(/^ucp_/);
    expect((await t.services.points.balance(referrer)).points).toBe(200);

    const list = await t.inject({ method: 'GET', url: `/admin/marketing/referral-cdks?owner_id=${referrer}`, headers: bearer(ops) });
    expect(list.json().data).toHaveLength(1);
    const voided = await t.inject({ method: 'POST', url: `/admin/marketing/referral-cdks/${issued.json().id}/void`, headers: bearer(ops), payload: { reason: 'abuse' } });
    expect(voided.json().status).toBe('voided');
    expect((await redeem(issued.json().code, 'late-friend')).statusCode).toBe(404);
  });
});
