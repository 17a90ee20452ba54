import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import type { PaymentService } from '../../src/modules/payments/service.js';
import type { FakeWeChatPay } from '../fakes/wechat-pay/server.js';
import { startAppWithWeChatPay } from '../payments/wechat-fixture.js';

/**
 * Refunds, whole and partial, to the balance and back through the payment
 * provider (a local fake of WeChat Pay v3), and orders paid while sold out:
 * completed on restock or refunded at the buyer's choice.
 */
const clock = new ManualClock(new Date());
let t: TestApp;
let fake: FakeWeChatPay;
let payments: PaymentService;
let app: FastifyInstance;
let notifyUrl: string;
let finance: string;
let owner: string;
let wx: Awaited<ReturnType<typeof startAppWithWeChatPay>>;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  wx = await startAppWithWeChatPay(t, clock);
  ({ fake, payments, app, notifyUrl } = wx);
  finance = (await t.loginAs('finance')).token;
  owner = (await t.loginAs('owner')).token;
});
afterAll(async () => {
  await wx.close();
  await t.close();
});

const stateCounts = async (sku: string) => Object.fromEntries((await t.platform.database.executeSql<{ state: string; n: number }>('select state, count(*)::int as n from codes where sku_id = $1 group by state', [sku])).rows.map((r) => [r.state, Number(r.n)]));
const refundCall = (orderId: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/admin/orders/${orderId}/refund`, headers: bearer(finance), payload });
const booksClean = async () => {
  const books = await verifyBooks(t.platform);
  expect(books.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, samples: c.samples.slice(0, 2) }))).toEqual([]);
};

async function agentBuying(balanceFen: number) {
  const agent = await t.services.agents.create({ name: 'Refund agent', role: 'group_leader' });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'agent', buyer_id: agent.id, amount_fen: balanceFen, reference: 'bank transfer' } });
  const buy = (sku: string, quantity: number) => t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'agent', id: agent.id }, skuId: sku, quantity, channel: 'admin', payment: 'balance' }, tx));
  return { agent, buy, balance: () => t.services.ledger.balance(accounts.agentBalance(agent.id).id) };
}

describe('partial refunds', () => {
  it('by quantity and by code: unrevealed codes back to stock, money in proportion, the last part takes the rest', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 3_000, costFen: 2_000 });
    await stockCodes(t, sku, 5);
    const { buy, balance } = await agentBuying(20_000);
    const order = await buy(sku, 3);
    expect(await balance()).toBe(11_000);

    const one = await refundCall(order.id, { reason: 'one code not needed', quantity: 1 });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ order: { status: 'partially_refunded', refunded_fen: 3_000 }, refund: { amount_fen: 3_000, to: 'balance', status: 'succeeded' } });
    expect(await stateCounts(sku)).toEqual({ available: 3, delivered: 2 });
    expect(await balance()).toBe(14_000);

    const held = (await t.services.vault.codesOfOrder(order.id)).filter((c) => c.state === 'delivered').map((c) => c.id);
    const byCode = await refundCall(order.id, { reason: 'this one too', code_ids: [held[0]] });
    expect(byCode.json().order).toMatchObject({ status: 'partially_refunded', refunded_fen: 6_000 });
    // A code that is not (any more) this order's is refused by name, and nothing changes.
    const foreign = await refundCall(order.id, { reason: 'wrong code', code_ids: [held[0]] });
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().error.details[0]).toMatchObject({ field: 'code_ids' });
    const tooMany = await refundCall(order.id, { reason: 'more than there is', quantity: 2 });
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error.details[0]).toMatchObject({ field: 'quantity' });
    const both = await refundCall(order.id, { reason: 'both ways', quantity: 1, code_ids: [held[1]] });
    expect(both.statusCode).toBe(400);

    const rest = await refundCall(order.id, { reason: 'the rest' });
    expect(rest.json().order).toMatchObject({ status: 'refunded', refunded_fen: 9_000 });
    expect(await balance()).toBe(20_000);
    expect(await stateCounts(sku)).toEqual({ available: 5 });
    expect((await refundCall(order.id, { reason: 'again' })).statusCode).toBe(409);
    await booksClean();
  });

  it('a revealed code is refunded in part only by an after-sales decision, and voided', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 2_000, costFen: 1_500 });
    await stockCodes(t, sku, 3);
    const { agent, buy, balance } = await agentBuying(10_000);
    const order = await buy(sku, 2);
    await t.services.orders.revealCodes(order.id, { buyer: { type: 'agent', id: agent.id } });
    const refused = await refundCall(order.id, { reason: 'does not work', quantity: 1 });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.details.code).toBe('CODES_REVEALED');
    const decided = await refundCall(order.id, { reason: 'after-sales: invalid at the brand', quantity: 1, after_sales: true });
    expect(decided.json().order).toMatchObject({ status: 'partially_refunded', refunded_fen: 2_000 });
    expect(await stateCounts(sku)).toEqual({ available: 1, revealed: 1, voided: 1 });
    expect(await balance()).toBe(8_000);
    await booksClean();
  });
});

describe('refunds back through the payment provider', () => {
  async function paidByWeChat(quantity: number, priceFen = 2_500) {
    const sku = await createCodeSku(t, { retailPriceFen: priceFen, costFen: 1_000 });
    await stockCodes(t, sku, quantity + 2);
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: `cus_${Math.random().toString(36).slice(2)}` }, skuId: sku, quantity, channel: 'miniprogram', payment: 'external', provider: 'wechat' }, tx));
    const payment = await payments.start(order.id, 'wechat', { openid: 'o-refund-payer' });
    fake.pay(payment.trade_no);
    expect(await fake.sendNotification(payment.trade_no, { url: notifyUrl })).toEqual([204]);
    expect((await t.services.orders.get(order.id)).status).toBe('delivered');
    return { sku, order, payment };
  }
  const refundRow = async (id: string) => (await t.platform.database.executeSql<{ status: string; attempts: number; last_error: string | null; provider_refund_id: string | null; amount_fen: number }>('select status, attempts, last_error, provider_refund_id, amount_fen from refunds where id = $1', [id])).rows[0]!;
  const cashOut = async (refundId: string) => Number((await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from ledger_transactions where kind = 'refund_paid_out' and ref_id = $1`, [refundId])).rows[0]!.n);

  it('the money is owed until WeChat Pay confirms; the job asks again with the same refund number; cash leaves once', async () => {
    fake.behaviour.refundStatus = 'PROCESSING';
    const { sku, order, payment } = await paidByWeChat(2);
    const res = await refundCall(order.id, { reason: 'customer changed mind', quantity: 1 });
    expect(res.statusCode).toBe(200);
    const { refund } = res.json() as { refund: { id: string; status: string; amount_fen: number; to: string } };
    expect(refund).toMatchObject({ to: 'original', status: 'processing', amount_fen: 2_500 });
    expect(await stateCounts(sku)).toEqual({ available: 3, delivered: 1 });
    // Owed to the buyer, not yet paid out.
    expect(await t.services.ledger.balance(accounts.refundsPayable.id)).toBeGreaterThanOrEqual(2_500);
    expect(await cashOut(refund.id)).toBe(0);
    const wx = fake.refunds.get(refund.id)!;
    expect(wx).toMatchObject({ outTradeNo: payment.trade_no, refundFen: 2_500, totalFen: 5_000 });

    // Still processing at WeChat: the job asks again and changes nothing.
    await payments.sendPendingRefunds();
    expect(await refundRow(refund.id)).toMatchObject({ status: 'processing', attempts: 2 });
    wx.status = 'SUCCESS';
    await Promise.all([payments.sendPendingRefunds(), payments.sendPendingRefunds()]);
    expect(await refundRow(refund.id)).toMatchObject({ status: 'succeeded', provider_refund_id: wx.refundId });
    expect(await cashOut(refund.id)).toBe(1);
    await payments.sendPendingRefunds();
    expect(await cashOut(refund.id)).toBe(1);
    expect(fake.refunds.size).toBeGreaterThanOrEqual(1);
    expect([...fake.refunds.values()].filter((r) => r.outTradeNo === payment.trade_no)).toHaveLength(1);
    await booksClean();
  });

  it('a provider that cannot be reached keeps the refund owed and retried, never lost or paid twice', async () => {
    fake.behaviour.refundStatus = 'SUCCESS';
    const { order, payment } = await paidByWeChat(1, 4_000);
    fake.behaviour.responseSignature = 'wrong';
    const res = await refundCall(order.id, { reason: 'sold by mistake' });
    fake.behaviour.responseSignature = 'valid';
    const { refund } = res.json() as { refund: { id: string; status: string } };
    expect(res.json().order).toMatchObject({ status: 'refunded', refunded_fen: 4_000 });
    expect(refund.status).toBe('pending');
    const row = await refundRow(refund.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1 });
    expect(row.last_error).toBeTruthy();
    // The call did reach WeChat (only its answer could not be trusted): the retry with the same number finds it.
    expect(await payments.sendPendingRefunds()).toBeGreaterThanOrEqual(1);
    expect(await refundRow(refund.id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect([...fake.refunds.values()].filter((r) => r.outTradeNo === payment.trade_no)).toHaveLength(1);
    expect(await cashOut(refund.id)).toBe(1);
    await booksClean();
  });

  it('staff may send a provider-paid order\'s money to the buyer\'s balance instead', async () => {
    const { order } = await paidByWeChat(1, 1_800);
    const res = await refundCall(order.id, { reason: 'credited as store balance', to: 'balance' });
    expect(res.json()).toMatchObject({ order: { status: 'refunded' }, refund: { to: 'balance', status: 'succeeded', amount_fen: 1_800 } });
    expect(await t.services.ledger.balance(accounts.customerBalance(order.buyerId).id)).toBe(1_800);
    const balancePaid = await (await agentBuying(5_000)).buy(await (async () => {
      const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
      await stockCodes(t, sku, 1);
      return sku;
    })(), 1);
    const wrong = await refundCall(balancePaid.id, { reason: 'to the card please', to: 'original' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.details[0]).toMatchObject({ field: 'to' });
    await booksClean();
  });
});

describe('orders paid while sold out', () => {
  async function placeWeChatOrder(sku: string, key: { id: string; secret: string }) {
    const raw = JSON.stringify({ sku_id: sku, quantity: 2, payment: 'wechat', payer_openid: 'o-sold-out-payer' });
    const placed = await app.inject({ method: 'POST', url: '/open/v1/orders', payload: raw, headers: { 'content-type': 'application/json', 'idempotency-key': `sold-out-${Math.random().toString(36).slice(2)}`, ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', raw, clock.now()) } });
    expect(placed.statusCode, placed.body).toBe(201);
    const body = placed.json() as { order: { id: string }; payment: { trade_no: string } };
    return { id: body.order.id, tradeNo: body.payment.trade_no };
  }

  it('one waits and is completed on restock, oldest first; another takes its money back to the balance', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 500 });
    await stockCodes(t, sku, 4);
    const leader = await t.services.agents.create({ name: 'Leader', role: 'group_leader' });
    const key = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'agent', owner_id: leader.id, name: 'bot' } })).json() as { id: string; secret: string };
    const a = await placeWeChatOrder(sku, key);
    const b = await placeWeChatOrder(sku, key);
    // Both are paid at WeChat in time, but the notifications are late: the deadlines pass, the codes go back,
    // and someone else buys all but one.
    fake.pay(a.tradeNo);
    fake.pay(b.tradeNo);
    clock.advance(11 * MINUTE);
    await t.services.orders.cancelExpired();
    const other = await agentBuying(10_000);
    await other.buy(sku, 3);
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 3 });
    // Then both are paid, late: one code is not enough for either, and neither may keep it.
    for (const o of [a, b]) {
      expect(await fake.sendNotification(o.tradeNo, { url: notifyUrl })).toEqual([204]);
      expect((await t.services.orders.get(o.id)).status).toBe('paid_awaiting_stock');
    }
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 3 });
    await booksClean();

    const signed = (url: string, body: object) => {
      const raw = JSON.stringify(body);
      return app.inject({ method: 'POST', url, payload: raw, headers: { 'content-type': 'application/json', ...signedHeaders(key.id, key.secret, 'POST', url, raw, clock.now()) } });
    };
    expect((await signed(`/open/v1/orders/${a.id}/awaiting-choice`, { choice: 'wait' })).json()).toMatchObject({ status: 'paid_awaiting_stock' });
    const refunded = await signed(`/open/v1/orders/${b.id}/awaiting-choice`, { choice: 'refund_to_balance' });
    expect(refunded.json()).toMatchObject({ status: 'refunded', refunded_fen: 2_000 });
    expect((await signed(`/open/v1/orders/${b.id}/awaiting-choice`, { choice: 'wait' })).statusCode).toBe(409);

    // Not enough yet: nothing moves. Restocked: the waiting order is completed by the job.
    expect(await t.services.orders.fulfilAwaiting()).toBe(0);
    expect(await stateCounts(sku)).toEqual({ available: 1, delivered: 3 });
    await stockCodes(t, sku, 3);
    expect(await t.services.orders.fulfilAwaiting()).toBe(1);
    expect(await t.services.orders.get(a.id)).toMatchObject({ status: 'delivered', delivered_quantity: 2 });
    expect(await stateCounts(sku)).toEqual({ available: 2, delivered: 5 });
    expect(await t.services.orders.fulfilAwaiting()).toBe(0);
    await booksClean();
  });
});
