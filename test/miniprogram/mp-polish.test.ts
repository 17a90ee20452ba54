import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { bearer, type TestApp } from '../helpers/boot.js';
import type { FakeWechatMp } from '../fakes/wechat-mp/server.js';
import { bootMpAppForFile, mpLogin, uniq, type MpSession } from '../helpers/mp-app.js';
import { DAY, ManualClock } from '../../src/lib/clock.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

/**
 * The mini-program routes added for the pages' last gaps: the coupons a customer can claim now, and what the wallet
 * needs for "show at the store" (which codes a store accepts, the QR token with its image and seconds left).
 */
const clock = new ManualClock(new Date());
let t: TestApp;
let wx: FakeWechatMp;
let ops: string;
bootMpAppForFile(
  async (app) => {
    ({ t, wx } = app);
    ops = (await t.loginAs('operations')).token;
  },
  { clock },
);

type Session = MpSession;
const login = () => mpLogin({ t, wx });
const admin = async (url: string, payload?: object) => {
  const res = await t.inject({ method: 'POST', url, headers: bearer(ops), payload: payload ?? {} });
  expect([200, 201], res.body).toContain(res.statusCode);
  return res.json();
};
const template = async (extra: object = {}) => (await admin('/admin/marketing/coupon-templates', { name: `coupon ${uniq()}`, kind: 'fixed', amount_off_fen: 500, valid_days: 30, claimable: true, ...extra })).id as string;
const claim = async (s: Session, templateId: string) => {
  const res = await t.inject({ method: 'POST', url: '/mp/v1/coupons/claim', headers: { ...bearer(s.token), 'idempotency-key': `c-${uniq()}` }, payload: { template_id: templateId } });
  expect(res.statusCode, res.body).toBe(201);
};
/** Every page of GET /mp/v1/coupons/claimable, `limit` at a time: the template ids in order. */
async function claimableIds(s: Session, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 20; pages++) {
    const res = await t.inject({ method: 'GET', url: `/mp/v1/coupons/claimable?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, headers: bearer(s.token) });
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json() as { data: { id: string }[]; next_cursor: string | null; has_more: boolean };
    ids.push(...page.data.map((d) => d.id));
    if (!page.has_more) return ids;
    cursor = page.next_cursor;
  }
  throw new Error('too many pages');
}

describe('GET /mp/v1/coupons/claimable', () => {
  it('lists, newest first and page by page, only the templates this customer can claim now', async () => {
    const alice = await login();
    const bob = await login();
    const open = await template({ amount_off_fen: 800, min_amount_fen: 5_000 });
    await template({ claimable: false });
    const paused = await template();
    await admin(`/admin/marketing/coupon-templates/${paused}/pause`);
    await template({ valid_from: new Date(clock.now().getTime() + DAY).toISOString(), valid_until: new Date(clock.now().getTime() + 10 * DAY).toISOString(), valid_days: undefined });
    const lastOne = await template({ total_limit: 1 });
    const twicePerCustomer = await template({ per_user_limit: 2 });
    const oncePerCustomer = await template();
    const newest = await template({ kind: 'percent', amount_off_fen: undefined, percent_off_bps: 1_500, max_off_fen: 2_000 });

    // Bob takes the last coupon of one template; Alice claims one of the per-customer ones each.
    await claim(bob, lastOne);
    await claim(alice, oncePerCustomer);
    await claim(alice, twicePerCustomer);

    expect(await claimableIds(alice, 2)).toEqual([newest, twicePerCustomer, open]);
    expect(await claimableIds(bob, 100)).toEqual([newest, oncePerCustomer, twicePerCustomer, open]);

    const page = (await t.inject({ method: 'GET', url: '/mp/v1/coupons/claimable?limit=10', headers: bearer(alice.token) })).json();
    // The terms a customer needs, nothing of the budget or counters.
    expect(page.data.find((d: { id: string }) => d.id === open)).toEqual({ id: open, name: expect.any(String), kind: 'fixed', amount_off_fen: 800, percent_off_bps: null, max_off_fen: null, min_amount_fen: 5_000, scope: 'all', valid_until: null, valid_days: 30, per_user_limit: 1 });
    expect(page.data.find((d: { id: string }) => d.id === newest)).toMatchObject({ kind: 'percent', percent_off_bps: 1_500, max_off_fen: 2_000 });

    // A second claim of the per-2 template uses it up for Alice.
    await claim(alice, twicePerCustomer);
    expect(await claimableIds(alice, 10)).toEqual([newest, open]);
    expect((await t.inject({ method: 'GET', url: '/mp/v1/coupons/claimable' })).statusCode).toBe(401);
  });
});

describe('wallet: codes a store can redeem', () => {
  it('store_redeemable is true only for products an active merchant with a store accepts; the QR token comes with its image and seconds left', async () => {
    const atStore = await createCodeSku(t, { name: `Cinema ${uniq()}`, retailPriceFen: 100 });
    const noStoreYet = await createCodeSku(t, { name: `Spa ${uniq()}`, retailPriceFen: 100 });
    const online = await createCodeSku(t, { name: `Online ${uniq()}`, retailPriceFen: 100 });
    for (const sku of [atStore, noStoreYet, online]) await stockCodes(t, sku, 1);
    const productOf = async (sku: string) => (await t.services.catalog.getSku(sku)).productId;
    const cinema = await admin('/admin/merchants', { name: 'Cinema', product_ids: [await productOf(atStore)] });
    await admin(`/admin/merchants/${cinema.id}/stores`, { name: 'Cinema North' });
    // A merchant without any store cannot redeem anything yet.
    await admin('/admin/merchants', { name: 'Spa', product_ids: [await productOf(noStoreYet)] });

    const me = await login();
    await t.services.orders.creditBalance({ type: 'customer', id: me.customerId }, 300, 'test', { id: 'stf_test' });
    for (const sku of [atStore, noStoreYet, online]) {
      const res = await t.inject({ method: 'POST', url: '/mp/v1/orders', headers: { ...bearer(me.token), 'idempotency-key': `o-${uniq()}` }, payload: { sku_id: sku, quantity: 1, payment: 'balance' } });
      expect(res.statusCode, res.body).toBe(201);
    }
    const wallet = (await t.inject({ method: 'GET', url: '/mp/v1/wallet?limit=10', headers: bearer(me.token) })).json() as { data: { id: string; sku_id: string; store_redeemable: boolean }[] };
    expect(Object.fromEntries(wallet.data.map((c) => [c.sku_id, c.store_redeemable]))).toEqual({ [atStore]: true, [noStoreYet]: false, [online]: false });

    const codeId = wallet.data.find((c) => c.sku_id === atStore)!.id;
    const res = await t.inject({ method: 'POST', url: '/mp/v1/redemptions/qr-token', headers: bearer(me.token), payload: { code_id: codeId } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const qr = res.json() as { token: string; code_id: string; expires_at: string; expires_in_seconds: number; qr_png: string };
    expect(qr.expires_in_seconds).toBe(300);
    expect(Date.parse(qr.expires_at) - clock.now().getTime()).toBe(300_000);
    // The image is the token itself as a QR code (the encoder is deterministic).
    expect(qr.qr_png).toBe(await QRCode.toDataURL(qr.token, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2, width: 256 }));
  });
});
