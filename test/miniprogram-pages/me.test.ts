// @vitest-environment jsdom
// Me: masked phone through getPhoneNumber, coupons and claiming one from a campaign link, links to the partner
// pages, logout; and the session: a refused token logs in again once and the call goes through.
import { describe, expect, it } from 'vitest';
import { apiMethods, createWxHarness, loadPage, mpApi, startMpServerForFile, uniq, type MpServer } from './harness.js';

let s: MpServer;
startMpServerForFile((server) => (s = server));

describe('me page and session', () => {
  it('getPhoneNumber stores the phone on the server and shows it masked; the full number is nowhere on the phone', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('me', {}, wxh);
    expect(page.exists('#phone-text')).toBe(false);
    const code = `phone-${uniq()}`;
    s.wechat.phoneCode(code, '13812345678');
    await page.fire('#phone', 'getphonenumber', { code, errMsg: 'getPhoneNumber:ok' });
    expect(page.text('#phone-text')).toBe('138****5678');
    expect(page.exists('#phone')).toBe(false);
    expect(((await mpApi().me()) as { phone: string }).phone).toBe('138****5678');
    const everything = JSON.stringify([page.data, [...wxh.storage.values()], wxh.calls]);
    expect(everything).not.toContain('13812345678');
    expect(everything).toContain('138****5678');
  });

  it('a refused getPhoneNumber (no code) says so and calls nothing', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('me', {}, wxh);
    const before = wxh.requests.length;
    await page.fire('#phone', 'getphonenumber', { errMsg: 'getPhoneNumber:fail user deny' });
    expect(page.text('#error')).toBe('未授权手机号');
    expect(wxh.requests.length).toBe(before);
  });

  it('a campaign link claims its coupon once; my coupons list shows it; a second claim shows the server limit message', async () => {
    const template = await s.couponTemplate({ amountOffFen: 800, minAmountFen: 5_000 });
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('me', { coupon: template }, wxh);
    expect(page.text('#coupon-count')).toBe('0');
    await page.tap('#claim-coupon');
    expect(page.text('#coupon-claimed')).toBe('领取成功');
    expect(page.text('#coupon-count')).toBe('1');
    const [coupon] = page.data.coupons as { id: string }[];
    expect(page.text(`#coupon-${coupon!.id}`)).toContain('¥8.00');
    expect(page.text(`#coupon-${coupon!.id}`)).toContain('满 ¥50.00 可用');

    // Opening the link again: the per-customer limit (1) is the server's answer, shown as it says it.
    const again = await loadPage('me', { coupon: template }, wxh);
    await again.tap('#claim-coupon');
    expect(wxh.requests.filter((r) => r.path === '/mp/v1/coupons/claim').map((r) => r.status)).toEqual([201, 409]);
    expect(again.data.error).not.toBe('');
    expect(again.exists('#coupon-claimed')).toBe(false);
  });

  it('links open the partner pages (navigateTo) and the tab pages (switchTab)', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const page = await loadPage('me', {}, wxh);
    for (const id of ['to-agent', 'to-merchant', 'to-referral', 'to-group-buy', 'to-after-sales', 'to-orders']) await page.tap(`#${id}`);
    expect(wxh.callsOf('navigateTo').map((c) => c.url)).toEqual(['/pages/agent/index', '/pages/merchant/index', '/pages/referral/index', '/pages/group-buy/index', '/pages/after-sales/index']);
    expect(wxh.callsOf('switchTab').map((c) => c.url)).toEqual(['/pages/orders/index']);
  });

  it('logout ends the session on the server and on the phone', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    await wxh.signIn();
    const token = (wxh.storage.get('kq_session') as { token: string }).token;
    const page = await loadPage('me', {}, wxh);
    await page.tap('#logout');
    expect(wxh.requests.at(-1)).toMatchObject({ method: 'POST', path: '/mp/v1/logout', status: 200 });
    expect(wxh.storage.has('kq_session')).toBe(false);
    expect(wxh.callsOf('reLaunch')).toEqual([{ url: '/pages/index/index' }]);
    expect((await s.t.inject({ method: 'GET', url: '/mp/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
  });

  it('a token the server refuses (401) is replaced by one new login, and the page loads', async () => {
    const wxh = createWxHarness({ baseUrl: s.baseUrl, wechat: s.wechat });
    const first = await wxh.signIn();
    const stored = wxh.storage.get('kq_session') as Record<string, string>;
    wxh.storage.set('kq_session', { ...stored, token: 'revoked-token-0123456789' });
    const page = await loadPage('me', {}, wxh);
    expect(page.data.error).toBe('');
    expect(page.data.me.id).toBe(first.customerId);
    const seen = wxh.requests.slice(1).map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);
    // Three calls refused together, one login between them, all retried.
    expect(seen.filter((r) => r.endsWith(' 401')).sort()).toEqual(['GET /mp/v1/coupons 401', 'GET /mp/v1/coupons/claimable 401', 'GET /mp/v1/me 401']);
    expect(seen.filter((r) => r.startsWith('POST /mp/v1/login'))).toEqual(['POST /mp/v1/login 200']);
    expect(seen.filter((r) => r.endsWith(' 200') && !r.startsWith('POST')).sort()).toEqual(['GET /mp/v1/coupons 200', 'GET /mp/v1/coupons/claimable 200', 'GET /mp/v1/me 200']);
    expect((wxh.storage.get('kq_session') as { token: string }).token).not.toBe('revoked-token-0123456789');
    // The harness's typed view of utils/api.js lists exactly its functions.
    expect(Object.keys(mpApi()).sort()).toEqual([...apiMethods].sort());
  });
});
