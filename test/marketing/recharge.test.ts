import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { DAY, ManualClock } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { newCustomer, partnerCaller } from './loyalty-helpers.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let ops: string;
let finance: string;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  owner = (await t.loginAs('owner')).token;
  ops = (await t.loginAs('operations')).token;
  finance = (await t.loginAs('finance')).token;
});
afterAll(() => t.close());

const q = <R>(text: string, values: unknown[] = []) => t.platform.database.executeSql<R>(text, values).then((r) => r.rows);
const cash = (id: string) => t.services.ledger.balance(accounts.customerBalance(id).id);
const promo = (id: string) => t.services.ledger.balance(accounts.customerPromo(id).id);
const recharge = (customerId: string, amount: number, key: string, token = finance) =>
  t.inject({ method: 'POST', url: '/admin/marketing/recharges', headers: { ...bearer(token), 'idempotency-key': key }, payload: { customer_id: customerId, amount_fen: amount, reference: `bank ${key}` } });
const rule = (payload: object) => t.inject({ method: 'POST', url: '/admin/marketing/recharge-rules', headers: bearer(ops), payload });

describe('recharge bonuses (充值满赠)', () => {
  it('the best tier is credited to the promotional balance in one balanced ledger transaction; the cash balance holds only the top-up', async () => {
    const r = await rule({ name: 'spring', tiers: [{ min_fen: 10_000, bonus_fen: 1_000 }, { min_fen: 50_000, bonus_fen: 8_000 }, { min_fen: 20_000, bonus_fen: 3_000 }] });
    expect(r.statusCode).toBe(201);
    expect(r.json().tiers.map((x: { min_fen: number }) => x.min_fen)).toEqual([10_000, 20_000, 50_000]);
    const before = await t.services.ledger.balance(accounts.promotionExpense.id);
    const cases: [number, number][] = [[9_999, 0], [10_000, 1_000], [49_999, 3_000], [60_000, 8_000]];
    for (const [amount, bonus] of cases) {
      const c = await newCustomer(t);
      const res = await recharge(c.id, amount, `tier-${c.id}`);
      expect(res.statusCode).toBe(201);
      expect(res.json()).toMatchObject({ customer_id: c.id, amount_fen: amount, bonus_fen: bonus, rule_id: bonus ? r.json().id : null });
      expect(await cash(c.id)).toBe(amount);
      expect(await promo(c.id)).toBe(bonus);
      const entries = await q<{ account_id: string; amount_fen: string }>('select account_id, amount_fen::text from ledger_entries where transaction_id = $1 order by account_id', [res.json().ledger_transaction_id]);
      expect(entries.reduce((a, e) => a + Number(e.amount_fen), 0)).toBe(0);
      expect(entries).toHaveLength(bonus ? 4 : 2);
    }
    expect(await t.services.ledger.balance(accounts.promotionExpense.id)).toBe(before - 12_000);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
    await t.inject({ method: 'POST', url: `/admin/marketing/recharge-rules/${r.json().id}/end`, headers: bearer(ops) });
  });

  it('a retry with the same Idempotency-Key replays; other parameters are refused; only finance records', async () => {
    const r = await rule({ name: 'retry', tiers: [{ min_fen: 10_000, bonus_fen: 500 }] });
    const c = await newCustomer(t);
    const first = await recharge(c.id, 10_000, `idem-${c.id}`);
    expect(first.statusCode).toBe(201);
    const again = await recharge(c.id, 10_000, `idem-${c.id}`);
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await recharge(c.id, 20_000, `idem-${c.id}`);
    expect(other.statusCode).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await cash(c.id)).toBe(10_000);
    expect(await promo(c.id)).toBe(500);
    expect((await recharge(c.id, 10_000, `idem-ops-${c.id}`, ops)).statusCode).toBe(403);
    const bad = await t.inject({ method: 'POST', url: '/admin/marketing/recharges', headers: { ...bearer(finance), 'idempotency-key': `idem-bad-${c.id}` }, payload: { customer_id: c.id, amount_fen: 0, reference: 'x' } });
    expect(bad.statusCode).toBe(400);
    await t.inject({ method: 'POST', url: `/admin/marketing/recharge-rules/${r.json().id}/end`, headers: bearer(ops) });
  });

  it('the per-customer limit holds, also under racing recharges; outside the window no bonus', async () => {
    const r = await rule({ name: 'capped', tiers: [{ min_fen: 5_000, bonus_fen: 700 }], per_customer_limit: 2, ends_at: new Date(clock.now().getTime() + 10 * DAY).toISOString() });
    expect(r.statusCode).toBe(201);
    const c = await newCustomer(t);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => recharge(c.id, 5_000, `cap-${c.id}-${i}`)));
    expect(results.map((x) => x.statusCode)).toEqual(Array(6).fill(201));
    expect(results.map((x) => x.json().bonus_fen).sort()).toEqual([0, 0, 0, 0, 700, 700]);
    expect(await cash(c.id)).toBe(30_000);
    expect(await promo(c.id)).toBe(1_400);
    const other = await newCustomer(t);
    const start = clock.now();
    clock.advance(11 * DAY);
    try {
      expect((await recharge(other.id, 5_000, `late-${other.id}`)).json().bonus_fen).toBe(0);
    } finally {
      clock.set(start);
    }
    expect((await verifyBooks(t.platform)).ok).toBe(true);
    await t.inject({ method: 'POST', url: `/admin/marketing/recharge-rules/${r.json().id}/end`, headers: bearer(ops) });
  });

  it('the bonus is spent before cash and a refund gives it back to the promotional balance, never as cash', async () => {
    await rule({ name: 'spend', tiers: [{ min_fen: 10_000, bonus_fen: 2_000 }] });
    const sku = await createCodeSku(t, { retailPriceFen: 3_000 });
    await stockCodes(t, sku, 2);
    const c = await newCustomer(t);
    expect((await recharge(c.id, 10_000, `spend-${c.id}`)).json().bonus_fen).toBe(2_000);
    const call = await partnerCaller(t, owner, clock);
    const order = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: c.identity }, { 'idempotency-key': `spend-order-${c.id}` });
    expect(order.statusCode).toBe(201);
    expect(await promo(c.id)).toBe(0);
    expect(await cash(c.id)).toBe(9_000);
    await t.services.orders.refund(order.json().order.id, { reason: 'test', afterSales: true }, { id: 'stf_test' });
    expect(await promo(c.id)).toBe(2_000);
    expect(await cash(c.id)).toBe(10_000);
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });
});
