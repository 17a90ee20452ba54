import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { queryRows } from '../../src/db/raw.js';
import type { DbOrTx } from '../../src/db/client.js';
import { openPlatform, closePlatform } from '../../src/platform.js';
import { reconciliationCheckNames, verifyBooks, verifyStockOrdersLedger, type Verification } from '../../src/modules/ledger/reconciliation.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let finance: string;

/** The journey's orders, by what happened to them. */
const o = { api: '', revealedRefunded: '', restockedRefunded: '', resold: '', external: '', cancelled: '', pending: '' };
let resoldCode = '';

async function agentWithBalance(balanceFen: number) {
  const agent = await t.services.agents.create({ name: 'Agent', role: 'group_leader' });
  const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: balanceFen, reference: 'bank transfer' } });
  expect(credit.statusCode, credit.body).toBe(200);
  return agent;
}

const buyWithBalance = (agentId: string, skuId: string, quantity: number) =>
  t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agentId }, skuId, quantity, channel: 'admin', payment: 'balance' }, tx));
const external = (buyer: string, skuId: string, quantity = 1) =>
  t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: buyer }, skuId, quantity, channel: 'miniprogram', payment: 'external', provider: 'sandbox' }, tx));
const refund = (orderId: string, reason: string, afterSales = false) => t.inject({ method: 'POST', url: `/admin/orders/${orderId}/refund`, headers: bearer(finance), payload: { reason, after_sales: afterSales } });

class Rollback extends Error {}

/** Runs `tamper` and the checks in one transaction, then rolls it back: each test sees the clean journey. */
async function tampered(tamper: (tx: DbOrTx) => Promise<unknown>): Promise<Verification> {
  let result: Verification | undefined;
  await t.platform.db
    .transaction(async (tx) => {
      await tamper(tx);
      result = await verifyStockOrdersLedger(tx);
      throw new Rollback();
    })
    .catch((e: unknown) => {
      if (!(e instanceof Rollback)) throw e;
    });
  return result!;
}

const failing = (v: Verification) => v.checks.filter((c) => !c.ok).map((c) => c.name).sort();
const check = (v: Verification, name: string) => v.checks.find((c) => c.name === name)!;
const sql = (tx: DbOrTx, text: string, values: unknown[] = []) => queryRows(tx, text, values);
const codesOf = async (orderId: string) => (await sql(t.platform.db, 'select id from codes where order_id = $1 order by id', [orderId])).map((r) => r.id as string);

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  finance = (await t.loginAs('finance')).token;

  const sku = await createCodeSku(t, { retailPriceFen: 5_000, costFen: 4_000 });
  await stockCodes(t, sku, 10);
  const agent = await agentWithBalance(100_000);

  // As the open API sells: codes revealed to the caller at once.
  const sold = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity: 2, channel: 'api', payment: 'balance', apiKeyOwner: `agent:${agent.id}`, revealNow: true }, tx));
  expect(sold.deliveredCodes).toHaveLength(2);
  o.api = sold.id;

  // Revealed, then refunded by an after-sales decision: its code is voided.
  o.revealedRefunded = (await buyWithBalance(agent.id, sku, 1)).id;
  await t.services.orders.revealCodes(o.revealedRefunded, { buyer: { type: 'agent', id: agent.id } });
  expect((await refund(o.revealedRefunded, 'after-sales: invalid at brand', true)).json().order.status).toBe('refunded');

  // A small SKU: refunded codes go back to stock and are sold again to another order.
  const small = await createCodeSku(t, { retailPriceFen: 2_000, costFen: 1_500 });
  await stockCodes(t, small, 3);
  o.restockedRefunded = (await buyWithBalance(agent.id, small, 2)).id;
  const firstCodes = await codesOf(o.restockedRefunded);
  expect((await refund(o.restockedRefunded, 'changed mind')).json().order).toMatchObject({ status: 'refunded', refunded_fen: 4_000 });
  o.resold = (await buyWithBalance(agent.id, small, 3)).id;
  resoldCode = firstCodes[0]!;
  expect(await codesOf(o.resold)).toContain(resoldCode);

  // Paid through the sandbox provider: a payment row moves to succeeded and the order is delivered.
  o.external = (await external('cus_recon_1', sku, 2)).id;
  const started = await t.services.payments.start(o.external, 'sandbox');
  expect(await t.services.payments.settle('sandbox', { tradeNo: started.trade_no, status: 'succeeded', amountFen: started.amount_fen, providerTxnId: 'sbx_recon_1', paidAt: clock.now() })).toBe('applied');
  expect((await t.services.orders.get(o.external)).status).toBe('delivered');

  // Never paid: cancelled at the deadline, its codes back in stock.
  o.cancelled = (await external('cus_recon_2', sku, 1)).id;
  await t.services.payments.start(o.cancelled, 'sandbox');
  clock.advance(31 * MINUTE);
  expect(await t.services.orders.cancelExpired()).toBe(1);
  expect((await t.services.orders.get(o.cancelled)).status).toBe('cancelled');

  // Still waiting for its payment, holding its reservation.
  o.pending = (await external('cus_recon_3', sku, 2)).id;
});
afterAll(() => t?.close());

describe('stock, orders and ledger agree', () => {
  it('a clean journey verifies clean: every check runs and passes', async () => {
    const v = await verifyStockOrdersLedger(t.platform.db);
    expect(failing(v)).toEqual([]);
    expect(v.checks.map((c) => c.name)).toEqual(reconciliationCheckNames);
    expect(reconciliationCheckNames).toHaveLength(11);
    const all = await verifyBooks(t.platform);
    expect(all.ok).toBe(true);
    expect(all.checks.map((c) => c.name)).toEqual(['ledger_transactions_balance', 'ledger_cached_balances_match_entries', 'ledger_guarded_accounts_not_negative', ...reconciliationCheckNames]);
    const states = await sql(t.platform.db, `select state, count(*)::int as n from codes group by state order by state`);
    expect(states.map((r) => [r.state, Number(r.n)])).toEqual([
      ['available', 3],
      ['delivered', 5],
      ['reserved', 2],
      ['revealed', 2],
      ['voided', 1],
    ]);
  });

  it('a code of a delivered order put back on sale by hand', async () => {
    const [code] = await codesOf(o.api);
    const kept = await tampered((tx) => sql(tx, `update codes set state = 'available' where id = $1`, [code]));
    expect(failing(kept)).toEqual(['refunds_match_returned_codes', 'sold_codes_held_by_delivered_orders']);
    expect(check(kept, 'sold_codes_held_by_delivered_orders').samples).toEqual([{ code_id: code, state: 'available', order_id: o.api, order_status: 'delivered', problem: 'has a holder order but is available' }]);

    // Also forgetting the holder: the history still shows it sold, and nobody was refunded for it.
    const lost = await tampered((tx) => sql(tx, `update codes set state = 'available', order_id = null where id = $1`, [code]));
    expect(failing(lost)).toEqual(['code_history_matches_holder', 'refunds_match_returned_codes']);
    expect(check(lost, 'code_history_matches_holder').samples).toEqual([{ code_id: code, state: 'available', order_id: null, sales: 1, restocks: 0, sold_to: [o.api] }]);
    expect(check(lost, 'refunds_match_returned_codes').samples[0]).toMatchObject({ order_id: o.api, problem: 'codes back in stock were not refunded', live_codes: 1 });
  });

  it('a code delivered to a second order, or sold twice to one', async () => {
    const [code] = await codesOf(o.api);
    const twice = await tampered(async (tx) => {
      await sql(tx, `insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at) values ('cev_tamper1', $1, 'reserved', 'sold', 'order', $2, $2, now())`, [code, o.external]);
      await sql(tx, `update codes set order_id = $2 where id = $1`, [code, o.external]);
    });
    expect(failing(twice)).toContain('code_history_matches_holder');
    expect(check(twice, 'code_history_matches_holder').samples).toEqual([{ code_id: code, state: 'revealed', order_id: o.external, sales: 2, restocks: 0, sold_to: expect.arrayContaining([o.api, o.external]) }]);
    // Both orders' counts are off too: one delivered a code it no longer has, the other has one more than it delivered.
    expect(check(twice, 'delivered_quantity_matches_codes_sold').samples.map((s) => s.order_id)).toEqual([o.external]);

    const sameOrder = await tampered((tx) => sql(tx, `insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at) values ('cev_tamper2', $1, 'reserved', 'sold', 'order', $2, $2, now())`, [code, o.api]));
    expect(failing(sameOrder)).toEqual(['code_history_matches_holder', 'codes_sold_once_per_order', 'delivered_quantity_matches_codes_sold']);
    expect(check(sameOrder, 'codes_sold_once_per_order').samples).toEqual([{ code_id: code, order_id: o.api, sales: 2 }]);
  });

  it('a re-sold code is fine; its refunded first order still counts it as delivered', async () => {
    const events = await sql(t.platform.db, `select from_state, to_state, ref from code_events where code_id = $1 and to_state in ('sold', 'available') order by at, id`, [resoldCode]);
    expect(events.filter((e) => e.to_state === 'sold').map((e) => e.ref)).toEqual([o.restockedRefunded, o.resold]);
    expect((await t.services.orders.get(o.restockedRefunded)).delivered_quantity).toBe(2);
    // Forgetting the restock makes the code look delivered twice.
    const v = await tampered((tx) => sql(tx, `delete from code_events where code_id = $1 and from_state in ('sold', 'delivered') and to_state = 'available'`, [resoldCode]));
    expect(failing(v)).toEqual(['code_history_matches_holder']);
    expect(check(v, 'code_history_matches_holder').samples[0]).toMatchObject({ code_id: resoldCode, sales: 2, restocks: 0 });
  });

  it("an order's delivered quantity changed by hand", async () => {
    const v = await tampered((tx) => sql(tx, `update orders set delivered_quantity = 1 where id = $1`, [o.external]));
    expect(failing(v)).toEqual(['delivered_quantity_matches_codes_sold', 'refunds_match_returned_codes']);
    expect(check(v, 'delivered_quantity_matches_codes_sold').samples).toEqual([{ order_id: o.external, status: 'delivered', quantity: 2, delivered_quantity: 1, codes_sold: 2 }]);
    expect(check(v, 'refunds_match_returned_codes').samples[0]).toMatchObject({ order_id: o.external, problem: 'more codes held than delivered' });
  });

  it('a refund recorded without its money, or money refunded for codes still live', async () => {
    const noMoney = await tampered((tx) => sql(tx, `update orders set refunded_fen = 0 where id = $1`, [o.restockedRefunded]));
    expect(failing(noMoney)).toEqual(['refunds_match_returned_codes', 'revenue_matches_orders']);
    expect(check(noMoney, 'refunds_match_returned_codes').samples[0]).toMatchObject({ order_id: o.restockedRefunded, problem: 'refunded order not refunded its whole amount' });

    const tooMuch = await tampered((tx) => sql(tx, `update orders set refunded_fen = unit_price_fen, status = 'partially_refunded' where id = $1`, [o.external]));
    expect(failing(tooMuch)).toEqual(['refunds_match_returned_codes', 'revenue_matches_orders']);
    expect(check(tooMuch, 'refunds_match_returned_codes').samples[0]).toMatchObject({ order_id: o.external, problem: 'refunded codes that are still live' });
  });

  it('codes left reserved by a cancelled or refunded order are leaked stock', async () => {
    const [code] = (await sql(t.platform.db, `select id from codes where state = 'available' order by id limit 1`)).map((r) => r.id as string);
    const v = await tampered((tx) => sql(tx, `update codes set state = 'reserved', reserved_by = $2, reserved_until = now() + interval '1 hour' where id = $1`, [code, o.cancelled]));
    expect(failing(v)).toEqual(['reservations_held_by_open_orders']);
    expect(check(v, 'reservations_held_by_open_orders').samples).toEqual([{ code_id: code, order_id: o.cancelled, order_status: 'cancelled', problem: 'reserved by an order that is cancelled' }]);

    const overReserved = await tampered((tx) => sql(tx, `update codes set state = 'reserved', reserved_by = $2 where id = $1`, [code, o.pending]));
    expect(check(overReserved, 'reservations_held_by_open_orders').samples).toEqual([{ code_id: null, order_id: o.pending, order_status: 'pending_payment', problem: 'reserves 3 codes for a quantity of 2' }]);
  });

  it('a revenue entry deleted (triggers bypassed), or revenue booked against the wrong order', async () => {
    const deleted = await tampered(async (tx) => {
      await sql(tx, `alter table ledger_entries disable trigger ledger_entries_immutable`);
      await sql(tx, `delete from ledger_entries where account_id = 'platform:revenue' and transaction_id = (select id from ledger_transactions where ref_type = 'order' and ref_id = $1 and kind = 'order_payment')`, [o.api]);
    });
    expect(failing(deleted)).toEqual(['revenue_matches_orders']);
    expect(check(deleted, 'revenue_matches_orders').samples).toEqual([{ order_id: o.api, status: 'delivered', amount_fen: 10_000, refunded_fen: 0, expected_revenue: 10_000, revenue: 0, sale_transactions: 0 }]);

    const misfiled = await tampered(async (tx) => {
      await sql(tx, `insert into ledger_transactions (id, kind, ref_type, ref_id, created_at) values ('ltx_tamper', 'adjustment', 'order', $1, now())`, [o.pending]);
      await sql(tx, `insert into ledger_entries (transaction_id, account_id, amount_fen, created_at) values ('ltx_tamper', 'platform:cash', -700, now()), ('ltx_tamper', 'platform:revenue', 700, now())`);
    });
    expect(failing(misfiled)).toEqual(['revenue_matches_orders']);
    expect(check(misfiled, 'revenue_matches_orders').samples).toEqual([{ order_id: o.pending, status: 'pending_payment', amount_fen: 10_000, refunded_fen: 0, expected_revenue: 0, revenue: 700, sale_transactions: 0 }]);
  });

  it('a cost booked without its payable, or for an unpaid order', async () => {
    const v = await tampered(async (tx) => {
      await sql(tx, `insert into ledger_transactions (id, kind, ref_type, ref_id, created_at) values ('ltx_cost1', 'adjustment', 'order', $1, now()), ('ltx_cost2', 'adjustment', 'order', $2, now())`, [o.resold, o.cancelled]);
      await sql(tx, `insert into ledger_entries (transaction_id, account_id, amount_fen, created_at) values ('ltx_cost1', 'platform:cost_of_goods', -100, now()), ('ltx_cost1', 'platform:cash', 100, now()),
                     ('ltx_cost2', 'platform:cost_of_goods', -50, now()), ('ltx_cost2', 'platform:supplier_payable', 50, now())`);
    });
    expect(failing(v)).toEqual(['cost_of_goods_matches_supplier_payable']);
    const samples = check(v, 'cost_of_goods_matches_supplier_payable').samples;
    expect(samples).toHaveLength(2);
    expect(samples).toContainEqual({ order_id: o.resold, status: 'delivered', cost_of_goods: -4_600, supplier_payable: 4_500, problem: 'cost and payable do not cancel out' });
    expect(samples).toContainEqual({ order_id: o.cancelled, status: 'cancelled', cost_of_goods: -50, supplier_payable: 50, problem: 'cost booked for an order that is cancelled' });
  });

  it('payments: two succeeded for one order, one for an unpaid order, a provider-paid order without any', async () => {
    const v = await tampered(async (tx) => {
      await sql(tx, `insert into payments (id, order_id, provider, amount_fen, status, trade_no, created_at, updated_at) select 'pay_tamper1', order_id, provider, amount_fen, 'succeeded', 'KQtamper1', now(), now() from payments where order_id = $1`, [o.external]);
      await sql(tx, `update payments set status = 'succeeded' where order_id = $1`, [o.cancelled]);
    });
    expect(failing(v)).toEqual(['succeeded_payments_match_orders']);
    const samples = check(v, 'succeeded_payments_match_orders').samples;
    expect(samples.map((s) => [s.order_id, s.problem])).toEqual(
      [
        [o.external, '2 succeeded payments'],
        [o.cancelled, 'payment succeeded but the order is cancelled'],
      ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );

    const none = await tampered((tx) => sql(tx, `delete from payments where order_id = $1`, [o.external]));
    expect(failing(none)).toEqual(['provider_paid_orders_have_a_payment']);
    expect(check(none, 'provider_paid_orders_have_a_payment').samples).toEqual([{ order_id: o.external, status: 'delivered', payment_provider: 'sandbox', amount_fen: 10_000 }]);
  });

  it('the tampering was rolled back: the books are clean again', async () => {
    expect((await verifyBooks(t.platform)).ok).toBe(true);
  });
});

function runVerifyCli(env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/ledger-verify.ts'], { env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run ledger:verify', () => {
  let d: TestApp;
  beforeAll(async () => {
    d = await bootTestApp({ onDisk: true });
  });
  afterAll(() => d?.close());

  it('exits 0 on consistent books and 1 naming the check and the row that disagree', async () => {
    const sku = await createCodeSku(d, { retailPriceFen: 3_000, costFen: 2_000 });
    await stockCodes(d, sku, 3);
    const agent = await d.services.agents.create({ name: 'CLI agent', role: 'group_leader' });
    await d.services.orders.creditBalance({ type: 'agent', id: agent.id }, 10_000, 'test', { id: 'stf_test' });
    const order = await d.platform.db.transaction((tx) => d.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity: 2, channel: 'admin', payment: 'balance' }, tx));
    await d.stop(); // the embedded database admits one process at a time

    const clean = await runVerifyCli(d.env);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('books consistent');
    const cleanJson = JSON.parse(clean.stdout.trim().split('\n').at(-1)!) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(cleanJson.ok).toBe(true);
    expect(cleanJson.checks).toHaveLength(14);

    const p = await openPlatform(d.config);
    const [code] = await queryRows<{ id: string }>(p.db, `select id from codes where order_id = $1 order by id limit 1`, [order.id]);
    await queryRows(p.db, `update orders set delivered_quantity = 3 where id = $1`, [order.id]);
    await queryRows(p.db, `update codes set state = 'available', order_id = null where id = $1`, [code!.id]);
    await closePlatform(p);

    const bad = await runVerifyCli(d.env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`FAIL  delivered_quantity_matches_codes_sold: 1 row(s) disagree, e.g. ${order.id}`);
    expect(bad.stderr).toContain(`FAIL  code_history_matches_holder: 1 row(s) disagree, e.g. ${code!.id}`);
    expect(bad.stderr).toMatch(/books INCONSISTENT: .*delivered_quantity_matches_codes_sold \(1\)/);
    const json = JSON.parse(bad.stdout.trim().split('\n').at(-1)!) as { ok: boolean; checks: { name: string; ok: boolean; count: number; samples: { order_id?: string; code_id?: string }[] }[] };
    expect(json.ok).toBe(false);
    expect(json.checks.filter((c) => !c.ok).map((c) => c.name).sort()).toEqual(['code_history_matches_holder', 'delivered_quantity_matches_codes_sold', 'refunds_match_returned_codes']);
    expect(json.checks.find((c) => c.name === 'code_history_matches_holder')!.samples[0]!.code_id).toBe(code!.id);
  }, 120_000);
});
