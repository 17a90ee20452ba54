import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock } from '../../src/lib/clock.js';
import { queryRows } from '../../src/db/raw.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/**
 * Clawback: an agent withdraws its commission, the order is then refunded,
 * so the reversal cannot come out of the (empty, guarded) available account
 * and is recorded as clawback_due_fen. The agent's later earnings pay it
 * back: the settlement job takes it from the newly available commission in
 * the settlement's own ledger transaction, oldest clawback first.
 */
const DAY = 86_400_000;
const clock = new ManualClock('2026-06-02T03:00:00Z');
let t: TestApp;
let owner: string;
let finance: string;
let cashier: string;
let sku: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', WITHDRAWAL_MIN_FEN: '1000', WITHDRAWAL_DAILY_COUNT: '50', COMMISSION_HOLD_DAYS: '1' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  cashier = (await t.loginAs('finance')).token;
  // Price 100 yuan, cost 80; the seller earns 10% of the price (10 yuan a unit).
  sku = await createCodeSku(t, { retailPriceFen: 10_000, costFen: 8_000 });
  await stockCodes(t, sku, 30);
  const productId = (await t.services.catalog.getSku(sku)).productId;
  const rule = await t.inject({ method: 'POST', url: '/admin/commission-rules', headers: bearer(owner), payload: { name: '10%', scope_type: 'product', scope_value: productId, levels: [{ kind: 'percent_of_price', bps: 1000 }] } });
  expect(rule.statusCode).toBe(201);
});
afterAll(() => t.close());

const balance = (account: { id: string }) => t.services.ledger.balance(account.id);

async function seller(name: string) {
  const agent = await t.services.agents.create({ name, role: 'group_leader' });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: 500_000, reference: 'bank transfer' } });
  const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: agent.id, name: 'bot' } })).json() as { id: string; secret: string };
  let n = 0;
  const signed = (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
    const raw = body ? JSON.stringify(body) : '';
    return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
  };
  /** Sells `quantity` units, books the commission and lets the hold pass; returns the order id. */
  const sell = async (quantity: number) => {
    const res = await signed('POST', '/open/v1/orders', { sku_id: sku, quantity, payment: 'balance' }, `clawback-${agent.id}-${++n}`);
    expect(res.statusCode).toBe(201);
    await t.services.commissions.accrueDelivered();
    return (res.json().order as { id: string }).id;
  };
  const withdraw = async (amountFen: number, idem: string) => {
    const w = await signed('POST', '/open/v1/withdrawals', { amount_fen: amountFen, method: 'wechat_transfer', payout_account: 'o-clawback-openid' }, idem);
    expect(w.statusCode).toBe(201);
    return w.json().id as string;
  };
  return { agent, signed, sell, withdraw };
}

const rowsOf = async (orderId: string) => (await t.services.commissions.listCommissions({ limit: 10, orderId })).data;
const refundAll = async (orderId: string, quantity: number) => {
  const res = await t.inject({ method: 'POST', url: `/admin/orders/${orderId}/refund`, headers: bearer(finance), payload: { reason: 'codes did not work', quantity, after_sales: true } });
  expect(res.statusCode).toBe(200);
};
const booksClean = async () => {
  const v = await verifyBooks(t.platform);
  expect(v.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, samples: c.samples.slice(0, 3) }))).toEqual([]);
  expect(v.checks.map((c) => c.name)).toContain('commission_reversals_consistent');
};

describe('clawback recovery', () => {
  it('a refund after the commission was withdrawn leaves clawback due; later earnings pay it back, oldest first, in the settlement transaction', async () => {
    const { agent, signed, sell, withdraw } = await seller('Withdraws everything');
    const available = accounts.commissionAvailable(agent.id);
    const first = await sell(2);
    clock.advance(2 * DAY);
    await t.services.commissions.settleDue();
    expect(await balance(available)).toBe(2_000);

    // Everything is withdrawn and paid out.
    const wid = await withdraw(2_000, 'clawback-w-0001');
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/approve`, headers: bearer(finance) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/pay`, headers: bearer(cashier), payload: { reference: 'WX-CLAWBACK-1' } })).statusCode).toBe(200);
    expect(await balance(available)).toBe(0);

    // The whole order is refunded: nothing to take back from, so it is owed.
    await refundAll(first, 2);
    expect(await balance(available)).toBe(0);
    expect(await rowsOf(first)).toMatchObject([{ status: 'reversed', reversed_fen: 0, clawback_due_fen: 2_000 }]);
    expect((await signed('GET', '/open/v1/agent/summary')).json().balances).toMatchObject({ commission_available_fen: 0, clawback_due_fen: 2_000 });
    await booksClean();

    // The next order earns 10 yuan: when it settles, all of it pays back half the debt.
    const expenseBefore = await balance(accounts.commissionExpense);
    await sell(1);
    clock.advance(2 * DAY);
    expect(await t.services.commissions.settleDue()).toBe(1);
    expect(await balance(available)).toBe(0);
    expect(await balance(accounts.commissionExpense)).toBe(expenseBefore - 1_000 + 1_000);
    expect(await rowsOf(first)).toMatchObject([{ status: 'reversed', reversed_fen: 1_000, clawback_due_fen: 1_000 }]);
    // One ledger transaction: pending -> available, then available -> commission expense.
    const [settlement] = await queryRows<{ id: string; kind: string; memo: string }>(
      t.platform.db,
      `select t.id, t.kind, t.memo from ledger_transactions t join ledger_entries e on e.transaction_id = t.id where e.account_id = $1 and t.kind = 'commission_settlement' order by t.id desc limit 1`,
      [available.id],
    );
    expect(settlement!.memo).toMatch(/1000 fen of clawback recovered/);
    const entries = await queryRows<{ account_id: string; amount_fen: string }>(t.platform.db, 'select account_id, amount_fen::text from ledger_entries where transaction_id = $1 order by id', [settlement!.id]);
    expect(entries.map((e) => [e.account_id, Number(e.amount_fen)])).toEqual([
      [accounts.commissionPending(agent.id).id, -1_000],
      [available.id, 1_000],
      [available.id, -1_000],
      [accounts.commissionExpense.id, 1_000],
    ]);
    expect((await signed('GET', '/open/v1/agent/summary')).json().balances.clawback_due_fen).toBe(1_000);
    await booksClean();

    // A bigger one pays the rest; what is left is the agent's to withdraw.
    await sell(3);
    clock.advance(2 * DAY);
    await t.services.commissions.settleDue();
    expect(await balance(available)).toBe(2_000);
    expect(await rowsOf(first)).toMatchObject([{ status: 'reversed', reversed_fen: 2_000, clawback_due_fen: 0 }]);
    expect((await signed('GET', '/open/v1/agent/summary')).json().balances).toMatchObject({ commission_available_fen: 2_000, clawback_due_fen: 0 });
    // Nothing more to recover: a further run posts nothing.
    const txBefore = (await t.services.ledger.verify()).transactions;
    expect(await t.services.commissions.settleDue()).toBe(0);
    expect((await t.services.ledger.verify()).transactions).toBe(txBefore);
    expect((await t.services.ledger.verify()).ok).toBe(true);
    await booksClean();
  });

  it('money coming back by a rejected withdrawal is taken by the next settlement run, even with nothing to settle', async () => {
    const { agent, sell, withdraw } = await seller('Rejected withdrawal');
    const available = accounts.commissionAvailable(agent.id);
    const a = await sell(1);
    const b = await sell(1);
    clock.advance(2 * DAY);
    await t.services.commissions.settleDue();
    expect(await balance(available)).toBe(2_000);
    const wid = await withdraw(2_000, 'clawback-w-rej-1');
    // Both orders refunded while the money sits in a requested withdrawal: 20 yuan owed, on two rows.
    await refundAll(a, 1);
    await refundAll(b, 1);
    expect(await t.services.commissions.outstandingClawback(agent.id)).toBe(2_000);
    // Finance rejects the withdrawal: the money is back in the available account...
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/reject`, headers: bearer(finance), payload: { reason: 'account closed' } })).statusCode).toBe(200);
    expect(await balance(available)).toBe(2_000);
    // ...and the next settlement run, with no commission due, recovers the debt from it.
    expect(await t.services.commissions.settleDue()).toBe(0);
    expect(await balance(available)).toBe(0);
    expect(await t.services.commissions.outstandingClawback(agent.id)).toBe(0);
    expect([...(await rowsOf(a)), ...(await rowsOf(b))]).toMatchObject([
      { status: 'reversed', reversed_fen: 1_000, clawback_due_fen: 0 },
      { status: 'reversed', reversed_fen: 1_000, clawback_due_fen: 0 },
    ]);
    const [recovery] = await queryRows<{ kind: string }>(t.platform.db, `select t.kind from ledger_transactions t join ledger_entries e on e.transaction_id = t.id where e.account_id = $1 order by t.id desc limit 1`, [available.id]);
    expect(recovery!.kind).toBe('commission_clawback_recovery');
    await booksClean();
  });

  it('recovers the oldest clawback first when only part can be paid', async () => {
    const { agent, sell, withdraw } = await seller('Oldest first');
    const older = await sell(1);
    clock.advance(DAY);
    const newer = await sell(2);
    clock.advance(2 * DAY);
    await t.services.commissions.settleDue();
    const wid = await withdraw(3_000, 'clawback-w-old-1');
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/approve`, headers: bearer(finance) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'POST', url: `/admin/withdrawals/${wid}/pay`, headers: bearer(cashier), payload: { reference: 'WX-CLAWBACK-3' } })).statusCode).toBe(200);
    await refundAll(newer, 2);
    await refundAll(older, 1);
    expect(await t.services.commissions.outstandingClawback(agent.id)).toBe(3_000);
    await sell(1);
    clock.advance(2 * DAY);
    await t.services.commissions.settleDue();
    // 10 yuan recovered: all of it on the older order's row, none yet on the newer one.
    expect(await rowsOf(older)).toMatchObject([{ reversed_fen: 1_000, clawback_due_fen: 0 }]);
    expect(await rowsOf(newer)).toMatchObject([{ reversed_fen: 0, clawback_due_fen: 2_000 }]);
    expect(await t.services.commissions.outstandingClawback(agent.id)).toBe(2_000);
    await booksClean();
  });
});
