import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { HOUR, ManualClock, SECOND } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { newCustomer, partnerCaller, type Call } from './loyalty-helpers.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let ops: string;
let riskStaff: string;
let call: Call;
beforeAll(async () => {
  // No seeded rules (their velocity limits would challenge twenty sign-ups from one test IP); block lists still apply.
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  const owner = (await t.loginAs('owner')).token;
  ops = (await t.loginAs('operations')).token;
  riskStaff = (await t.loginAs('risk')).token;
  call = await partnerCaller(t, owner, clock);
});
afterAll(() => t.close());

const q = <R>(text: string, values: unknown[] = []) => t.platform.database.executeSql<R>(text, values).then((r) => r.rows);
const identity = () => ({ provider: 'partner' as const, external_id: `f-${randomBytes(5).toString('hex')}` });
const campaign = async (payload: object) => {
  const res = await t.inject({ method: 'POST', url: '/admin/marketing/fission-campaigns', headers: bearer(ops), payload: { name: 'invite friends', hours: 24, ...payload } });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string };
};
const start = (fscId: string, customer: { provider: 'partner'; external_id: string }, device = `sharer-${randomBytes(3).toString('hex')}`, key = `fpk-${randomBytes(6).toString('hex')}`) =>
  call('POST', '/open/v1/fission/packets', { customer, fission_campaign_id: fscId }, { 'idempotency-key': key, 'x-device-id': device });
const open = (packetId: string, friend: { provider: 'partner'; external_id: string }, device = `dev-${randomBytes(4).toString('hex')}`) =>
  call('POST', `/open/v1/fission/${packetId}/open`, { friend }, { 'x-device-id': device });
const customerIdOf = async (i: { provider: 'partner'; external_id: string }) => (await t.services.customers.resolve({ identity: { provider: i.provider, externalId: i.external_id } })).customerId;

describe('fission red packets (裂变红包)', () => {
  it('20 racing opens with K=5: exactly five friends count and the reward is credited once', async () => {
    const c = await campaign({ reward_kind: 'promo', reward_amount: 1_000, friends_needed: 5 });
    const sharer = identity();
    const started = await start(c.id, sharer, 'sharer-device-1', 'fpk-race-key-1');
    expect(started.statusCode).toBe(201);
    const packet = started.json() as { id: string; customer_id: string };
    expect(started.json()).toMatchObject({ status: 'open', friends_needed: 5, opened_count: 0 });
    const results = await Promise.all(Array.from({ length: 20 }, () => open(packet.id, identity())));
    const counted = results.filter((r) => r.statusCode === 200 && r.json().counted);
    expect(counted).toHaveLength(5);
    expect(results.filter((r) => r.statusCode === 409)).toHaveLength(15);
    expect(results.filter((r) => r.statusCode === 200 && r.json().unlocked)).toHaveLength(1);
    const [row] = await q<{ status: string; opened_count: number }>('select status, opened_count from fission_packets where id = $1', [packet.id]);
    expect(row).toEqual({ status: 'unlocked', opened_count: 5 });
    expect(await q('select count(*)::int as n from fission_opens where packet_id = $1', [packet.id])).toEqual([{ n: 5 }]);
    expect(await q("select count(*)::int as n from ledger_transactions where ref_type = 'fission' and ref_id = $1", [packet.id])).toEqual([{ n: 1 }]);
    expect(await t.services.ledger.balance(accounts.customerPromo(packet.customer_id).id)).toBe(1_000);
    // Promotional money only: the cash balance is untouched.
    expect(await t.services.ledger.balance(accounts.customerBalance(packet.customer_id).id)).toBe(0);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
    // The same key replays the start; a second packet with a new key is over the per-customer limit (1).
    const replay = await start(c.id, sharer, 'sharer-device-1', 'fpk-race-key-1');
    expect(replay.statusCode).toBe(200);
    expect(replay.json().id).toBe(packet.id);
    expect((await start(c.id, sharer, 'sharer-device-1', 'fpk-race-key-2')).statusCode).toBe(409);
  });

  it('refuses the sharer, old customers, the sharer\'s device, duplicates and friends the risk gate blocks', async () => {
    const c = await campaign({ reward_kind: 'promo', reward_amount: 500, friends_needed: 3 });
    const old = await newCustomer(t);
    clock.advance(SECOND);
    const sharer = identity();
    const packet = (await start(c.id, sharer, 'sharer-device-2')).json() as { id: string };
    const refused = async (res: Awaited<ReturnType<Call>>, status: number, match: RegExp) => {
      expect(res.statusCode).toBe(status);
      expect(res.json().error.message).toMatch(match);
    };
    await refused(await open(packet.id, sharer), 422, /own red packet/);
    await refused(await open(packet.id, old.identity), 422, /new customers/);
    await refused(await open(packet.id, identity(), 'sharer-device-2'), 422, /device/);
    // The risk gate is asked (action register) with the friend's device: a blocked device is refused and not counted.
    const rule = await t.inject({ method: 'POST', url: '/admin/risk/rules', headers: bearer(riskStaff), payload: { name: 'listed devices do not register', action: 'block', condition: { any: [{ list: 'device' }] }, applies_to: ['register'] } });
    expect(rule.statusCode).toBe(201);
    expect((await t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(riskStaff), payload: { type: 'device', value: 'farm-device-1', reason: 'device farm' } })).statusCode).toBe(201);
    const blockedFriend = identity();
    const blocked = await open(packet.id, blockedFriend, 'farm-device-1');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json().error.code).toBe('RISK_BLOCKED');
    await t.services.risk.flush();
    const decisions = await q<{ n: number }>("select count(*)::int as n from risk_decisions where action = 'register' and device = 'farm-device-1' and decision = 'block'");
    expect(decisions[0]!.n).toBe(1);

    // A friend with the sharer's phone number (another account of the same person) does not count.
    const phone = '13812345678';
    await t.services.customers.setPhone(await customerIdOf(sharer), phone);
    const twin = identity();
    await t.services.customers.setPhone(await customerIdOf(twin), phone);
    await refused(await open(packet.id, twin), 422, /phone/);

    // A friend who already bought is not new, however recent the account.
    const buyer = identity();
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 1);
    await t.services.orders.creditBalance({ type: 'customer', id: await customerIdOf(buyer) }, 1_000, 'bank', { id: 'stf_test' });
    expect((await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: buyer }, { 'idempotency-key': `fis-order-${buyer.external_id}` })).statusCode).toBe(201);
    await refused(await open(packet.id, buyer), 422, /earlier orders/);

    const friend = identity();
    const first = await open(packet.id, friend);
    expect(first.json()).toMatchObject({ counted: true, packet: { opened_count: 1 } });
    const twice = await open(packet.id, friend);
    expect(twice.statusCode).toBe(200);
    expect(twice.json()).toMatchObject({ counted: false, packet: { opened_count: 1 } });
    // The same friend on another sharer's packet of the same campaign counts nowhere else.
    const other = (await start(c.id, identity())).json() as { id: string };
    await refused(await open(other.id, friend), 409, /another red packet/);
    expect(await q('select opened_count from fission_packets where id = $1', [packet.id])).toEqual([{ opened_count: 1 }]);
  });

  it('points rewards, consolation points, the budget, the per-customer limit and expiry', async () => {
    const c = await campaign({ reward_kind: 'points', reward_amount: 50, friends_needed: 2, hours: 1, consolation_points: 5, budget: 100 });
    const a = identity();
    const b = identity();
    const pa = (await start(c.id, a)).json() as { id: string; customer_id: string };
    expect((await start(c.id, a)).statusCode).toBe(409);
    const pb = await start(c.id, b);
    expect(pb.statusCode).toBe(201);
    const late = await start(c.id, identity());
    expect(late.statusCode).toBe(409);
    expect(late.json().error.details[0].message).toMatch(/budget/);

    const f1 = identity();
    const f2 = identity();
    await open(pa.id, f1);
    expect((await open(pa.id, f2)).json()).toMatchObject({ unlocked: true, packet: { status: 'unlocked' } });
    expect((await t.services.points.balance(pa.customer_id)).points).toBe(50);
    expect((await t.services.points.balance(await customerIdOf(f1))).points).toBe(5);

    const before = clock.now();
    clock.advance(HOUR + SECOND);
    try {
      expect((await open(pb.json().id, identity())).statusCode).toBe(409);
      expect(await t.services.fission.expireDue()).toBe(1);
      expect(await t.services.fission.expireDue()).toBe(0);
      expect((await t.services.fission.getPacket(pb.json().id)).status).toBe('expired');
      expect((await t.services.fission.getCampaign(c.id)).committed).toBe(50);
      // The budget given back lets another customer start.
      expect((await start(c.id, identity())).statusCode).toBe(201);
    } finally {
      clock.set(new Date(before.getTime() + 2 * HOUR));
    }
  });
});
