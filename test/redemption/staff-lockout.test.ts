import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';

/** Store staff verify/redeem: failed lookups limited per staff member (10) and per store (30) in a window; 429 before any lookup. */
type Key = { id: string; secret: string };
type Call = (method: 'POST', url: string, body: object, idem?: string) => ReturnType<TestApp['inject']>;

function world(env: Record<string, string>) {
  const w = { t: undefined as unknown as TestApp, ops: '' };
  beforeAll(async () => {
    w.t = await bootTestApp({ env: { RISK_SEED_RULES: 'false', ...env } });
    w.ops = (await w.t.loginAs('operations')).token;
  }, 120_000);
  afterAll(() => w.t.close());

  const signed =
    (key: Key): Call =>
    (method, url, body, idem) => {
      const raw = JSON.stringify(body);
      return w.t.inject({ method, url, payload: raw, headers: { 'content-type': 'application/json', ...(idem ? { 'idempotency-key': idem } : {}), ...signedHeaders(key.id, key.secret, method, url, raw, new Date()) } });
    };
  /** A merchant accepting the SKU's product, one store, and a sold (delivered) code of it. */
  async function store(sku: string) {
    const productId = (await w.t.services.catalog.getSku(sku)).productId;
    const m = await w.t.inject({ method: 'POST', url: '/admin/merchants', headers: bearer(w.ops), payload: { name: 'Tea House', product_ids: [productId] } });
    const s = await w.t.inject({ method: 'POST', url: `/admin/merchants/${m.json().id}/stores`, headers: bearer(w.ops), payload: { name: 'Store 1' } });
    expect(s.statusCode).toBe(201);
    return s.json().id as string;
  }
  async function staff(storeId: string, name = 'cashier') {
    const res = await w.t.inject({ method: 'POST', url: `/admin/stores/${storeId}/staff`, headers: bearer(w.ops), payload: { name } });
    expect(res.statusCode).toBe(201);
    return { id: res.json().staff.id as string, call: signed(res.json().api_key as Key) };
  }
  async function soldCode(sku: string) {
    await stockCodes(w.t, sku, 1);
    const { customerId } = await w.t.services.customers.resolve({ identity: { provider: 'partner', externalId: `c-${randomBytes(4).toString('hex')}` } });
    await w.t.services.orders.creditBalance({ type: 'customer', id: customerId }, 100_000, 'test', { id: 'stf_test' });
    const order = await w.t.platform.db.transaction((tx) => w.t.services.orders.createOrder({ buyer: { type: 'customer', id: customerId }, skuId: sku, quantity: 1, channel: 'admin', payment: 'balance' }, tx));
    const [row] = (await w.t.platform.database.executeSql<{ id: string }>('select id from codes where order_id = $1', [order.id])).rows;
    return (await w.t.services.vault.openCodes([row!.id])).get(row!.id)!.secret;
  }
  return { w, store, staff, soldCode };
}

const verify = (call: Call, code: string) => call('POST', '/open/v1/redemptions/verify', { code });
const guess = () => `guess-${randomBytes(8).toString('hex')}`;
const statuses = async (rs: Promise<{ statusCode: number }>[]) => (await Promise.all(rs)).map((r) => r.statusCode);

describe('store staff verify/redeem lockout (default thresholds: 10 per staff, 30 per store, 10 minutes)', () => {
  const { w, store, staff, soldCode } = world({});

  it('10 failed lookups lock the staff member: the 11th attempt gets 429 with Retry-After before any lookup, even for a valid code; colleagues are not locked', async () => {
    const sku = await createCodeSku(w.t);
    const storeId = await store(sku);
    const a = await staff(storeId, 'a');
    const b = await staff(storeId, 'b');
    const valid = await soldCode(sku);
    for (let i = 0; i < 10; i++) expect((await verify(a.call, guess())).statusCode).toBe(404);
    const lookups = vi.spyOn(w.t.services.vault, 'findLeaked');
    try {
      const locked = await verify(a.call, valid);
      expect(locked.statusCode).toBe(429);
      const retry = Number(locked.headers['retry-after']);
      expect(retry).toBeGreaterThanOrEqual(590);
      expect(retry).toBeLessThanOrEqual(600);
      expect(locked.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many codes not found at this store; try again later', details: { retry_after_seconds: retry } } });
      expect(locked.body).not.toContain(valid);
      const redeem = await a.call('POST', '/open/v1/redemptions', { code: valid }, 'locked-redeem-0001');
      expect(redeem.statusCode).toBe(429);
      expect(lookups).not.toHaveBeenCalled();
      expect((await w.t.services.vault.findLeaked({ secrets: [valid] }))[0]!.matches).toHaveLength(1);
    } finally {
      lookups.mockRestore();
    }
    // Another staff member of the store is still answered (the store has 10 of its 30).
    expect((await verify(b.call, valid)).json()).toMatchObject({ redeemable: true });
  });

  it('successful verifications do not count: 9 failures, 25 successes, then one more failure locks', async () => {
    const sku = await createCodeSku(w.t);
    const storeId = await store(sku);
    const a = await staff(storeId);
    const valid = await soldCode(sku);
    for (let i = 0; i < 9; i++) expect((await verify(a.call, guess())).statusCode).toBe(404);
    for (let i = 0; i < 25; i++) expect((await verify(a.call, valid)).statusCode).toBe(200);
    expect((await verify(a.call, guess())).statusCode).toBe(404);
    expect((await verify(a.call, valid)).statusCode).toBe(429);
  });

  it("a code of a product the merchant does not accept counts (verify's 200 and redeem's 422); parallel guesses cannot overshoot: exactly 10 are looked up", async () => {
    const sku = await createCodeSku(w.t);
    const foreignSku = await createCodeSku(w.t);
    const storeId = await store(sku);
    const a = await staff(storeId, 'a');
    const foreign = await soldCode(foreignSku);
    const v = await verify(a.call, foreign);
    expect(v.statusCode).toBe(200);
    expect(v.json()).toMatchObject({ redeemable: false, reason: 'NOT_ACCEPTED_HERE' });
    const r = await a.call('POST', '/open/v1/redemptions', { code: foreign }, 'foreign-redeem-01');
    expect(r.statusCode).toBe(422);
    expect(r.json().error.details.reason).toBe('NOT_ACCEPTED_HERE');
    // 2 failures so far: of 25 parallel guesses exactly 8 are looked up.
    const b = await staff(storeId, 'b');
    const got = await statuses(Array.from({ length: 25 }, () => verify(a.call, guess())));
    expect(got.filter((s) => s === 404)).toHaveLength(8);
    expect(got.filter((s) => s === 429)).toHaveLength(17);
    const got2 = await statuses(Array.from({ length: 25 }, () => verify(b.call, guess())));
    expect(got2.filter((s) => s === 404)).toHaveLength(10);
    expect(got2.filter((s) => s === 429)).toHaveLength(15);
  });

  it('30 failures across staff lock the whole store (a new staff member too), not other stores; one alert per locked staff member and store', async () => {
    const sku = await createCodeSku(w.t);
    const storeId = await store(sku);
    const otherStore = await store(sku);
    const valid = await soldCode(sku);
    const crew = await Promise.all([1, 2, 3].map((i) => staff(storeId, `s${i}`)));
    for (const s of crew) for (let i = 0; i < 10; i++) expect((await verify(s.call, guess())).statusCode).toBe(404);
    const fresh = await staff(storeId, 'new');
    expect((await verify(fresh.call, valid)).statusCode).toBe(429);
    const elsewhere = await staff(otherStore, 'elsewhere');
    expect((await verify(elsewhere.call, valid)).json()).toMatchObject({ redeemable: true });
    // More attempts while locked raise nothing new.
    for (let i = 0; i < 3; i++) expect((await verify(crew[0]!.call, guess())).statusCode).toBe(429);
    const alerts = (await w.t.platform.database.executeSql<{ subject_type: string; subject_id: string; severity: string }>("select subject_type, subject_id, severity from alerts where kind = 'risk' and subject_id = any($1) order by subject_type, subject_id", [[storeId, ...crew.map((s) => s.id), fresh.id]])).rows;
    expect(alerts).toEqual([{ subject_type: 'store', subject_id: storeId, severity: 'critical' }, ...crew.map((s) => ({ subject_type: 'store_staff', subject_id: s.id, severity: 'critical' })).sort((x, y) => x.subject_id.localeCompare(y.subject_id))]);
  });
});

describe('store staff lockout window expiry (1 s window, 3 failures)', () => {
  const { w, store, staff, soldCode } = world({ STAFF_VERIFY_LOCKOUT_WINDOW_SECONDS: '1', STAFF_VERIFY_LOCKOUT_FAILURES: '3' });

  it('locked after 3 failures, answered again once the window has passed', async () => {
    const sku = await createCodeSku(w.t);
    const a = await staff(await store(sku));
    const valid = await soldCode(sku);
    expect(await statuses([0, 1, 2].map(() => verify(a.call, guess())))).toEqual([404, 404, 404]);
    const locked = await verify(a.call, valid);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe('1');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await verify(a.call, valid)).json()).toMatchObject({ redeemable: true });
  });
});
