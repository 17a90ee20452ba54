import { describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, mpLogin, uniq, type MpSession } from '../helpers/mp-app.js';
import { ManualClock } from '../../src/lib/clock.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startAppWithWeChatPay, APP_ID as PAY_APPID } from '../payments/wechat-fixture.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let wx: FakeWechatMp;
let operations: string;
let finance: string;
bootMpAppForFile(
  async (app) => {
    ({ t, wx } = app);
    operations = (await t.loginAs('operations')).token;
    finance = (await t.loginAs('finance')).token;
  },
  { clock, env: { SESSION_TTL_MINUTES: '43200' } },
);

type Session = MpSession;
const login = () => mpLogin({ t, wx });
const mp = (s: Session, method: 'GET' | 'POST', url: string, payload?: object, idem?: string) =>
  t.inject({ method, url, payload, headers: { ...bearer(s.token), ...(idem ? { 'idempotency-key': idem } : {}) } });
async function fund(s: Session, amountFen: number) {
  const res = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: s.customerId, amount_fen: amountFen, reference: `topup-${uniq()}` } });
  expect(res.statusCode, res.body).toBe(200);
}
const balanceOf = (customerId: string) => t.services.ledger.balance(t.services.orders.buyerAccount({ type: 'customer', id: customerId }).id);

describe('mini-program customer API (/mp/v1)', () => {
  it('browse, buy with balance, reveal, see it in the wallet, gift it to a second customer who claims it', async () => {
    const sku = await createCodeSku(t, { name: `MP card ${uniq()}`, retailPriceFen: 9_600 });
    const [secret] = await stockCodes(t, sku, 1);
    const giftSku = await createCodeSku(t, { retailPriceFen: 5_000 });
    const [giftSecret] = await stockCodes(t, giftSku, 1);
    const alice = await login();
    const bob = await login();

    // The catalog shows the SKU with the customer's price, never costs.
    let found: { skus: { id: string; price_fen: number }[] } | undefined;
    let cursor: string | null = null;
    do {
      const page = await mp(alice, 'GET', `/mp/v1/catalog?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.statusCode, page.body).toBe(200);
      found ??= page.json().data.find((p: { skus: { id: string }[] }) => p.skus.some((s) => s.id === sku));
      cursor = page.json().next_cursor;
    } while (!found && cursor);
    expect(found!.skus.find((s) => s.id === sku)).toMatchObject({ price_fen: 9_600 });
    expect(JSON.stringify(found)).not.toContain('cost_fen');
    const one = await mp(alice, 'GET', `/mp/v1/catalog/skus/${sku}`);
    expect(one.statusCode).toBe(200);
    expect(one.json().sku).toMatchObject({ id: sku, price_fen: 9_600 });

    await fund(alice, 20_000);
    const key = `mp-order-${uniq()}`;
    const bought = await mp(alice, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, key);
    expect(bought.statusCode, bought.body).toBe(201);
    const order = bought.json().order;
    expect(order).toMatchObject({ buyer_type: 'customer', buyer_id: alice.customerId, status: 'delivered', amount_fen: 9_600, channel: 'miniprogram' });
    // Delivered but not revealed: the customer taps to reveal (and could gift it until then).
    expect(bought.json().codes).toEqual([]);
    expect((await mp(alice, 'GET', '/mp/v1/wallet')).json().data).toEqual([expect.objectContaining({ sku_id: sku, group: 'ready', giftable: true })]);
    expect(await balanceOf(alice.customerId)).toBe(20_000 - 9_600);

    // An idempotent retry replays the same order (no second charge, no second order).
    const replay = await mp(alice, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, key);
    expect(replay.statusCode).toBe(200);
    expect(replay.json().order.id).toBe(order.id);
    expect(await balanceOf(alice.customerId)).toBe(20_000 - 9_600);
    // The same key with another body is refused.
    expect((await mp(alice, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 2, payment: 'balance' }, key)).statusCode).toBe(422);

    const listed = await mp(alice, 'GET', '/mp/v1/orders?limit=10');
    expect(listed.json().data.map((o: { id: string }) => o.id)).toEqual([order.id]);
    expect((await mp(alice, 'GET', `/mp/v1/orders/${order.id}`)).json()).toMatchObject({ id: order.id, status: 'delivered' });
    const revealed = await mp(alice, 'POST', `/mp/v1/orders/${order.id}/reveal`);
    expect(revealed.statusCode).toBe(200);
    expect(revealed.json().codes[0].secret).toBe(secret);

    // Another customer: the order does not exist for them.
    expect((await mp(bob, 'GET', `/mp/v1/orders/${order.id}`)).statusCode).toBe(404);
    expect((await mp(bob, 'POST', `/mp/v1/orders/${order.id}/reveal`)).statusCode).toBe(404);
    expect((await mp(bob, 'GET', '/mp/v1/orders')).json().data).toEqual([]);

    // The wallet shows the revealed code, masked.
    const wallet = await mp(alice, 'GET', '/mp/v1/wallet');
    expect(wallet.statusCode, wallet.body).toBe(200);
    const item = wallet.json().data.find((c: { sku_id: string }) => c.sku_id === sku);
    expect(item).toMatchObject({ group: 'revealed', acquired: 'purchase', order_id: order.id });
    expect(wallet.body).not.toContain(secret);

    // A second, unrevealed code is gifted and claimed by bob: it moves to bob's wallet; alice no longer sees it.
    const second = await mp(alice, 'POST', '/mp/v1/orders', { sku_id: giftSku, quantity: 1, payment: 'balance' }, `mp-order-${uniq()}`);
    expect(second.statusCode, second.body).toBe(201);
    const codeId = (await mp(alice, 'GET', '/mp/v1/wallet?state=ready')).json().data.find((c: { sku_id: string }) => c.sku_id === giftSku).id as string;
    expect((await mp(bob, 'POST', `/mp/v1/wallet/codes/${codeId}/gift`, {}, `gift-${uniq()}`)).statusCode).toBe(404);
    const gift = await mp(alice, 'POST', `/mp/v1/wallet/codes/${codeId}/gift`, { message: 'for you' }, `gift-${uniq()}`);
    expect(gift.statusCode, gift.body).toBe(201);
    const claimed = await mp(bob, 'POST', '/mp/v1/wallet/gifts/claim', { token: gift.json().token });
    expect(claimed.statusCode, claimed.body).toBe(200);
    expect(claimed.json()).toMatchObject({ code_id: codeId, gift: { status: 'claimed' } });
    expect((await mp(alice, 'POST', `/mp/v1/wallet/gifts/${gift.json().id}/cancel`)).statusCode).toBe(409);
    expect((await mp(bob, 'GET', '/mp/v1/wallet')).json().data).toEqual([expect.objectContaining({ id: codeId, acquired: 'gift' })]);
    expect((await mp(alice, 'GET', '/mp/v1/wallet')).json().data.map((c: { id: string }) => c.id)).not.toContain(codeId);
    expect((await mp(alice, 'POST', `/mp/v1/wallet/codes/${codeId}/reveal`)).statusCode).toBe(404);
    const bobReveal = await mp(bob, 'POST', `/mp/v1/wallet/codes/${codeId}/reveal`);
    expect(bobReveal.statusCode).toBe(200);
    expect(bobReveal.json().secret).toBe(giftSecret);
  });

  it('a gift not yet claimed can be cancelled by its giver; its token then fails', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 1_000 });
    await stockCodes(t, sku, 1);
    const a = await login();
    const b = await login();
    await fund(a, 1_000);
    expect((await mp(a, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, `o-${uniq()}`)).statusCode).toBe(201);
    const codeId = (await mp(a, 'GET', '/mp/v1/wallet')).json().data[0].id as string;
    const giftRes = await mp(a, 'POST', `/mp/v1/wallet/codes/${codeId}/gift`, {}, `g-${uniq()}`);
    expect(giftRes.statusCode, giftRes.body).toBe(201);
    const gift = giftRes.json();
    expect((await mp(b, 'POST', `/mp/v1/wallet/gifts/${gift.id}/cancel`)).statusCode).toBe(404);
    expect((await mp(a, 'POST', `/mp/v1/wallet/gifts/${gift.id}/cancel`)).json()).toMatchObject({ status: 'cancelled' });
    expect((await mp(b, 'POST', '/mp/v1/wallet/gifts/claim', { token: gift.token })).statusCode).toBe(409);
    expect((await mp(a, 'GET', '/mp/v1/wallet')).json().data.map((c: { id: string }) => c.id)).toEqual([codeId]);
  });

  it('a coupon claimed in the mini-program is used on an order; an after-sales ticket is opened on it', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 1);
    const tpl = await t.inject({ method: 'POST', url: '/admin/marketing/coupon-templates', headers: bearer(operations), payload: { name: `mp coupon ${uniq()}`, kind: 'fixed', amount_off_fen: 1_000, valid_days: 30, claimable: true } });
    expect(tpl.statusCode, tpl.body).toBe(201);
    const c = await login();
    const claimKey = `claim-${uniq()}`;
    const claim = await mp(c, 'POST', '/mp/v1/coupons/claim', { template_id: tpl.json().id }, claimKey);
    expect(claim.statusCode, claim.body).toBe(201);
    expect((await mp(c, 'POST', '/mp/v1/coupons/claim', { template_id: tpl.json().id }, claimKey)).json().id).toBe(claim.json().id);
    const mine = (await mp(c, 'GET', '/mp/v1/coupons?state=available')).json().data.map((x: { id: string }) => x.id);
    expect(mine).toContain(claim.json().id);

    await fund(c, 8_600);
    const res = await mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', coupon_id: claim.json().id }, `o-${uniq()}`);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().order).toMatchObject({ discount_fen: 1_000, amount_fen: 8_600, coupon_id: claim.json().id });
    expect(await balanceOf(c.customerId)).toBe(0);
    const used = (await mp(c, 'GET', '/mp/v1/coupons?state=used')).json().data;
    expect(used).toEqual([expect.objectContaining({ id: claim.json().id, order_id: res.json().order.id })]);

    const codeId = (await mp(c, 'POST', `/mp/v1/orders/${res.json().order.id}/reveal`)).json().codes[0].code_id as string;
    const ticketKey = `ast-${uniq()}`;
    const ticket = await mp(c, 'POST', '/mp/v1/after-sales', { order_id: res.json().order.id, code_ids: [codeId], description: 'the brand says the code is invalid' }, ticketKey);
    expect(ticket.statusCode, ticket.body).toBe(201);
    expect(ticket.json()).toMatchObject({ customer_id: c.customerId, order_id: res.json().order.id, code_ids: [codeId], status: 'open' });
    expect((await mp(c, 'POST', '/mp/v1/after-sales', { order_id: res.json().order.id, code_ids: [codeId], description: 'the brand says the code is invalid' }, ticketKey)).json().id).toBe(ticket.json().id);
    expect((await mp(c, 'GET', '/mp/v1/after-sales')).json().data.map((x: { id: string }) => x.id)).toEqual([ticket.json().id]);
    expect((await mp(c, 'GET', `/mp/v1/after-sales/${ticket.json().id}`)).statusCode).toBe(200);
    const other = await login();
    expect((await mp(other, 'GET', `/mp/v1/after-sales/${ticket.json().id}`)).statusCode).toBe(404);
    expect((await mp(other, 'POST', '/mp/v1/after-sales', { order_id: res.json().order.id, code_ids: [codeId], description: 'mine?' }, `ast-${uniq()}`)).statusCode).toBe(404);
  });

  it('racing retries with one Idempotency-Key make one order and one charge', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 3_000 });
    await stockCodes(t, sku, 3);
    const c = await login();
    await fund(c, 9_000);
    const key = `race-${uniq()}`;
    const results = await Promise.all(Array.from({ length: 6 }, () => mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, key)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json().order.id)).size).toBe(1);
    const [{ n }] = (await t.platform.database.executeSql<{ n: number }>("select count(*)::int as n from orders where buyer_type = 'customer' and buyer_id = $1", [c.customerId])).rows as [{ n: number }];
    expect(n).toBe(1);
    expect(await balanceOf(c.customerId)).toBe(6_000);
  });

  it('paying with WeChat: server-signed wx.requestPayment params for the customer\'s own openid; the notification delivers', async () => {
    const pay = await startAppWithWeChatPay(t, clock);
    try {
      const sku = await createCodeSku(t, { retailPriceFen: 2_500 });
      await stockCodes(t, sku, 1);
      const openid = `o_${uniq()}`;
      wx.loginCode('pay-login', { openid });
      const session = (await pay.app.inject({ method: 'POST', url: '/mp/v1/login', payload: { code: 'pay-login' } })).json();
      const res = await pay.app.inject({ method: 'POST', url: '/mp/v1/orders', payload: { sku_id: sku, quantity: 1, payment: 'wechat' }, headers: { ...bearer(session.token), 'idempotency-key': `wx-${uniq()}` } });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().order).toMatchObject({ status: 'pending_payment', payment_provider: 'wechat', buyer_id: session.customer.id });
      const payment = res.json().payment;
      expect(payment.client_params).toMatchObject({ appId: PAY_APPID, signType: 'RSA', package: expect.stringMatching(/^prepay_id=/), paySign: expect.any(String) });
      const created = pay.fake.requests.filter((r) => r.path === '/v3/pay/transactions/jsapi').map((r) => JSON.parse(r.body) as { out_trade_no: string; payer: { openid: string } });
      expect(created.find((r) => r.out_trade_no === payment.trade_no)?.payer.openid).toBe(openid);
      pay.fake.pay(payment.trade_no);
      expect(await pay.fake.sendNotification(payment.trade_no, { url: pay.notifyUrl, times: 1 })).toEqual([204]);
      const order = await pay.app.inject({ method: 'GET', url: `/mp/v1/orders/${res.json().order.id}`, headers: bearer(session.token) });
      expect(order.json().status).toBe('delivered');
    } finally {
      await pay.close();
    }
  });

  it('bad input is 400 with nothing written; balance too low is refused without an order', async () => {
    const sku = await createCodeSku(t, { retailPriceFen: 9_600 });
    await stockCodes(t, sku, 1);
    const c = await login();
    expect((await mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' })).statusCode).toBe(400);
    expect((await mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 0, payment: 'balance' }, `o-${uniq()}`)).statusCode).toBe(400);
    expect((await mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'stars' }, `o-${uniq()}`)).statusCode).toBe(400);
    const poor = await mp(c, 'POST', '/mp/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance' }, `o-${uniq()}`);
    expect(poor.statusCode).toBeGreaterThanOrEqual(400);
    expect(poor.statusCode).toBeLessThan(500);
    expect((await mp(c, 'GET', '/mp/v1/orders')).json().data).toEqual([]);
  });

  it('every /mp/v1 route refuses a request without a session token (401)', async () => {
    const routes: [string, string][] = [
      ['GET', '/mp/v1/catalog'], ['GET', '/mp/v1/catalog/skus/sku_01JBW3K8X7Y2Z5Q9R4T6V8N0M1'], ['POST', '/mp/v1/orders'], ['GET', '/mp/v1/orders'], ['GET', '/mp/v1/orders/ord_01JBW3K8X7Y2Z5Q9R4T6V8N0M1'],
      ['POST', '/mp/v1/orders/ord_01JBW3K8X7Y2Z5Q9R4T6V8N0M1/reveal'], ['GET', '/mp/v1/wallet'], ['POST', '/mp/v1/wallet/codes/cod_01JBW3K8X7Y2Z5Q9R4T6V8N0M1/reveal'],
      ['POST', '/mp/v1/wallet/codes/cod_01JBW3K8X7Y2Z5Q9R4T6V8N0M1/gift'], ['POST', '/mp/v1/wallet/gifts/claim'], ['POST', '/mp/v1/wallet/gifts/gft_01JBW3K8X7Y2Z5Q9R4T6V8N0M1/cancel'],
      ['GET', '/mp/v1/coupons'], ['POST', '/mp/v1/coupons/claim'], ['POST', '/mp/v1/after-sales'], ['GET', '/mp/v1/after-sales'],
    ];
    for (const [method, url] of routes) {
      const res = await t.inject({ method: method as 'GET' | 'POST', url, payload: method === 'POST' ? {} : undefined });
      expect(res.statusCode, `${method} ${url}`).toBe(401);
      expect((await t.inject({ method: method as 'GET' | 'POST', url, headers: bearer('not-a-token'), payload: method === 'POST' ? {} : undefined })).statusCode).toBe(401);
    }
  });
});
