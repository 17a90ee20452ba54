import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { DAY, ManualClock } from '../../src/lib/clock.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { newCustomer, partnerCaller, type Call } from './loyalty-helpers.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let owner: string;
let ops: string;
let call: Call;
let staffId: string;
beforeAll(async () => {
  // One point per yuan, lots live 30 days; the risk gate has no rules here (it is tested in fission.test.ts).
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false', POINTS_PER_100_FEN: '1', POINTS_EXPIRY_DAYS: '30' } });
  const o = await t.loginAs('owner');
  owner = o.token;
  staffId = o.userId;
  ops = (await t.loginAs('operations')).token;
  call = await partnerCaller(t, owner, clock);
});
afterAll(() => t.close());

const q = <R>(text: string, values: unknown[] = []) => t.platform.database.executeSql<R>(text, values).then((r) => r.rows);
const balance = async (customerId: string) => (await t.services.points.balance(customerId)).points;
const consistent = async (customerId: string) => {
  const v = await t.services.points.verify(customerId);
  expect(v.entries).toBe(v.lots);
};
const adjust = (customerId: string, points: number, reference: string) =>
  t.inject({ method: 'POST', url: `/admin/marketing/points/customers/${customerId}/adjust`, headers: bearer(ops), payload: { points, reason: 'goodwill', reference } });

describe('earning points on purchases', () => {
  it('the job awards points for a delivered order once, and refunds take them back in proportion, never below zero', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 3);
    const c = await newCustomer(t);
    await t.services.orders.creditBalance({ type: 'customer', id: c.id }, 50_000, 'bank-1', { id: staffId });
    const res = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance', customer: c.identity }, { 'idempotency-key': `pts-order-${c.id}` });
    expect(res.statusCode).toBe(201);
    const orderId = res.json().order.id as string;
    expect(res.json().order.status).toBe('delivered');

    expect((await t.services.pointsEarning.run()).awarded).toBe(1);
    expect(await balance(c.id)).toBe(192);
    // A second run (or another instance) awards nothing more.
    await t.services.pointsEarning.run();
    expect(await balance(c.id)).toBe(192);
    expect(await q('select count(*)::int as n from points_entries where customer_id = $1', [c.id])).toEqual([{ n: 1 }]);

    // Half refunded: half the points come back.
    await t.services.orders.refund(orderId, { reason: 'one code did not work', quantity: 1, afterSales: true }, { id: staffId });
    await t.services.pointsEarning.run();
    expect(await balance(c.id)).toBe(96);
    await t.services.pointsEarning.run();
    expect(await balance(c.id)).toBe(96);

    // The customer spends most of the rest; the second refund can only take what is left: the shortfall is recorded.
    await t.platform.db.transaction((tx) => t.services.points.spend(tx, { customerId: c.id, points: 90, reason: 'test', refType: 'test', refId: c.id }));
    await t.services.orders.refund(orderId, { reason: 'the other one too', quantity: 1, afterSales: true }, { id: staffId });
    await t.services.pointsEarning.run();
    expect(await balance(c.id)).toBe(0);
    expect(await t.services.pointsEarning.ofOrder(orderId)).toEqual({ awarded: 192, reversed: 102, shortfall: 90, refunded_fen_seen: 19_200 });
    await consistent(c.id);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });

  it('orders paid with points earn nothing', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 5_000 });
    await stockCodes(t, sku, 1);
    const c = await newCustomer(t);
    expect((await adjust(c.id, 100, `adj-${c.id}`)).statusCode).toBe(200);
    const item = await t.inject({ method: 'POST', url: '/admin/marketing/points/items', headers: bearer(ops), payload: { name: 'card', kind: 'sku', sku_id: sku, points_price: 100 } });
    const ex = await call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.json().id }, { 'idempotency-key': `pts-free-${c.id}` });
    expect(ex.statusCode).toBe(201);
    await t.services.pointsEarning.run();
    expect(await balance(c.id)).toBe(0);
    expect(await t.services.pointsEarning.ofOrder(ex.json().order_id)).toBeNull();
  });
});

describe('the points ledger', () => {
  it('spends consume the soonest-expiring lots first', async () => {
    const c = await newCustomer(t);
    const now = clock.now().getTime();
    await t.platform.db.transaction(async (tx) => {
      await t.services.points.award(tx, { customerId: c.id, points: 5, reason: 'a', refType: 'test', refId: `${c.id}-a`, expiresAt: new Date(now + 10 * DAY) });
      await t.services.points.award(tx, { customerId: c.id, points: 4, reason: 'b', refType: 'test', refId: `${c.id}-b`, expiresAt: new Date(now + 5 * DAY) });
      await t.services.points.award(tx, { customerId: c.id, points: 6, reason: 'c', refType: 'test', refId: `${c.id}-c`, expiresAt: new Date(now + 20 * DAY) });
    });
    // Awarding again with the same reference changes nothing.
    const again = await t.platform.db.transaction((tx) => t.services.points.award(tx, { customerId: c.id, points: 5, reason: 'a', refType: 'test', refId: `${c.id}-a` }));
    expect(again.created).toBe(false);
    await t.platform.db.transaction((tx) => t.services.points.spend(tx, { customerId: c.id, points: 7, reason: 'spend', refType: 'test', refId: `${c.id}-s` }));
    const lots = await q<{ reason: string; remaining: number }>("select reason, remaining from points_entries where customer_id = $1 and kind = 'earn' order by reason", [c.id]);
    expect(lots).toEqual([{ reason: 'a', remaining: 2 }, { reason: 'b', remaining: 0 }, { reason: 'c', remaining: 6 }]);
    expect(await balance(c.id)).toBe(8);
    const err = await t.platform.db.transaction((tx) => t.services.points.spend(tx, { customerId: c.id, points: 9, reason: 'spend', refType: 'test', refId: `${c.id}-s2` })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNPROCESSABLE', details: [{ field: 'points', code: 'INSUFFICIENT_POINTS' }] });
    await consistent(c.id);
  });

  it('lots expire after their days: the balance shows them as expiring soon, then the job takes them', async () => {
    const c = await newCustomer(t);
    expect((await adjust(c.id, 50, `exp-${c.id}`)).statusCode).toBe(200);
    const b = await t.services.points.balance(c.id);
    expect(b.points).toBe(50);
    expect(b.expiringSoon).toEqual([{ points: 50, expiresAt: new Date(clock.now().getTime() + 30 * DAY).toISOString() }]);
    const start = clock.now();
    clock.advance(30 * DAY + 1000);
    try {
      expect(await balance(c.id)).toBe(0);
      expect(await t.services.points.expireDue()).toBeGreaterThanOrEqual(1);
      expect(await t.services.points.expireDue()).toBe(0);
      const history = await t.services.points.history(c.id, { limit: 10 });
      expect(history.data.map((e) => [e.kind, e.points])).toEqual([['expire', -50], ['adjust', 50]]);
      await consistent(c.id);
      expect((await q<{ s: number }>('select coalesce(sum(remaining), 0)::int as s from points_entries where customer_id = $1', [c.id]))[0]!.s).toBe(0);
    } finally {
      clock.set(new Date(start.getTime() + 1000));
    }
  });

  it('GET /open/v1/points: balance, expiring soon and the history, paginated; staff adjust is audited and never overdraws', async () => {
    const c = await newCustomer(t);
    for (const [i, n] of [10, 20, 30].entries()) expect((await adjust(c.id, n, `page-${c.id}-${i}`)).statusCode).toBe(200);
    // The same reference again is a retry, not a new grant.
    expect((await adjust(c.id, 10, `page-${c.id}-0`)).json().points).toBe(60);
    const taken = await adjust(c.id, -100, `page-${c.id}-neg`);
    expect(taken.statusCode).toBe(422);
    expect(taken.json().error.details[0]).toMatchObject({ field: 'points', code: 'INSUFFICIENT_POINTS' });
    const url = `/open/v1/points?provider=partner&external_id=${c.identity.external_id}&limit=2`;
    const first = await call('GET', url);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ points: 60, history: { has_more: true } });
    expect(first.json().history.data.map((e: { points: number }) => e.points)).toEqual([30, 20]);
    const next = await call('GET', `${url}&cursor=${first.json().history.next_cursor}`);
    expect(next.json().history).toMatchObject({ has_more: false, data: [{ points: 10 }] });
    const audit = await q<{ n: number }>("select count(*)::int as n from audit_log where action = 'points.adjust' and target_id = $1", [c.id]);
    expect(audit[0]!.n).toBeGreaterThanOrEqual(3);
  });
});

describe('exchanging points (积分兑换)', () => {
  it('20 racing exchanges with points for 3: exactly 3 succeed, never overdrawn', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 3_000 });
    await stockCodes(t, sku, 10);
    const c = await newCustomer(t);
    expect((await adjust(c.id, 300, `race-${c.id}`)).statusCode).toBe(200);
    const item = (await t.inject({ method: 'POST', url: '/admin/marketing/points/items', headers: bearer(ops), payload: { name: '¥30 card', kind: 'sku', sku_id: sku, points_price: 100 } })).json() as { id: string };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.id }, { 'idempotency-key': `race-${c.id}-${i}` })));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((s) => s === 201)).toHaveLength(3);
    expect(codes.filter((s) => s === 422)).toHaveLength(17);
    for (const r of results.filter((x) => x.statusCode === 422)) expect(r.json().error.details[0].code).toBe('INSUFFICIENT_POINTS');
    expect(await balance(c.id)).toBe(0);
    expect(await q('select count(*)::int as n from points_exchanges where customer_id = $1', [c.id])).toEqual([{ n: 3 }]);
    expect(await q("select count(*)::int as n, sum(amount_fen)::int as fen from orders where buyer_id = $1 and offer_kind = 'points' and status = 'delivered'", [c.id])).toEqual([{ n: 3, fen: 9_000 }]);
    expect(await q('select exchanged_count from points_exchange_items where id = $1', [item.id])).toEqual([{ exchanged_count: 3 }]);
    await consistent(c.id);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
    // A retry of a winner replays it.
    const winner = results.findIndex((r) => r.statusCode === 201);
    const replay = await call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.id }, { 'idempotency-key': `race-${c.id}-${winner}` });
    expect(replay.statusCode).toBe(200);
    expect(replay.json().id).toBe(results[winner]!.json().id);
    // The order's codes are the partner's to read.
    const codes1 = await call('GET', `/open/v1/orders/${replay.json().order_id}/codes`);
    expect(codes1.statusCode).toBe(200);
    expect(codes1.json().codes).toHaveLength(1);
  });

  it('points buy a coupon through the coupons service, once per key', async () => {
    const template = await t.services.coupons.createTemplate({ name: '¥5 off', kind: 'fixed', amountOffFen: 500, perUserLimit: 5, validDays: 30 }, { id: staffId });
    const c = await newCustomer(t);
    expect((await adjust(c.id, 100, `cpn-${c.id}`)).statusCode).toBe(200);
    const item = await t.inject({ method: 'POST', url: '/admin/marketing/points/items', headers: bearer(ops), payload: { name: '¥5 coupon', kind: 'coupon', coupon_template_id: template.id, points_price: 40 } });
    expect(item.statusCode).toBe(201);
    const ex = await call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.json().id }, { 'idempotency-key': `cpn-ex-${c.id}` });
    expect(ex.statusCode).toBe(201);
    expect(ex.json()).toMatchObject({ points: 40, order_id: null, coupon_id: expect.stringMatching(/^ucp_/) });
    const again = await call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.json().id }, { 'idempotency-key': `cpn-ex-${c.id}` });
    expect(again.json().coupon_id).toBe(ex.json().coupon_id);
    expect(await balance(c.id)).toBe(60);
    expect((await t.services.coupons.getCoupon(ex.json().coupon_id)).customer_id).toBe(c.id);
  });

  it('an item limited in stock is exchanged at most that many times; the losers keep their points', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 10);
    const c = await newCustomer(t);
    expect((await adjust(c.id, 1_000, `stock-${c.id}`)).statusCode).toBe(200);
    const item = (await t.inject({ method: 'POST', url: '/admin/marketing/points/items', headers: bearer(ops), payload: { name: 'limited', kind: 'sku', sku_id: sku, points_price: 50, stock_limit: 2 } })).json() as { id: string };
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => call('POST', '/open/v1/points/exchange', { customer: c.identity, item_id: item.id }, { 'idempotency-key': `stock-${c.id}-${i}` })));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 201, 409, 409, 409]);
    expect(await balance(c.id)).toBe(900);
    const off = await t.inject({ method: 'PATCH', url: `/admin/marketing/points/items/${item.id}`, headers: bearer(ops), payload: { stock_limit: 1 } });
    expect(off.statusCode).toBe(422);
    expect(off.json().error.details[0].field).toBe('stock_limit');
    await consistent(c.id);
  });
});
