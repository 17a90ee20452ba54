import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import type { OrderOffer } from '../../src/modules/orders/service.js';

/**
 * The orders side of marketing: offers that price an order, the customer's
 * promotional balance spent before cash and given back in proportion,
 * promotion-paid orders (points, CDKs), and group-buy orders that wait,
 * paid and holding no codes, until their group fills or expires.
 */
let t: TestApp;
let finance: string;
beforeAll(async () => {
  t = await bootTestApp({ env: { RISK_SEED_RULES: 'false' } });
  finance = (await t.loginAs('finance')).token;
});
afterAll(async () => t?.close());

const booksClean = async () => {
  const books = await verifyBooks(t.platform);
  expect(books.checks.filter((c) => !c.ok).map((c) => ({ name: c.name, samples: c.samples.slice(0, 2) }))).toEqual([]);
};
const balance = (id: string) => t.services.ledger.balance(id);

/** A customer with cash and promotional balance. */
async function customerWith(cashFen: number, promoFen: number) {
  const { customerId } = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: `tg-${Math.random().toString(36).slice(2)}` } });
  if (cashFen) await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: cashFen, reference: 'top-up' } });
  if (promoFen) await t.platform.db.transaction((tx) => t.services.ledger.post(tx, { kind: 'promotion_bonus', refType: 'test', refId: customerId, postings: [{ account: accounts.promotionExpense, amountFen: -promoFen }, { account: accounts.customerPromo(customerId), amountFen: promoFen }] }));
  return {
    id: customerId,
    cash: () => balance(accounts.customerBalance(customerId).id),
    promo: () => balance(accounts.customerPromo(customerId).id),
    buy: (skuId: string, quantity: number, extra: { offer?: OrderOffer; paidBy?: 'promotion'; awaitGroup?: boolean } = {}) =>
      t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId, quantity, channel: 'miniprogram', payment: 'balance', ...extra }, tx)),
  };
}

describe('promotional balance', () => {
  it('is spent before cash, and a refund gives each back in proportion (promotional money never becomes cash)', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 600 });
    await stockCodes(t, sku, 4);
    const c = await customerWith(5_000, 1_500);
    const order = await c.buy(sku, 3);
    expect(order.status).toBe('delivered');
    expect(order.promoPaidFen).toBe(1_500);
    expect([await c.promo(), await c.cash()]).toEqual([0, 3_500]);
    // One unit of three back: a third of the promotional part (500) and of the cash part (500).
    await t.services.orders.refund(order.id, { reason: 'one code unused', quantity: 1 }, { id: 'stf_test' });
    expect([await c.promo(), await c.cash()]).toEqual([500, 4_000]);
    await t.services.orders.refund(order.id, { reason: 'the rest' }, { id: 'stf_test' });
    expect([await c.promo(), await c.cash()]).toEqual([1_500, 5_000]);
    await booksClean();
  });

  it('covers an order wholly when it is enough, and a customer short of both is refused without touching stock', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 800, costFen: 500 });
    await stockCodes(t, sku, 2);
    const rich = await customerWith(0, 1_000);
    expect((await rich.buy(sku, 1)).promoPaidFen).toBe(800);
    expect(await rich.promo()).toBe(200);
    const poor = await customerWith(100, 100);
    await expect(poor.buy(sku, 1)).rejects.toMatchObject({ details: { code: 'INSUFFICIENT_FUNDS' } });
    expect([await poor.promo(), await poor.cash()]).toEqual([100, 100]);
    const [left] = (await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from codes where sku_id = $1 and state = 'available'`, [sku])).rows;
    expect(Number(left!.n)).toBe(1);
  });
});

describe('offers and promotion-paid orders', () => {
  it('an offer prices the order and is recorded with its campaign; a promotion-paid order moves no buyer money and refunds to the promotion budget', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 2_000, costFen: 1_200 });
    await stockCodes(t, sku, 3);
    const c = await customerWith(3_000, 0);
    const flash = await c.buy(sku, 1, { offer: { kind: 'flash_sale', id: 'fls_TEST', unitPriceFen: 990, campaignId: 'cmp_TEST' } });
    expect([flash.unitPriceFen, flash.amountFen, flash.offerKind, flash.offerId, flash.campaignId]).toEqual([990, 990, 'flash_sale', 'fls_TEST', 'cmp_TEST']);
    expect(await c.cash()).toBe(2_010);

    const promotionBefore = await balance(accounts.promotionExpense.id);
    const gift = await c.buy(sku, 1, { offer: { kind: 'points', id: 'pxi_TEST', unitPriceFen: 2_000 }, paidBy: 'promotion' });
    expect([gift.status, gift.paymentProvider]).toEqual(['delivered', 'promotion']);
    expect(await c.cash()).toBe(2_010);
    expect(await balance(accounts.promotionExpense.id)).toBe(promotionBefore - 2_000);
    // Goods from the promotion budget earn no commission: the accrual scan passes them by.
    await t.services.commissions.accrueDelivered();
    const marked = (await t.platform.database.executeSql<{ order_id: string }>('select order_id from commission_accruals where order_id = any($1::text[])', [[flash.id, gift.id]])).rows.map((r) => r.order_id);
    expect(marked).toEqual([flash.id]);
    const refunded = await t.services.payments.refundOrder(gift.id, { reason: 'wrong item' }, { id: 'stf_test' });
    expect(refunded.order.status).toBe('refunded');
    expect(await c.cash()).toBe(2_010);
    expect(await balance(accounts.promotionExpense.id)).toBe(promotionBefore);
    await booksClean();
  });
});

describe('group-buy orders', () => {
  it('wait paid with no codes, tell the group module, and are delivered when released or refunded whole', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 500 });
    await stockCodes(t, sku, 2);
    const seen: string[] = [];
    t.services.orders.onStatus('awaiting_group', async (_tx, order) => void seen.push(order.id));
    const a = await customerWith(2_000, 0);
    const b = await customerWith(2_000, 0);
    const offer: OrderOffer = { kind: 'group_buy', id: 'gbg_TEST', unitPriceFen: 700 };
    const first = await a.buy(sku, 1, { offer, awaitGroup: true });
    const second = await b.buy(sku, 1, { offer, awaitGroup: true });
    expect([first.status, second.status, first.deliveredQuantity]).toEqual(['awaiting_group', 'awaiting_group', 0]);
    expect(seen).toEqual([first.id, second.id]);
    expect([await a.cash(), await b.cash()]).toEqual([1_300, 1_300]);
    expect((await t.services.vault.codesOfOrder(first.id)).length).toBe(0);
    await booksClean();

    const released = await t.platform.db.transaction((tx) => t.services.orders.releaseGroupOrder(tx, first.id));
    expect([released.status, released.delivered_quantity]).toEqual(['delivered', 1]);
    await expect(t.platform.db.transaction((tx) => t.services.orders.releaseGroupOrder(tx, first.id))).rejects.toMatchObject({ code: 'CONFLICT' });

    const back = await t.platform.db.transaction((tx) => t.services.orders.refundInTx(tx, second.id, { reason: 'group expired' }, { id: 'system', type: 'system' }));
    expect([back.order.status, back.amountFen]).toEqual(['refunded', 700]);
    expect(await b.cash()).toBe(2_000);
    await booksClean();
  });
});
