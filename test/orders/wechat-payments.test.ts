import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { ManualClock, MINUTE } from '../../src/lib/clock.js';
import type { PaymentService } from '../../src/modules/payments/service.js';
import type { FakeWeChatPay } from '../fakes/wechat-pay/server.js';
import { startAppWithWeChatPay, APP_ID } from '../payments/wechat-fixture.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let fake: FakeWeChatPay;
let payments: PaymentService;
let notifyUrl: string;
let wx: Awaited<ReturnType<typeof startAppWithWeChatPay>>;
beforeAll(async () => {
  t = await bootTestApp({ clock });
  wx = await startAppWithWeChatPay(t, clock);
  ({ fake, payments, notifyUrl } = wx);
});
afterAll(async () => {
  await wx.close();
  await t.close();
});

async function newOrder(quantity = 1) {
  const sku = await createCodeSku(t, { retailPriceFen: 2_500 });
  await stockCodes(t, sku, 3);
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: `cus_${Math.random().toString(36).slice(2)}` }, skuId: sku, quantity, channel: 'miniprogram', payment: 'external', provider: 'wechat' }, tx));
  const payment = await payments.start(order.id, 'wechat', { openid: 'o-payer-1' });
  return { sku, order, payment };
}
const outcomes = async (tradeNo: string) => (await t.platform.database.executeSql<{ outcome: string }>('select outcome from payment_notifications where trade_no = $1 order by id', [tradeNo])).rows.map((r) => r.outcome).sort();
const sold = async (sku: string) => Number((await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from code_events e join codes c on c.id = e.code_id where c.sku_id = $1 and e.to_state = 'sold'`, [sku])).rows[0]!.n);

describe('WeChat Pay v3 payments (against a local fake that signs with its own keys)', () => {
  it('a JSAPI payment: signed client parameters, then three simultaneous copies of the notification deliver once', async () => {
    const { sku, order, payment } = await newOrder(2);
    expect(payment.client_params).toMatchObject({ appId: APP_ID, signType: 'RSA', package: expect.stringMatching(/^prepay_id=/) });
    fake.pay(payment.trade_no);
    const statuses = await fake.sendNotification(payment.trade_no, { url: notifyUrl, times: 3, concurrent: true });
    expect(statuses).toEqual([204, 204, 204]);
    expect((await t.services.orders.get(order.id)).status).toBe('delivered');
    expect(await sold(sku)).toBe(2);
    expect(await outcomes(payment.trade_no)).toEqual(['applied', 'duplicate', 'duplicate']);
    // Again, later: still nothing more.
    expect(await fake.sendNotification(payment.trade_no, { url: notifyUrl })).toEqual([204]);
    expect(await sold(sku)).toBe(2);
    expect((await t.services.ledger.verify()).ok).toBe(true);
  });

  it('a forged notification is refused and logged; the order stays unpaid', async () => {
    const { order, payment } = await newOrder();
    fake.pay(payment.trade_no);
    for (const tamper of ['signature', 'serial', 'timestamp', 'ciphertext'] as const) {
      expect(await fake.sendNotification(payment.trade_no, { url: notifyUrl, tamper })).toEqual([401]);
    }
    expect((await t.services.orders.get(order.id)).status).toBe('pending_payment');
    const invalid = (await t.platform.database.executeSql<{ n: number }>(`select count(*)::int as n from payment_notifications where outcome = 'invalid_signature'`)).rows[0]!.n;
    expect(Number(invalid)).toBeGreaterThanOrEqual(4);
  });

  it('a genuine notification for the wrong amount does not pay the order', async () => {
    const { order, payment } = await newOrder();
    fake.pay(payment.trade_no, { amountFen: 1 });
    await fake.sendNotification(payment.trade_no, { url: notifyUrl });
    expect(await outcomes(payment.trade_no)).toEqual(['amount_mismatch']);
    expect((await t.services.orders.get(order.id)).status).toBe('pending_payment');
  });

  it('a notification that never came is caught by asking WeChat before the deadline cancels the order', async () => {
    const { order, payment } = await newOrder();
    fake.pay(payment.trade_no); // paid, but no notification
    const unpaid = await newOrder(); // never paid
    clock.advance(11 * MINUTE);
    for (const id of await t.services.orders.dueForCancel()) await payments.reconcile(id);
    await t.services.orders.cancelExpired();
    expect((await t.services.orders.get(order.id)).status).toBe('delivered');
    expect((await t.services.orders.get(unpaid.order.id)).status).toBe('cancelled');
  });
});
