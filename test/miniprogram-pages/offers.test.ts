// @vitest-environment jsdom
// Offers a customer finds on the pages: a SKU's running group-buy campaign on the product page (a link to the
// group-buy page), and the coupons to claim listed on the me page, claimed from the list.
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import { createWxHarness, loadPage, route, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

const ops = async (url: string, payload: object = {}, headers: Record<string, string> = {}) => {
  const res = await s.t.inject({ method: 'POST', url, headers: { ...bearer(await s.staffToken('operations')), ...headers }, payload });
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json();
};
const campaign = async (skuId: string, priceFen: number, size: number, startsInMs = 0) =>
  (
    await ops(
      '/admin/marketing/group-buys',
      { name: `Deal ${uniq()}`, sku_id: skuId, group_price_fen: priceFen, group_size: size, duration_minutes: 60, ...(startsInMs ? { starts_at: new Date(s.clock.now().getTime() + startsInMs).toISOString() } : {}), ends_at: new Date(s.clock.now().getTime() + 86_400_000).toISOString() },
      { 'idempotency-key': `gbc-${uniq()}` },
    )
  ).id as string;

describe('product page: group buy', () => {
  it('a SKU with a running campaign links to the group-buy page (the cheapest deal shown); one without shows no link', async () => {
    const deal = await s.stockSku({ priceFen: 8_000, count: 2 });
    const plain = await s.stockSku({ priceFen: 8_000, count: 1 });
    await campaign(deal.skuId, 6_000, 2);
    const cheapest = await campaign(deal.skuId, 5_500, 3);
    // Not started yet: neither shown nor counted as the best deal.
    await campaign(deal.skuId, 4_000, 2, 3_600_000);
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();

    const page = await loadPage('product', { sku: deal.skuId }, wxh);
    expect(page.text('#group-price')).toBe('¥55.00');
    expect(page.text('#group-buy')).toContain('3人团');
    await page.tap('#group-buy');
    const next = route(wxh.callsOf('navigateTo')[0]!.url as string);
    expect(next).toEqual({ name: 'group-buy', query: { sku: deal.skuId } });
    const groupBuy = await loadPage(next.name, next.query, wxh);
    expect(groupBuy.exists(`#campaign-${cheapest}`)).toBe(true);

    const other = await loadPage('product', { sku: plain.skuId }, wxh);
    expect(other.text('#price')).toBe('¥80.00');
    expect(other.exists('#group-buy')).toBe(false);
    expect(wxh.requests.filter((r) => r.path.startsWith('/mp/v1/group-buys?')).map((r) => [r.path, r.status])).toEqual([
      [`/mp/v1/group-buys?sku_id=${deal.skuId}&limit=20`, 200],
      [`/mp/v1/group-buys?sku_id=${deal.skuId}&limit=20`, 200],
      [`/mp/v1/group-buys?sku_id=${plain.skuId}&limit=20`, 200],
    ]);
  });
});

describe('me page: coupons to claim', () => {
  it('lists the claimable coupons; claiming one moves it to my coupons (once), a refused claim shows the server reason', async () => {
    const five = await s.couponTemplate({ amountOffFen: 500, minAmountFen: 3_000 });
    const eight = await s.couponTemplate({ amountOffFen: 800 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('me', {}, wxh);
    // Newest first (other tests of this file may have added more templates before).
    const ids = (page.data.claimable as { id: string }[]).map((c) => c.id);
    expect(ids.indexOf(eight)).toBeLessThan(ids.indexOf(five));
    expect(page.text(`#claimable-${five}`)).toContain('¥5.00');
    expect(page.text(`#claimable-${five}`)).toContain('满 ¥30.00 可用');
    expect(page.text(`#claimable-${five}`)).toContain('领取后 30 天内有效');
    expect(page.text('#coupon-count')).toBe('0');

    await page.tap(`#claim-${five}`);
    expect(page.text('#notice')).toBe('领取成功');
    expect(page.text('#coupon-count')).toBe('1');
    expect((page.data.coupons as { name: string; valueText: string }[]).map((c) => c.valueText)).toEqual(['¥5.00']);
    // The per-customer limit is 1: it left the list; the other one is still there.
    expect(page.exists(`#claimable-${five}`)).toBe(false);
    expect(page.exists(`#claimable-${eight}`)).toBe(true);
    const claims = () => wxh.requests.filter((r) => r.path === '/mp/v1/coupons/claim').map((r) => r.status);
    expect(claims()).toEqual([201]);

    // Paused meanwhile by operations: the claim is refused with the server's words, nothing is added.
    await ops(`/admin/marketing/coupon-templates/${eight}/pause`);
    await page.tap(`#claim-${eight}`);
    expect(claims()).toEqual([201, 422]);
    expect(page.text('#error')).toBe('the coupon template is paused');
    expect(page.text('#coupon-count')).toBe('1');
    // A fresh look no longer offers it.
    const again = await loadPage('me', {}, wxh);
    expect(again.exists(`#claimable-${eight}`)).toBe(false);
    expect(again.exists(`#claimable-${five}`)).toBe(false);
  });
});
