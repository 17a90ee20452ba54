// @vitest-environment jsdom
// Partner pages a customer uses: group buying (open, share, a friend joins from the share card, WeChat Pay seat)
// and the referral page (code, QR, poster, copy, share card), against the real booted app.
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { createWxHarness, loadPage, route, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

async function campaign(skuId: string, groupSize: number, name: string): Promise<string> {
  const res = await s.t.inject({
    method: 'POST',
    url: '/admin/marketing/group-buys',
    headers: { ...bearer(await s.staffToken('operations')), 'idempotency-key': `gbc-${uniq()}` },
    payload: { name, sku_id: skuId, group_price_fen: 5_000, group_size: groupSize, duration_minutes: 60, ends_at: new Date(s.clock.now().getTime() + 86_400_000).toISOString() },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
}

describe('group-buy page', () => {
  it('the leader opens a group from the SKU\'s campaigns and shares it; a friend opens the share card and fills the group', async () => {
    const { skuId } = await s.stockSku({ priceFen: 8_000, count: 2 });
    const campaignId = await campaign(skuId, 2, 'Pair deal');

    const leader = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const me = await leader.signIn();
    await s.fund(me.customerId, 5_000);
    const page = await loadPage('group-buy', { sku: skuId }, leader);
    expect(page.text(`#campaign-${campaignId}`)).toContain('Pair deal');
    expect(page.text(`#campaign-${campaignId}`)).toContain('¥50.00');
    await page.tap(`#open-${campaignId}`);
    expect(page.text('#notice')).toBe('已参团，邀请好友一起拼');
    const groupId = page.data.group.id as string;
    expect(groupId).toMatch(/^gbg_/);
    expect(page.text('#group-status')).toBe('拼团中 1/2');
    // The group now also shows among the campaign's open groups.
    expect(page.exists(`#open-group-${groupId}`)).toBe(true);
    const share = page.instance.onShareAppMessage() as { path: string; title: string };
    expect(route(share.path)).toEqual({ name: 'group-buy', query: { group: groupId } });
    expect(share.title).toContain('还差1人成团');
    expect(leader.callsOf('showShareMenu')).toHaveLength(1);
    // Paid from the balance: 50 yuan gone.
    expect(await s.t.services.ledger.balance(s.t.services.orders.buyerAccount({ type: 'customer', id: me.customerId }).id)).toBe(0);

    const friendWx = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const friend = await friendWx.signIn();
    await s.fund(friend.customerId, 5_000);
    const shared = await loadPage('group-buy', route(share.path).query, friendWx);
    expect(shared.text('#group-status')).toBe('拼团中 1/2');
    await shared.tap('#join-shared');
    expect(shared.text('#notice')).toBe('拼团成功！卡券已放入卡包');
    expect(shared.text('#group-status')).toBe('已成团 2/2');
    expect(shared.exists('#join-shared')).toBe(false);
    // Both seats' orders are delivered.
    const orders = await s.t.services.orders.list({ limit: 10, buyer: { type: 'customer', id: friend.customerId } });
    expect(orders.data.map((o) => o.status)).toEqual(['delivered']);

    // A third customer trying the full group sees the server's reason.
    const lateWx = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await lateWx.signIn();
    const late = await loadPage('group-buy', { group: groupId }, lateWx);
    expect(late.exists('#join-shared')).toBe(false);
    expect(late.text('#group-status')).toBe('已成团 2/2');
  });

  it('a WeChat Pay seat calls wx.requestPayment with the server-signed parameters', async () => {
    const { skuId } = await s.stockSku({ priceFen: 8_000, count: 3 });
    const campaignId = await campaign(skuId, 3, 'Trio deal');
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('group-buy', { sku: skuId }, wxh);
    await page.tap('#pay-wechat');
    await page.tap(`#open-${campaignId}`);
    const [payCall] = wxh.callsOf('requestPayment');
    expect(payCall).toMatchObject({ signType: 'RSA', package: expect.stringMatching(/^prepay_id=/), paySign: expect.any(String), timeStamp: expect.any(String), nonceStr: expect.any(String) });
    expect(page.text('#group-status')).toBe('拼团中 1/3');
    expect(page.data.group.members).toEqual([{ name: expect.any(String), leader: true, paid: false }]);
  });
});

describe('referral page', () => {
  it('shows my code with its QR code and poster, copies the code and shares a card carrying it', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('referral', {}, wxh);
    const code = page.text('#code');
    expect(code).toMatch(/^[A-Z0-9]{4,}$/);
    expect(page.data.qr).toMatch(/^data:image\/png;base64,/);
    expect(page.data.poster).toMatch(/^data:image\/svg\+xml;base64,/);
    expect(Buffer.from(page.data.poster.split(',')[1], 'base64').toString('utf8')).toContain(code);
    expect(page.text('#rewarded')).toBe('已成功邀请 0 人');
    await page.tap('#copy');
    expect(wxh.clipboard).toBe(code);
    await page.tap('#poster');
    expect(wxh.callsOf('previewImage')).toEqual([{ urls: [page.data.poster], current: page.data.poster }]);
    const share = page.instance.onShareAppMessage() as { path: string };
    expect(route(share.path)).toEqual({ name: 'index', query: { ref: code } });
    // The same customer sees the same code next time.
    expect((await loadPage('referral', {}, wxh)).text('#code')).toBe(code);
  });
});
