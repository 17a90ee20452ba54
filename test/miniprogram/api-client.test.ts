import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile } from '../helpers/mp-app.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

/**
 * The mini-program's own API client (miniprogram/utils/api.js + api-partner.js, CommonJS as the mini-program runs
 * them) in Node over real HTTP (fetchRequest) against the app listening on a port, not mocked: login through the
 * fake WeChat server, buy, reveal, gift and claim by a second customer, and redemption at a store by the store
 * staff's signed client.
 */
const require = createRequire(import.meta.url);
type Fn = (...args: any[]) => Promise<any>;
type ConsumerApi = Record<'me' | 'sku' | 'createOrder' | 'orders' | 'wallet' | 'revealCode' | 'giftCode' | 'claimGift', Fn>;
type PartnerApi = Record<'referral', Fn>;
type StaffApi = Record<'verify' | 'redeem' | 'redemptions', Fn>;
const { createTransport, fetchRequest, newIdempotencyKey, ApiError } = require('../../miniprogram/utils/transport.js') as {
  createTransport(o: { baseUrl: string; request: unknown; getToken?: () => string | null }): Record<'get' | 'post' | 'call', Fn>;
  fetchRequest: unknown;
  newIdempotencyKey(prefix?: string): string;
  ApiError: new (...a: unknown[]) => Error & { status: number; code: string; details: unknown };
};
const { createApi } = require('../../miniprogram/utils/api.js') as { createApi(transport: unknown, hooks?: object): ConsumerApi };
const { createPartnerApi, createStaffApi } = require('../../miniprogram/utils/api-partner.js') as {
  createPartnerApi(transport: unknown, hooks?: object): PartnerApi;
  createStaffApi(transport: unknown, o: { keyId: string; secret: string; baseUrl: string }): StaffApi;
};

let t: TestApp;
let wx: FakeWechatMp;
let baseUrl: string;
bootMpAppForFile(async (app) => {
  ({ t, wx } = app);
  baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
});

/** A phone: the session token kept in memory, a login by a fresh wx.login code (through the fake WeChat) when there is none. */
function phone() {
  const openid = `o_${randomBytes(6).toString('hex')}`;
  let token: string | null = null;
  let customerId = '';
  const transport = createTransport({ baseUrl, request: fetchRequest, getToken: () => token });
  const login = async () => {
    const code = `code-${randomBytes(6).toString('hex')}`;
    wx.loginCode(code, { openid });
    const res = await createTransport({ baseUrl, request: fetchRequest }).post('/mp/v1/login', { code });
    token = res.token;
    customerId = res.customer.id;
  };
  const hooks = { ensureSession: async () => (token ? undefined : login()), relogin: login };
  return { api: createApi(transport, hooks), partner: createPartnerApi(transport, hooks), get customerId() { return customerId; }, expireToken: () => { token = 'revoked-token'; } };
}

describe('mini-program API client against a booted server', () => {
  it('login, buy, reveal, gift and claim, redeem at a store', async () => {
    const ops = (await t.loginAs('operations')).token;
    const finance = (await t.loginAs('finance')).token;
    const sku = await createCodeSku(t, { name: `Client card ${randomBytes(3).toString('hex')}`, retailPriceFen: 2_500 });
    const secrets = await stockCodes(t, sku, 2);

    // Login: the first call logs in through code2session; the session answers /me.
    const alice = phone();
    const me = await alice.api.me();
    expect(me.id).toBe(alice.customerId);
    expect(me.id).toMatch(/^cus_/);
    const credit = await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: alice.customerId, amount_fen: 5_000, reference: 'client test' } });
    expect(credit.statusCode).toBe(200);

    // Buy with the balance: delivered, codes not revealed yet; a retry with the same key is the same order.
    const skuView = await alice.api.sku(sku);
    expect(skuView.sku).toMatchObject({ id: sku, price_fen: 2_500 });
    const key = newIdempotencyKey('order');
    const bought = await alice.api.createOrder({ sku_id: sku, quantity: 2, payment: 'balance' }, key);
    expect(bought.order).toMatchObject({ status: 'delivered', amount_fen: 5_000, buyer_id: alice.customerId });
    expect(bought.codes).toEqual([]);
    expect((await alice.api.createOrder({ sku_id: sku, quantity: 2, payment: 'balance' }, key)).order.id).toBe(bought.order.id);
    expect((await alice.api.orders({ limit: 10 })).data.map((o: { id: string }) => o.id)).toEqual([bought.order.id]);

    // An expired session is renewed once, transparently.
    alice.expireToken();
    const wallet = await alice.api.wallet({ state: 'ready', limit: 10 });
    expect(wallet.data).toHaveLength(2);
    const [keep, give] = wallet.data as { id: string }[];

    // Reveal one code (tap to reveal).
    const revealed = await alice.api.revealCode(keep!.id);
    expect(secrets).toContain(revealed.secret);

    // Gift the other to bob, who claims it: it moves to bob's wallet, and alice can no longer reveal it.
    const gift = await alice.api.giftCode(give!.id, { message: 'for you' }, newIdempotencyKey('gift'));
    expect(gift.token).toEqual(expect.any(String));
    const bob = phone();
    const claimed = await bob.api.claimGift(gift.token);
    expect(claimed).toMatchObject({ code_id: give!.id, gift: { status: 'claimed' } });
    expect((await bob.api.wallet({ limit: 10 })).data.map((c: { id: string }) => c.id)).toEqual([give!.id]);
    const refused = await alice.api.revealCode(give!.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const bobsSecret = (await bob.api.revealCode(give!.id)).secret as string;
    expect(secrets).toContain(bobsSecret);
    expect(bobsSecret).not.toBe(revealed.secret);

    // The partner client on the same session: my referral code.
    expect((await bob.partner.referral()).code).toMatch(/^[A-Z0-9]{4,}$/);

    // A store: the admin sets up the merchant, the store and the clerk's key; the clerk's signed client redeems bob's code once.
    const productId = (await t.services.catalog.getSku(sku)).productId;
    const admin = async (url: string, payload: object) => {
      const res = await t.inject({ method: 'POST', url, headers: bearer(ops), payload });
      expect(res.statusCode, res.body).toBe(201);
      return res.json();
    };
    const merchant = await admin('/admin/merchants', { name: 'Client merchant', product_ids: [productId] });
    const store = await admin(`/admin/merchants/${merchant.id}/stores`, { name: 'Client store' });
    const staff = await admin(`/admin/stores/${store.id}/staff`, { name: 'Clerk' });
    const clerk = createStaffApi(createTransport({ baseUrl, request: fetchRequest }), { keyId: staff.api_key.id, secret: staff.api_key.secret, baseUrl });
    const verified = await clerk.verify(bobsSecret);
    expect(verified).toMatchObject({ redeemable: true, reason: null, code: { id: give!.id, secret_masked: expect.stringMatching(/\*+.{4}$/) } });
    expect(JSON.stringify(verified)).not.toContain(bobsSecret);
    const redeemKey = newIdempotencyKey('rdm');
    const redemption = await clerk.redeem(bobsSecret, redeemKey);
    expect(redemption).toMatchObject({ code_id: give!.id, store_id: store.id, via: 'code' });
    // The same redemption retried answers the same; a new one is refused: a code redeems once.
    expect((await clerk.redeem(bobsSecret, redeemKey)).id).toBe(redemption.id);
    expect(await clerk.redeem(bobsSecret, newIdempotencyKey('rdm')).catch((e: unknown) => e)).toMatchObject({ status: 409, code: 'CONFLICT', details: { reason: 'ALREADY_REDEEMED' } });
    expect((await clerk.redemptions({ limit: 10 })).data.map((r: { id: string }) => r.id)).toEqual([redemption.id]);
    expect((await bob.api.wallet({ limit: 10 })).data[0]).toMatchObject({ id: give!.id, group: 'redeemed' });

    // A wrong secret is refused by the server, not by the client.
    const impostor = createStaffApi(createTransport({ baseUrl, request: fetchRequest }), { keyId: staff.api_key.id, secret: 'x'.repeat(40), baseUrl });
    expect(await impostor.verify(revealed.secret).catch((e: unknown) => e)).toMatchObject({ status: 401, code: 'INVALID_SIGNATURE' });
  });
});
