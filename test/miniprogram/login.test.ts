import { describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, uniq } from '../helpers/mp-app.js';
import { DAY, ManualClock } from '../../src/lib/clock.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let wx: FakeWechatMp;
bootMpAppForFile(
  (app) => {
    ({ t, wx } = app);
  },
  { clock },
);

const login = (code: string) => t.inject({ method: 'POST', url: '/mp/v1/login', payload: { code } });
const customersWith = async (openid: string) =>
  (await t.platform.database.executeSql<{ n: number }>("select count(distinct customer_id)::int as n from customer_identities where provider = 'miniprogram_openid' and external_id = $1", [openid])).rows[0]!.n;

describe('mini-program login', () => {
  it('a wx.login code logs in: the customer is created once, the session token opens /mp/v1/me', async () => {
    const openid = `o_${uniq()}`;
    wx.loginCode('code-a1', { openid, unionid: `u_${uniq()}` });
    const first = await login('code-a1');
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(body.customer).toMatchObject({ created: true, phone: null });
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    // Only the hash of the token is stored.
    const stored = (await t.platform.database.executeSql<{ token_hash: string }>('select token_hash from mp_sessions where customer_id = $1', [body.customer.id])).rows;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.token_hash).not.toContain(body.token);
    const me = await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(body.token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: body.customer.id, phone: null });

    wx.loginCode('code-a2', { openid });
    const again = await login('code-a2');
    expect(again.json().customer).toMatchObject({ id: body.customer.id, created: false });
    expect(await customersWith(openid)).toBe(1);
  });

  it('racing first logins of one WeChat user create exactly one customer', async () => {
    const openid = `o_${uniq()}`;
    const codes = Array.from({ length: 10 }, (_, i) => `race-${i}-${uniq()}`);
    for (const c of codes) wx.loginCode(c, { openid });
    const results = await Promise.all(codes.map(login));
    expect(results.map((r) => r.statusCode)).toEqual(codes.map(() => 200));
    const ids = new Set(results.map((r) => r.json().customer.id as string));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.json().customer.created)).toHaveLength(1);
    expect(await customersWith(openid)).toBe(1);
    const [{ n }] = (await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from mp_sessions where customer_id = $1', [[...ids][0]])).rows as [{ n: number }];
    expect(n).toBe(10);
  });

  it('a bad or reused code: 422 naming the code, no session', async () => {
    const bad = await login('no-such-code');
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.message).toMatch(/invalid or was already used/);
    expect(bad.json().error.details).toEqual([{ field: 'code', message: 'WeChat errcode 40029' }]);
    wx.loginCode('code-once', { openid: `o_${uniq()}` });
    expect((await login('code-once')).statusCode).toBe(200);
    const reused = await login('code-once');
    expect(reused.statusCode).toBe(422);
    expect(reused.json().error.details[0].message).toBe('WeChat errcode 40163');
    expect((await t.inject({ method: 'POST', url: '/mp/v1/login', payload: { code: '' } })).statusCode).toBe(400);
  });

  it('without a session, with a wrong token, after logout or after 30 days: 401', async () => {
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me' })).statusCode).toBe(401);
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer('not-a-token') })).statusCode).toBe(401);
    wx.loginCode('code-exp', { openid: `o_${uniq()}` });
    const { token } = (await login('code-exp')).json();
    clock.advance(29 * DAY);
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(token) })).statusCode).toBe(200);
    clock.advance(DAY + 1000);
    const expired = await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(token) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('UNAUTHENTICATED');

    wx.loginCode('code-out', { openid: `o_${uniq()}` });
    const s = (await login('code-out')).json().token as string;
    expect((await t.inject({ method: 'POST', url: '/mp/v1/logout', headers: bearer(s) })).statusCode).toBe(200);
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(s) })).statusCode).toBe(401);
    // A staff session token is not a customer session.
    const staff = await t.loginAs('readonly');
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(staff.token) })).statusCode).toBe(401);
    // The expired session is purged by the hourly job.
    expect(await t.services.miniProgram.purgeExpiredSessions()).toBeGreaterThanOrEqual(1);
    expect((await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from mp_sessions where expires_at < $1', [clock.now().toISOString()])).rows[0]!.n).toBe(0);
  });

  it('a logged-in customer gets a redemption QR token for their own code only', async () => {
    wx.loginCode('code-qr', { openid: `o_${uniq()}` });
    const { token, customer } = (await login('code-qr')).json();
    const sku = await createCodeSku(t);
    await stockCodes(t, sku, 2);
    await t.services.orders.creditBalance({ type: 'customer', id: customer.id }, 100_000, 'test', { id: 'stf_test' });
    const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: customer.id }, skuId: sku, quantity: 1, channel: 'miniprogram', payment: 'balance' }, tx));
    const [mine] = (await t.platform.database.executeSql<{ id: string }>('select id from codes where order_id = $1', [order.id])).rows;
    const [other] = (await t.platform.database.executeSql<{ id: string }>("select id from codes where sku_id = $1 and state = 'available'", [sku])).rows;
    const res = await t.inject({ method: 'POST', url: '/mp/v1/redemptions/qr-token', headers: bearer(token), payload: { code_id: mine!.id } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ code_id: mine!.id });
    expect(res.json().token).toMatch(/^KQR1\./);
    expect((await t.inject({ method: 'POST', url: '/mp/v1/redemptions/qr-token', headers: bearer(token), payload: { code_id: other!.id } })).statusCode).toBe(404);
    expect((await t.inject({ method: 'POST', url: '/mp/v1/redemptions/qr-token', payload: { code_id: mine!.id } })).statusCode).toBe(401);
  });

  it('getPhoneNumber: the phone is stored sealed and shown 138****1234; the access token is fetched once and refreshed when stale', async () => {
    wx.loginCode('code-ph', { openid: `o_${uniq()}` });
    const { token, customer } = (await login('code-ph')).json();
    wx.phoneCode('phone-1', '13812341234');
    const before = wx.tokenRequests;
    const res = await t.inject({ method: 'POST', url: '/mp/v1/phone', headers: bearer(token), payload: { code: 'phone-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ phone: '138****1234' });
    expect((await t.inject({ method: 'GET', url: '/mp/v1/me', headers: bearer(token) })).json().phone).toBe('138****1234');
    const row = (await t.platform.database.executeSql<{ phone_sealed: Uint8Array; phone_masked: string }>('select phone_sealed, phone_masked from customers where id = $1', [customer.id])).rows[0]!;
    expect(row.phone_masked).toBe('138****1234');
    expect(Buffer.from(row.phone_sealed).toString('latin1')).not.toContain('13812341234');
    expect(await t.services.customers.findByPhone('13812341234')).toEqual([customer.id]);

    // A second phone code: the cached token is reused; a stale token is refreshed once.
    wx.phoneCode('phone-2', '13912345678');
    await t.inject({ method: 'POST', url: '/mp/v1/phone', headers: bearer(token), payload: { code: 'phone-2' } });
    expect(wx.tokenRequests - before).toBe(1);
    wx.expireTokens();
    wx.phoneCode('phone-3', '13812341234');
    expect((await t.inject({ method: 'POST', url: '/mp/v1/phone', headers: bearer(token), payload: { code: 'phone-3' } })).statusCode).toBe(200);
    expect(wx.tokenRequests - before).toBe(2);
    const bad = await t.inject({ method: 'POST', url: '/mp/v1/phone', headers: bearer(token), payload: { code: 'phone-unknown' } });
    expect(bad.statusCode).toBe(422);
    expect((await t.inject({ method: 'POST', url: '/mp/v1/phone', payload: { code: 'phone-x' } })).statusCode).toBe(401);
  });
});

describe('mini-program not configured', () => {
  it('login answers 503 naming the settings', async () => {
    const bare = await bootTestApp({ env: { RISK_SEED_RULES: 'false' } });
    try {
      const res = await bare.inject({ method: 'POST', url: '/mp/v1/login', payload: { code: 'anything' } });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.message).toMatch(/WECHAT_MP_APPID/);
    } finally {
      await bare.close();
    }
  });
});
