// @vitest-environment jsdom
// After paying: an order paid while sold out offers "keep waiting" or "refund" (both branches, and a refund whose
// answer was lost retried with the same key), and a code a store accepts is shown at the store as a short-lived QR
// token with a countdown.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { soldOutOrder as soldOut } from '../helpers/sold-out.js';
import { accounts } from '../../src/modules/ledger/accounts.js';
import { createWxHarness, loadPage, mpApi, startMpServerForFile, uniq, type MpServer, type WxHarness } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));
afterEach(() => {
  vi.useRealTimers();
});

const soldOutOrder = async (customerId: string, priceFen: number) => (await soldOut(s.t, s.clock, customerId, priceFen)).orderId;
const balanceOf = (customerId: string) => s.t.services.ledger.balance(accounts.customerBalance(customerId).id);

/** Records the Idempotency-Key of each order-choice request; `loseNext` lets the server answer but tells the page the network failed. */
function watchChoices(wxh: WxHarness) {
  const keys: string[] = [];
  const state = { loseNext: false };
  const request = wxh.wx.request as (o: Record<string, any>) => unknown;
  wxh.wx.request = (o: Record<string, any>) => {
    if (!String(o.url).endsWith('/choice')) return request(o);
    keys.push(o.header['idempotency-key']);
    if (!state.loseNext) return request(o);
    state.loseNext = false;
    return request({ ...o, success: () => o.fail({ errMsg: 'request:fail timeout' }) });
  };
  return { keys, state };
}

describe('order page: paid while sold out', () => {
  it('"keep waiting" records the choice and keeps the order waiting; refund stays offered', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const orderId = await soldOutOrder(me.customerId, 3_000);
    const { keys } = watchChoices(wxh);

    const page = await loadPage('order', { id: orderId }, wxh);
    expect(page.text('#status')).toBe('等待补货');
    expect(page.exists('#sold-out')).toBe(true);
    expect(page.exists('#reveal')).toBe(false);
    await page.tap('#choice-wait');
    expect(wxh.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/mp/v1/orders')).map((r) => [r.path, r.status])).toEqual([[`/mp/v1/orders/${orderId}/choice`, 200]]);
    expect(keys).toHaveLength(1);
    expect(page.text('#notice')).toBe('已选择继续等待，补货后自动发货');
    expect(page.text('#status')).toBe('等待补货');
    expect(page.exists('#choice-wait')).toBe(false);
    expect(page.exists('#choice-refund')).toBe(true);
    expect((await s.t.services.orders.getRow(orderId))!.awaitingChoice).toBe('wait');
    // Waiting asks for no confirmation.
    expect(wxh.callsOf('showModal')).toEqual([]);
    expect(page.text('#waiting-stock')).toBe('正在等待补货，到货后自动发货；仍可随时退款到余额。');

    // Opened again later: the order view carries the recorded choice, so "keep waiting" is not offered a second time.
    const view = wxh.requests.length;
    const again = await loadPage('order', { id: orderId }, wxh);
    expect(wxh.requests.slice(view).map((r) => [r.method, r.path])).toEqual([['GET', `/mp/v1/orders/${orderId}`]]);
    expect(again.exists('#sold-out')).toBe(true);
    expect(again.exists('#choice-wait')).toBe(false);
    expect(again.exists('#choice-refund')).toBe(true);
    expect(again.text('#waiting-stock')).toBe('正在等待补货，到货后自动发货；仍可随时退款到余额。');
  });

  it('an order still undecided offers both choices and no waiting line; its view says awaiting_choice null', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const orderId = await soldOutOrder(me.customerId, 2_000);
    const page = await loadPage('order', { id: orderId }, wxh);
    expect([page.exists('#choice-wait'), page.exists('#choice-refund'), page.exists('#waiting-stock')]).toEqual([true, true, false]);
    expect(((await mpApi().order(orderId)) as { awaiting_choice: string | null }).awaiting_choice).toBeNull();
  });

  it('"refund" asks first; a declined dialog sends nothing; a refund whose answer was lost is retried with the same key and refunds once', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    const orderId = await soldOutOrder(me.customerId, 4_000);
    const before = await balanceOf(me.customerId);
    const { keys, state } = watchChoices(wxh);
    const page = await loadPage('order', { id: orderId }, wxh);

    wxh.respond.modalConfirm = false;
    await page.tap('#choice-refund');
    expect(wxh.callsOf('showModal')).toHaveLength(1);
    expect(keys).toEqual([]);

    // The server refunds, but the phone never hears it (timeout): the page says so, the order still looks waiting.
    wxh.respond.modalConfirm = true;
    state.loseNext = true;
    await page.tap('#choice-refund');
    expect(page.text('#error')).toBe('request:fail timeout');
    expect(page.text('#status')).toBe('等待补货');
    expect(await balanceOf(me.customerId)).toBe(before + 4_000);

    // The tap again: the same key, the server's stored answer, no second refund.
    await page.tap('#choice-refund');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    expect(page.text('#notice')).toBe('已退款到余额');
    expect(page.text('#status')).toBe('已退款');
    expect(page.text('#refunded')).toBe('¥40.00');
    expect(page.exists('#sold-out')).toBe(false);
    expect(await balanceOf(me.customerId)).toBe(before + 4_000);
    expect(wxh.requests.filter((r) => r.path.endsWith('/choice')).map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('wallet page: show at the store', () => {
  it('a code a store accepts shows as a QR image with a countdown; it expires on the phone, a refresh brings a new one that the store can verify', async () => {
    const t = s.t;
    const cinema = await s.stockSku({ name: `Cinema ${uniq()}`, priceFen: 100, count: 1 });
    const online = await s.stockSku({ name: `Online ${uniq()}`, priceFen: 100, count: 1 });
    const admin = async (url: string, payload: object) => {
      const res = await t.inject({ method: 'POST', url, headers: bearer(await s.staffToken('operations')), payload });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    };
    const merchant = await admin('/admin/merchants', { name: 'Cinema', product_ids: [(await t.services.catalog.getSku(cinema.skuId)).productId] });
    const store = await admin(`/admin/merchants/${merchant.id}/stores`, { name: 'Cinema North' });
    const { staff } = await admin(`/admin/stores/${store.id}/staff`, { name: 'Clerk' });

    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 200);
    for (const sku of [cinema.skuId, online.skuId]) await mpApi().createOrder({ sku_id: sku, quantity: 1, payment: 'balance' }, `o-${uniq()}`);
    const items = ((await mpApi().wallet({ limit: 10 })) as { data: { id: string; sku_id: string }[] }).data;
    const codeAt = (sku: string) => items.find((c) => c.sku_id === sku)!.id;

    const page = await loadPage('wallet', {}, wxh);
    expect(page.exists(`#store-qr-${codeAt(online.skuId)}`)).toBe(false);
    // The countdown runs on the phone's timers and clock, faked from here on (requests still go over real HTTP).
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    await page.tap(`#store-qr-${codeAt(cinema.skuId)}`);
    const first = page.data.qr as { token: string; png: string };
    expect(first.token).toMatch(/^KQR1\./);
    expect(first.png).toMatch(/^data:image\/png;base64,/);
    expect(page.exists('#qr-image')).toBe(true);
    expect(page.text('#qr-countdown')).toBe('05:00');
    vi.advanceTimersByTime(1_000);
    await wxh.idle();
    expect(page.text('#qr-countdown')).toBe('04:59');
    vi.advanceTimersByTime(298_000);
    await wxh.idle();
    expect(page.text('#qr-countdown')).toBe('00:01');
    vi.advanceTimersByTime(1_000);
    await wxh.idle();
    expect(page.exists('#qr-image')).toBe(false);
    expect(page.text('#qr-expired')).toBe('二维码已过期');
    expect(vi.getTimerCount()).toBe(0);
    // The code itself was never revealed for this.
    expect(JSON.stringify(page.data)).not.toContain(cinema.secrets[0]);

    vi.useRealTimers();
    await page.tap('#qr-refresh');
    const second = page.data.qr as { token: string };
    expect(second.token).toMatch(/^KQR1\./);
    expect(second.token).not.toBe(first.token);
    expect(page.text('#qr-countdown')).toBe('05:00');
    const check = await t.services.redemptions.verify({ staffId: staff.id, storeId: store.id, merchantId: merchant.id }, second.token);
    expect(check).toMatchObject({ redeemable: true, via: 'qr' });
    // Leaving the page takes the token (a credential for one redemption) off the screen and stops the timer.
    page.instance.onHide();
    expect(page.exists('#qr-panel')).toBe(false);
    expect(JSON.stringify([page.data, [...wxh.storage.values()]])).not.toContain(second.token);
  });
});
