// @vitest-environment jsdom
// Home/catalog -> product -> checkout against a real server: balance and WeChat Pay, subscribe consent, the server's
// refusals shown at the right field, and an idempotent retry after a cancelled payment.
import { describe, expect, it } from 'vitest';
import { createWxHarness, loadPage, mpApi, route, startMpServerForFile, uniq, type MpServer } from './harness.js';

const REMINDER_TEMPLATE = 'tmpl-expiry-reminder-0001';
let s: MpServer;
startMpServerForFile((server) => (s = server), { env: { WECHAT_MP_REMINDER_TEMPLATE_ID: REMINDER_TEMPLATE } });

const ordersOf = async (customerId: string) =>
  (await s.t.platform.database.executeSql<{ id: string; amount_fen: number; status: string; quantity: number }>("select id, amount_fen, status, quantity from orders where buyer_type = 'customer' and buyer_id = $1", [customerId])).rows;
const balanceOf = (customerId: string) => s.t.services.ledger.balance(s.t.services.orders.buyerAccount({ type: 'customer', id: customerId }).id);

describe('shop pages', () => {
  it('home renders the real SKUs with their prices; a tap opens the product, whose buy button opens checkout', async () => {
    const a = await s.stockSku({ name: `Coffee ${uniq()}`, priceFen: 2_350, count: 2 });
    const b = await s.stockSku({ name: `Movie ${uniq()}`, priceFen: 4_000, count: 1 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const home = await loadPage('index', {}, wxh);
    expect(home.text(`#sku-${a.skuId}`)).toContain('¥23.50');
    expect(home.text(`#sku-${b.skuId}`)).toContain('¥40.00');
    // The first call logged in through wx.login; the catalog call carried the session.
    expect(wxh.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['POST /mp/v1/login 200', 'GET /mp/v1/catalog?limit=20 200']);

    await home.tap(`#sku-${a.skuId}`);
    const toProduct = route(wxh.callsOf('navigateTo')[0]!.url as string);
    expect(toProduct).toEqual({ name: 'product', query: { sku: a.skuId } });
    const product = await loadPage(toProduct.name, toProduct.query, wxh);
    expect(product.text('#price')).toBe('¥23.50');
    expect(product.text('#title')).toContain('Coffee');
    await product.tap('#buy');
    expect(route(wxh.callsOf('navigateTo')[1]!.url as string)).toEqual({ name: 'checkout', query: { sku: a.skuId } });
  });

  it('checkout with balance: asks the reminder consent, creates the order with an Idempotency-Key and opens it', async () => {
    const { skuId } = await s.stockSku({ priceFen: 2_000, count: 3 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 10_000);
    const page = await loadPage('checkout', { sku: skuId }, wxh);
    await page.tap('#qty-inc');
    expect(page.data.quantity).toBe(2);
    expect(page.text('#total')).toBe('¥40.00');
    await page.tap('#pay-balance');
    await page.tap('#submit');

    expect(wxh.callsOf('requestSubscribeMessage')).toEqual([{ tmplIds: [REMINDER_TEMPLATE] }]);
    const consent = wxh.requests.find((r) => r.path === '/mp/v1/subscriptions');
    expect(consent).toMatchObject({ method: 'POST', status: 201 });
    const [order] = await ordersOf(me.customerId);
    expect(order).toMatchObject({ amount_fen: 4_000, quantity: 2, status: 'delivered' });
    expect(wxh.callsOf('redirectTo')).toEqual([{ url: `/pages/order/index?id=${order!.id}` }]);
    expect(await balanceOf(me.customerId)).toBe(6_000);
    expect(page.data.error).toBe('');
  });

  it('checkout with WeChat Pay calls wx.requestPayment with the server-signed params; a cancel keeps the key, so paying again is the same order', async () => {
    const { skuId } = await s.stockSku({ priceFen: 2_500, count: 2 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const page = await loadPage('checkout', { sku: skuId }, wxh);
    await page.tap('#pay-wechat');
    wxh.respond.requestPayment = 'cancel';
    await page.tap('#submit');

    const [order] = await ordersOf(me.customerId);
    expect(order).toMatchObject({ status: 'pending_payment', amount_fen: 2_500 });
    const tradeNo = (await s.t.platform.database.executeSql<{ trade_no: string }>('select trade_no from payments where order_id = $1', [order!.id])).rows[0]!.trade_no;
    const [params] = wxh.callsOf('requestPayment');
    expect(params).toMatchObject({ appId: expect.any(String), timeStamp: expect.any(String), nonceStr: expect.any(String), package: expect.stringMatching(/^prepay_id=/), signType: 'RSA', paySign: expect.any(String) });
    // Exactly what the fake WeChat Pay issued for this trade: the page passes the server's signed params through.
    const created = s.pay.fake.requests.filter((r) => r.path === '/v3/pay/transactions/jsapi').map((r) => JSON.parse(r.body) as { out_trade_no: string; payer: { openid: string } });
    expect(created.find((r) => r.out_trade_no === tradeNo)?.payer.openid).toBe(me.openid);
    expect(page.text('#error')).toContain('支付已取消');
    expect(page.data.errorField).toBe('payment');
    expect(wxh.callsOf('redirectTo')).toEqual([]);

    // Paying again: the same Idempotency-Key replays the same order, and this time the payment succeeds.
    wxh.respond.requestPayment = 'ok';
    await page.tap('#submit');
    expect((await ordersOf(me.customerId)).map((o) => o.id)).toEqual([order!.id]);
    expect(wxh.callsOf('requestPayment')).toHaveLength(2);
    expect(wxh.callsOf('redirectTo')).toEqual([{ url: `/pages/order/index?id=${order!.id}` }]);
    const posts = wxh.requests.filter((r) => r.method === 'POST' && r.path === '/mp/v1/orders').map((r) => r.status);
    expect(posts).toEqual([201, 200]);
  });

  it('a coupon lowers the total and the order; a refusal (too little balance, out of stock) shows the server message and changes nothing', async () => {
    const { skuId } = await s.stockSku({ priceFen: 3_000, count: 1 });
    const template = await s.couponTemplate({ amountOffFen: 500 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const coupon = (await mpApi().claimCoupon(template, `c-${uniq()}`)) as { id: string };
    await s.fund(me.customerId, 2_000);

    const page = await loadPage('checkout', { sku: skuId }, wxh);
    await page.tap(`#coupon-${coupon.id}`);
    expect(page.text('#discount')).toBe('-¥5.00');
    expect(page.text('#total')).toBe('¥25.00');
    await page.tap('#submit');
    // 2000 fen is not enough for 2500: the server's words, nothing bought.
    const poor = wxh.requests.filter((r) => r.path === '/mp/v1/orders').map((r) => r.status);
    expect(poor).toHaveLength(1);
    expect(poor[0]).toBeGreaterThanOrEqual(400);
    expect(poor[0]).toBeLessThan(500);
    expect(page.text('#error')).toBe('insufficient balance');
    expect(await ordersOf(me.customerId)).toEqual([]);

    await s.fund(me.customerId, 500);
    await page.tap('#submit');
    const [order] = await ordersOf(me.customerId);
    expect(order).toMatchObject({ amount_fen: 2_500, status: 'delivered' });
    expect(await balanceOf(me.customerId)).toBe(0);

    // The SKU is sold out now: a second customer gets the server's out-of-stock message.
    const other = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const bob = await other.signIn();
    await s.fund(bob.customerId, 5_000);
    const again = await loadPage('checkout', { sku: skuId }, other);
    await again.tap('#submit');
    const refused = other.requests.find((r) => r.path === '/mp/v1/orders')!;
    expect(refused.status).toBe(409);
    expect(again.text('#error')).toBe('only 0 of 1 codes are available');
    expect(await ordersOf(bob.customerId)).toEqual([]);
  });

  it('a coupon the order does not qualify for is refused by the server, shown at the coupon field; without it the order goes through', async () => {
    const { skuId } = await s.stockSku({ priceFen: 1_000, count: 1 });
    const template = await s.couponTemplate({ amountOffFen: 300, minAmountFen: 50_000 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const coupon = (await mpApi().claimCoupon(template, `c-${uniq()}`)) as { id: string };
    await s.fund(me.customerId, 1_000);
    const page = await loadPage('checkout', { sku: skuId }, wxh);
    await page.tap(`#coupon-${coupon.id}`);
    // Below the coupon's threshold the page estimates nothing off; the server decides.
    expect(page.exists('#discount')).toBe(false);
    await page.tap('#submit');
    expect(page.data.errorField).toBe('coupon_id');
    expect(page.data.error).not.toBe('');
    expect(page.data.error).not.toMatch(/^coupon_id:/);
    expect(await ordersOf(me.customerId)).toEqual([]);
    await page.tap(`#coupon-${coupon.id}`);
    await page.tap('#submit');
    expect(await ordersOf(me.customerId)).toEqual([expect.objectContaining({ amount_fen: 1_000, status: 'delivered' })]);
    expect(page.data.errorField).toBe('');
  });
});
