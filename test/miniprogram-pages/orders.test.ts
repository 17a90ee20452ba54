// @vitest-environment jsdom
// Orders list (cursor pagination), order detail (tap to reveal once, copy), and after-sales from the order.
import { describe, expect, it } from 'vitest';
import { createWxHarness, loadPage, mpApi, route, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

/** Buys through the mini-program's own API as the signed-in customer; answers the order id. */
const buy = async (skuId: string) => ((await mpApi().createOrder({ sku_id: skuId, quantity: 1, payment: 'balance' }, `o-${uniq()}`)) as { order: { id: string } }).order.id;

describe('orders pages', () => {
  it('the orders list shows 10 orders, then the next page on "load more", newest first, then says there are no more', async () => {
    const { skuId } = await s.stockSku({ priceFen: 100, count: 12 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 1_200);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await buy(skuId));
    const newestFirst = [...ids].reverse();

    const page = await loadPage('orders', {}, wxh);
    expect(page.data.orders.map((o: { id: string }) => o.id)).toEqual(newestFirst.slice(0, 10));
    expect(page.all('.order')).toHaveLength(10);
    expect(page.exists('#end')).toBe(false);
    await page.tap('#more');
    expect(page.data.orders.map((o: { id: string }) => o.id)).toEqual(newestFirst);
    expect(page.exists('#more')).toBe(false);
    expect(page.text('#end')).toBe('没有更多了');
    // The second page asked for what follows the first page's last order.
    const listCalls = wxh.requests.filter((r) => r.path.startsWith('/mp/v1/orders?')).map((r) => r.path);
    expect(listCalls).toEqual(['/mp/v1/orders?limit=10', `/mp/v1/orders?limit=10&cursor=${newestFirst[9]}`]);
    expect(page.text(`#order-${ids[0]}`)).toContain('¥1.00');

    await page.tap(`#order-${ids[3]}`);
    expect(route(wxh.callsOf('navigateTo')[0]!.url as string)).toEqual({ name: 'order', query: { id: ids[3] } });
  });

  it('order detail: the secret appears only after the tap, copy puts it on the clipboard, and it leaves with the page', async () => {
    const { skuId, secrets } = await s.stockSku({ priceFen: 990, count: 1 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 990);
    const orderId = await buy(skuId);

    const page = await loadPage('order', { id: orderId }, wxh);
    expect(page.text('#status')).toBe('已发货');
    expect(page.text()).not.toContain(secrets[0]);
    expect(JSON.stringify(page.data)).not.toContain(secrets[0]);
    await page.tap('#reveal');
    expect(page.text('#secret-0')).toBe(secrets[0]);
    expect(page.exists('#reveal')).toBe(false);
    await page.tap('#copy-0');
    expect(wxh.clipboard).toBe(secrets[0]);
    expect(wxh.callsOf('setClipboardData')).toEqual([{ data: secrets[0] }]);
    // The secret never went to storage; it is dropped when the page is hidden.
    expect(JSON.stringify([...wxh.storage.values()])).not.toContain(secrets[0]);
    page.instance.onHide();
    expect(page.text()).not.toContain(secrets[0]);
    // Another customer cannot open the order: the server's not-found message is shown.
    const other = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await other.signIn();
    const theirs = await loadPage('order', { id: orderId }, other);
    expect(theirs.text('#error')).toBe(`order ${orderId} not found`);
    expect(theirs.exists('#reveal')).toBe(false);
  });

  it('after-sales from an order opens a ticket with the revealed codes and shows it in my tickets with its status', async () => {
    const { skuId } = await s.stockSku({ priceFen: 500, count: 1 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await wxh.signIn();
    await s.fund(me.customerId, 500);
    const orderId = await buy(skuId);
    const order = await loadPage('order', { id: orderId }, wxh);
    await order.tap('#reveal');
    const codeId = order.data.codes[0].codeId as string;
    await order.tap('#after-sales');
    const next = route(wxh.callsOf('navigateTo')[0]!.url as string);
    expect(next).toEqual({ name: 'after-sales', query: { order: orderId, codes: codeId } });

    const page = await loadPage(next.name, next.query, wxh);
    expect(page.data.tickets).toEqual([]);
    // Empty description: the server's validation message, nothing opened.
    await page.tap('#submit');
    expect(page.data.error).not.toBe('');
    expect(wxh.requests.filter((r) => r.path === '/mp/v1/after-sales').map((r) => r.status)).toEqual([400]);

    await page.input('#description', 'the brand says this code is invalid');
    await page.input('#evidence', 'https://example.com/shot.png');
    await page.tap('#submit');
    const tickets = (await s.t.platform.database.executeSql<{ id: string; status: string; order_id: string; description: string }>('select id, status, order_id, description from after_sales_tickets where customer_id = $1', [me.customerId])).rows;
    expect(tickets).toEqual([expect.objectContaining({ status: 'open', order_id: orderId, description: 'the brand says this code is invalid' })]);
    expect(page.text('#submitted')).toContain(tickets[0]!.id);
    expect(page.data.tickets.map((t: { id: string; statusText: string }) => [t.id, t.statusText])).toEqual([[tickets[0]!.id, '已提交']]);
    await page.tap(`#ticket-${tickets[0]!.id}`);
    expect(page.text('#detail')).toContain('已提交');
  });
});
