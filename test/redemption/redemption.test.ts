import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { DAY, ManualClock, MINUTE } from '../../src/lib/clock.js';

const clock = new ManualClock(new Date());
let t: TestApp;
let ops: string;
let owner: string;
beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200', RISK_SEED_RULES: 'false' } });
  ops = (await t.loginAs('operations')).token;
  owner = (await t.loginAs('owner')).token;
});
afterAll(() => t.close());

type Key = { id: string; secret: string };
const signed = (key: Key) => (method: 'GET' | 'POST', url: string, body?: object, idem?: string) => {
  const raw = body ? JSON.stringify(body) : '';
  return t.inject({ method, url, payload: raw || undefined, headers: { ...(raw ? { 'content-type': 'application/json' } : {}), ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, clock.now()) } });
};
const productOf = async (sku: string) => (await t.services.catalog.getSku(sku)).productId;

async function merchantWithStore(productIds: string[]) {
  const m = await t.inject({ method: 'POST', url: '/admin/merchants', headers: bearer(ops), payload: { name: 'Tea House', product_ids: productIds } });
  expect(m.statusCode).toBe(201);
  const s = await t.inject({ method: 'POST', url: `/admin/merchants/${m.json().id}/stores`, headers: bearer(ops), payload: { name: 'Store 1', address: 'Nanjing Rd 1' } });
  expect(s.statusCode).toBe(201);
  return { merchantId: m.json().id as string, storeId: s.json().id as string };
}

async function staffKey(storeId: string, name = 'cashier') {
  const res = await t.inject({ method: 'POST', url: `/admin/stores/${storeId}/staff`, headers: bearer(ops), payload: { name } });
  expect(res.statusCode).toBe(201);
  return signed(res.json().api_key as Key);
}

/** A customer who bought `n` codes of the SKU (delivered, not revealed); returns the customer and the codes' ids and secrets. */
async function soldCodes(sku: string, n: number, opts: { expiresAt?: Date } = {}) {
  const secrets = await stockCodes(t, sku, n, opts);
  const externalId = `cust-${randomBytes(4).toString('hex')}`;
  const { customerId } = await t.services.customers.resolve({ identity: { provider: 'partner', externalId } });
  await t.services.orders.creditBalance({ type: 'customer', id: customerId }, 100_000 * n, 'test', { id: 'stf_test' });
  const order = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId: sku, quantity: n, channel: 'admin', payment: 'balance' }, tx));
  const rows = (await t.platform.database.executeSql<{ id: string; state: string }>('select id, state from codes where order_id = $1 order by id', [order.id])).rows;
  const plain = await t.services.vault.openCodes(rows.map((r) => r.id));
  return { customerId, externalId, states: rows.map((r) => r.state), codes: rows.map((r) => ({ id: r.id, secret: plain.get(r.id)!.secret })), secrets };
}

describe('offline redemption', () => {
  it('sets up merchants, stores and staff; verify says yes without ever showing the secret; a staff key works only for redemptions', async () => {
    const sku = await createCodeSku(t);
    const { storeId, merchantId } = await merchantWithStore([await productOf(sku)]);
    const call = await staffKey(storeId);
    const { codes, states } = await soldCodes(sku, 1);
    expect(states).toEqual(['delivered']);
    const v = await call('POST', '/open/v1/redemptions/verify', { code: codes[0]!.secret });
    expect(v.statusCode).toBe(200);
    expect(v.json()).toMatchObject({ redeemable: true, reason: null, via: 'code', code: { id: codes[0]!.id, sku_id: sku, face_value_fen: 10_000, state: 'delivered' } });
    expect(v.body).not.toContain(codes[0]!.secret);
    expect(v.json().code.secret_masked.endsWith(codes[0]!.secret.slice(-4))).toBe(true);
    // Verifying changes nothing.
    expect((await t.services.vault.getCode(codes[0]!.id)).state).toBe('delivered');
    // Unknown code: 404.
    expect((await call('POST', '/open/v1/redemptions/verify', { code: 'no-such-code-123' })).statusCode).toBe(404);
    // The staff key cannot buy (it is not a partner key); a partner key cannot redeem.
    const buy = await call('POST', '/open/v1/orders', { sku_id: sku, quantity: 1, payment: 'balance', customer: { provider: 'partner', external_id: 'x' } }, 'buy-with-staff-key');
    expect(buy.statusCode).toBe(403);
    const partnerKey = (await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'p-redeem', name: 'k' } })).json() as Key;
    expect((await signed(partnerKey)('POST', '/open/v1/redemptions/verify', { code: codes[0]!.secret })).statusCode).toBe(403);
    // Lists are paginated.
    const merchants = await t.inject({ method: 'GET', url: '/admin/merchants?limit=1', headers: bearer(ops) });
    expect(merchants.json().data[0]).toMatchObject({ id: merchantId });
    const staff = await t.inject({ method: 'GET', url: `/admin/stores/${storeId}/staff`, headers: bearer(ops) });
    expect(staff.json().data).toHaveLength(1);
    // Support may not set up merchants.
    const support = (await t.loginAs('support')).token;
    expect((await t.inject({ method: 'POST', url: '/admin/merchants', headers: bearer(support), payload: { name: 'x', product_ids: [] } })).statusCode).toBe(403);
  });

  it('20 staff racing to redeem one code: exactly one succeeds, the others get 409; one history row, one redemption', async () => {
    const sku = await createCodeSku(t);
    const { storeId } = await merchantWithStore([await productOf(sku)]);
    const staff = await Promise.all(Array.from({ length: 20 }, (_, i) => staffKey(storeId, `cashier ${i}`)));
    const { codes } = await soldCodes(sku, 1);
    const results = await Promise.all(staff.map((call, i) => call('POST', '/open/v1/redemptions', { code: codes[0]!.secret }, `race-${i}-${randomBytes(4).toString('hex')}`)));
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    for (const r of results.filter((x) => x.statusCode === 409)) expect(r.json().error.details.reason).toBe('ALREADY_REDEEMED');
    for (const r of results) expect(r.body).not.toContain(codes[0]!.secret);
    const db = t.platform.database;
    expect((await db.executeSql<{ n: number }>('select count(*)::int as n from redemptions where code_id = $1', [codes[0]!.id])).rows[0]!.n).toBe(1);
    expect((await db.executeSql<{ n: number }>("select count(*)::int as n from code_events where code_id = $1 and to_state = 'redeemed'", [codes[0]!.id])).rows[0]!.n).toBe(1);
    expect((await t.services.vault.getCode(codes[0]!.id)).state).toBe('redeemed');
    const winner = results.find((r) => r.statusCode === 201)!.json();
    expect(winner).toMatchObject({ code_id: codes[0]!.id, store_id: storeId, sku_id: sku, face_value_fen: 10_000, via: 'code' });
  });

  it('a retry with the same Idempotency-Key replays the redemption; verify then says already redeemed', async () => {
    const sku = await createCodeSku(t);
    const { storeId } = await merchantWithStore([await productOf(sku)]);
    const call = await staffKey(storeId);
    const { codes } = await soldCodes(sku, 1);
    const first = await call('POST', '/open/v1/redemptions', { code: codes[0]!.secret }, 'redeem-key-0001');
    expect(first.statusCode).toBe(201);
    const again = await call('POST', '/open/v1/redemptions', { code: codes[0]!.secret }, 'redeem-key-0001');
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    const other = await call('POST', '/open/v1/redemptions', { code: codes[0]!.secret }, 'redeem-key-0002');
    expect(other.statusCode).toBe(409);
    const v = await call('POST', '/open/v1/redemptions/verify', { code: codes[0]!.secret });
    expect(v.json()).toMatchObject({ redeemable: false, reason: 'ALREADY_REDEEMED', redeemed: { redemption_id: first.json().id, store_id: storeId } });
  });

  it("another merchant's product, an unsold code and an expired code are refused, and nothing changes", async () => {
    const sku = await createCodeSku(t);
    const otherSku = await createCodeSku(t);
    const { storeId } = await merchantWithStore([await productOf(sku)]);
    const call = await staffKey(storeId);
    const foreign = await soldCodes(otherSku, 1);
    const v = await call('POST', '/open/v1/redemptions/verify', { code: foreign.codes[0]!.secret });
    expect(v.json()).toMatchObject({ redeemable: false, reason: 'NOT_ACCEPTED_HERE' });
    const r = await call('POST', '/open/v1/redemptions', { code: foreign.codes[0]!.secret }, 'foreign-key-001');
    expect(r.statusCode).toBe(422);
    expect(r.json().error.details.reason).toBe('NOT_ACCEPTED_HERE');
    expect((await t.services.vault.getCode(foreign.codes[0]!.id)).state).toBe('delivered');

    const [unsold] = await stockCodes(t, sku, 1);
    const u = await call('POST', '/open/v1/redemptions', { code: unsold! }, 'unsold-key-001');
    expect(u.statusCode).toBe(422);
    expect(u.json().error.details.reason).toBe('NOT_DELIVERED');

    const expiring = await soldCodes(sku, 1, { expiresAt: new Date(clock.now().getTime() + DAY) });
    expect((await call('POST', '/open/v1/redemptions/verify', { code: expiring.codes[0]!.secret })).json().redeemable).toBe(true);
    clock.advance(2 * DAY);
    expect((await call('POST', '/open/v1/redemptions/verify', { code: expiring.codes[0]!.secret })).json()).toMatchObject({ redeemable: false, reason: 'EXPIRED' });
    const e = await call('POST', '/open/v1/redemptions', { code: expiring.codes[0]!.secret }, 'expired-key-001');
    expect(e.statusCode).toBe(422);
    expect(e.json().error.details.reason).toBe('EXPIRED');
    expect((await t.services.vault.getCode(expiring.codes[0]!.id)).state).toBe('delivered');
    expect((await t.platform.database.executeSql<{ n: number }>('select count(*)::int as n from redemptions where store_id = $1', [storeId])).rows[0]!.n).toBe(0);
  });

  it('QR token: only for the owner, single use, expires after 5 minutes', async () => {
    const sku = await createCodeSku(t);
    const { storeId } = await merchantWithStore([await productOf(sku)]);
    const call = await staffKey(storeId);
    const partner = signed((await t.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'p-wallet', name: 'wallet' } })).json() as Key);
    const mine = await soldCodes(sku, 2);
    const stranger = await soldCodes(sku, 1);
    const customer = { provider: 'partner', external_id: mine.externalId };
    // Somebody else's code, or an unknown customer: 404.
    expect((await partner('POST', '/open/v1/redemptions/qr-token', { customer, code_id: stranger.codes[0]!.id })).statusCode).toBe(404);
    expect((await partner('POST', '/open/v1/redemptions/qr-token', { customer: { provider: 'partner', external_id: 'nobody-here' }, code_id: mine.codes[0]!.id })).statusCode).toBe(404);

    const issued = await partner('POST', '/open/v1/redemptions/qr-token', { customer, code_id: mine.codes[0]!.id });
    expect(issued.statusCode).toBe(201);
    const token = issued.json().token as string;
    expect(token).not.toContain(mine.codes[0]!.secret);
    expect(new Date(issued.json().expires_at).getTime() - clock.now().getTime()).toBe(5 * MINUTE);
    const v = await call('POST', '/open/v1/redemptions/verify', { code: token });
    expect(v.json()).toMatchObject({ redeemable: true, via: 'qr', code: { id: mine.codes[0]!.id } });
    expect(v.body).not.toContain(mine.codes[0]!.secret);
    const r = await call('POST', '/open/v1/redemptions', { code: token }, 'qr-key-000001');
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ via: 'qr', code_id: mine.codes[0]!.id });
    // Used: verify says so, and a second redemption is refused.
    expect((await call('POST', '/open/v1/redemptions/verify', { code: token })).json().error.details.reason).toBe('QR_USED');
    expect((await call('POST', '/open/v1/redemptions', { code: token }, 'qr-key-000002')).statusCode).toBe(409);
    // A tampered token is unknown.
    const tampered = token.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 600}.`);
    expect((await call('POST', '/open/v1/redemptions/verify', { code: tampered })).statusCode).toBe(404);

    // The second code: its token expires after 5 minutes, and the code is still redeemable with a new one.
    const late = (await partner('POST', '/open/v1/redemptions/qr-token', { customer, code_id: mine.codes[1]!.id })).json().token as string;
    clock.advance(5 * MINUTE + 1000);
    const expired = await call('POST', '/open/v1/redemptions', { code: late }, 'qr-key-000003');
    expect(expired.statusCode).toBe(422);
    expect(expired.json().error.details.reason).toBe('QR_EXPIRED');
    expect((await t.services.vault.getCode(mine.codes[1]!.id)).state).toBe('delivered');
    const fresh = (await partner('POST', '/open/v1/redemptions/qr-token', { customer, code_id: mine.codes[1]!.id })).json().token as string;
    expect((await call('POST', '/open/v1/redemptions', { code: fresh }, 'qr-key-000004')).statusCode).toBe(201);
  });

  it("store report: counts and face value per day and SKU; the staff's own list shows only their store", async () => {
    const skuA = await createCodeSku(t);
    const skuB = await createCodeSku(t);
    const { storeId, merchantId } = await merchantWithStore([await productOf(skuA), await productOf(skuB)]);
    const otherStore = (await t.inject({ method: 'POST', url: `/admin/merchants/${merchantId}/stores`, headers: bearer(ops), payload: { name: 'Store 2' } })).json().id as string;
    const call = await staffKey(storeId);
    const call2 = await staffKey(otherStore);
    const a = await soldCodes(skuA, 3);
    const b = await soldCodes(skuB, 1);
    const from = new Date(clock.now().getTime() - MINUTE).toISOString();
    let n = 0;
    for (const c of a.codes.slice(0, 2)) expect((await call('POST', '/open/v1/redemptions', { code: c.secret }, `report-key-${++n}`)).statusCode).toBe(201);
    clock.advance(DAY);
    expect((await call('POST', '/open/v1/redemptions', { code: b.codes[0]!.secret }, `report-key-${++n}`)).statusCode).toBe(201);
    expect((await call2('POST', '/open/v1/redemptions', { code: a.codes[2]!.secret }, `report-key-${++n}`)).statusCode).toBe(201);
    const to = new Date(clock.now().getTime() + MINUTE).toISOString();
    const res = await t.inject({ method: 'GET', url: `/admin/redemptions/report?store_id=${storeId}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, headers: bearer(ops) });
    expect(res.statusCode).toBe(200);
    const report = res.json();
    expect(report.total).toEqual({ count: 3, face_value_fen: 30_000 });
    expect(report.rows).toHaveLength(2);
    expect(report.rows.map((r: { sku_id: string; count: number }) => [r.sku_id, r.count])).toEqual([
      [skuA, 2],
      [skuB, 1],
    ]);
    expect(report.rows[0].day < report.rows[1].day).toBe(true);
    const byMerchant = (await t.inject({ method: 'GET', url: `/admin/redemptions/report?merchant_id=${merchantId}&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, headers: bearer(ops) })).json();
    expect(byMerchant.total.count).toBe(4);
    const bad = await t.inject({ method: 'GET', url: `/admin/redemptions/report?store_id=${storeId}&from=${encodeURIComponent(to)}&to=${encodeURIComponent(from)}`, headers: bearer(ops) });
    expect(bad.statusCode).toBe(400);
    const list = await call('GET', '/open/v1/redemptions?limit=2');
    expect(list.json().data).toHaveLength(2);
    expect(list.json().has_more).toBe(true);
    const next = await call('GET', `/open/v1/redemptions?limit=2&cursor=${list.json().next_cursor}`);
    expect(next.json().data).toHaveLength(1);
    for (const r of [...list.json().data, ...next.json().data]) expect(r.store_id).toBe(storeId);
  });
});
