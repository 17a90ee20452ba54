import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/lib/clock.js';
import { SupplierCallError, SupplierUncertainError, type SupplierAdapter } from '../../src/modules/suppliers/adapter.js';
import { createHttpJsonAdapter } from '../../src/modules/suppliers/http-json-adapter.js';
import { assertSupplierUrl } from '../../src/modules/suppliers/url-policy.js';
import { startSupplierSim, type SupplierSim } from '../fakes/supplier-sim/server.js';

let sim: SupplierSim;
let adapter: SupplierAdapter;
const clock = new ManualClock(new Date());
const API_KEY = 'adapter-test-api-key-0123';
const SECRET = 'adapter-test-callback-secret';

beforeAll(async () => {
  sim = await startSupplierSim({
    apiKey: API_KEY,
    callbackSecret: SECRET,
    seed: 7,
    balanceFen: 50_000,
    hangMs: 2_000,
    products: [
      { sku: 'A', name: 'Item A', costFen: 1000, stock: 5 },
      { sku: 'B', name: 'Item B', costFen: 2000, stock: 5 },
      { sku: 'T', name: 'Top-up', costFen: 500, stock: 100, kind: 'topup' },
    ],
  });
  // A generous timeout for calls that should answer (a loaded CI machine is slow); the timeout test uses its own short one.
  adapter = createHttpJsonAdapter({ baseUrl: sim.url, apiKey: API_KEY, callbackSecret: SECRET, timeoutMs: 5_000, clock });
});
afterAll(() => sim.close());

/** Signs like a supplier does, written out here rather than borrowed from the adapter. */
const sign = (secret: string, ts: number, body: string) => createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex');
const nowSec = () => Math.floor(clock.now().getTime() / 1000);

async function expectError<E extends Error>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).not.toContain(API_KEY);
  return err as E;
}

describe('http_json adapter against the simulator', () => {
  it('lists products incrementally: the cursor returns only items changed after it', async () => {
    const first = await adapter.listProducts(null);
    expect(first.products.map((p) => p.externalSku).sort()).toEqual(['A', 'B', 'T']);
    expect(first.products.find((p) => p.externalSku === 'A')).toMatchObject({ name: 'Item A', costFen: 1000, stock: 5, available: true });
    expect((await adapter.listProducts(first.cursor)).products).toEqual([]);
    sim.control.setProduct('B', { costFen: 2100 });
    const second = await adapter.listProducts(first.cursor);
    expect(second.products).toHaveLength(1);
    expect(second.products[0]).toMatchObject({ externalSku: 'B', costFen: 2100 });
    expect(sim.control.requests()).toContain(`GET /api/products?since=${encodeURIComponent(first.cursor)}`);
  });

  it('places orders idempotently on ref: the same ref twice is one purchase, and the balance drops once', async () => {
    const balanceBefore = (await adapter.balance()).balanceFen;
    const a = await adapter.placeOrder({ externalRef: 'p1:1', externalSku: 'A', quantity: 2 });
    const b = await adapter.placeOrder({ externalRef: 'p1:1', externalSku: 'A', quantity: 2 });
    expect(a.status).toBe('succeeded');
    expect(a.codes).toHaveLength(2);
    expect(b).toEqual(a);
    expect(sim.control.placeCalls('p1:1')).toBe(2);
    expect((await adapter.balance()).balanceFen).toBe(balanceBefore - 2 * 1000);
    expect(await adapter.queryOrder('p1:1')).toEqual(a);
  });

  it('top-up orders carry no codes; an out-of-stock SKU fails with out_of_stock', async () => {
    const topup = await adapter.placeOrder({ externalRef: 't1:1', externalSku: 'T', quantity: 1, account: '13800000000' });
    expect(topup).toMatchObject({ status: 'succeeded', costFen: 500 });
    expect(topup.codes).toBeUndefined();
    sim.control.configure({ outOfStockSkus: ['B'] });
    expect(await adapter.placeOrder({ externalRef: 'oos:1', externalSku: 'B', quantity: 1 })).toMatchObject({ status: 'failed', error: 'out_of_stock' });
    sim.control.configure({ outOfStockSkus: [] });
  });

  it('an unknown ref is not_found; a 4xx is a refused call', async () => {
    expect(await adapter.queryOrder('never-placed:1')).toEqual({ status: 'not_found' });
    const err = await expectError(adapter.placeOrder({ externalRef: 'x:1', externalSku: 'NOPE', quantity: 1 }), SupplierCallError);
    expect(err.message).toContain('400');
    const wrongKey = createHttpJsonAdapter({ baseUrl: sim.url, apiKey: 'wrong-key-123456', callbackSecret: SECRET, timeoutMs: 5_000, clock });
    await expectError(wrongKey.balance(), SupplierCallError);
  });

  it('a 500 on an order is uncertain (it may have been taken); on a read it is a refused call', async () => {
    sim.control.configure({ errorRate: 1 });
    await expectError(adapter.placeOrder({ externalRef: 'e:1', externalSku: 'A', quantity: 1 }), SupplierUncertainError);
    await expectError(adapter.queryOrder('e:1'), SupplierCallError);
    await expectError(adapter.listProducts(null), SupplierCallError);
    sim.control.configure({ errorRate: 0 });
  });

  it('a timeout is uncertain, and the order may well exist', async () => {
    sim.control.configure({ timeoutRate: { orders: 1 }, timeoutTakesOrder: true });
    const hasty = createHttpJsonAdapter({ baseUrl: sim.url, apiKey: API_KEY, callbackSecret: SECRET, timeoutMs: 300, clock });
    const started = Date.now();
    const err = await expectError(hasty.placeOrder({ externalRef: 'slow:1', externalSku: 'A', quantity: 1 }), SupplierUncertainError);
    expect(err.message).toContain('300 ms');
    expect(Date.now() - started).toBeLessThan(1500);
    sim.control.configure({ timeoutRate: 0 });
    expect((await adapter.queryOrder('slow:1')).status).toBe('succeeded');
  });

  it('a connection refused is uncertain', async () => {
    const dead = createHttpJsonAdapter({ baseUrl: 'http://127.0.0.1:1', apiKey: API_KEY, callbackSecret: SECRET, timeoutMs: 300, clock });
    await expectError(dead.placeOrder({ externalRef: 'd:1', externalSku: 'A', quantity: 1 }), SupplierUncertainError);
  });

  it('verifies callbacks: a good signature passes, a wrong secret, a tampered body or a stale timestamp do not', () => {
    const body = JSON.stringify({ ref: 'cb:1', order_id: 'X1', status: 'succeeded', cost_fen: 1000, codes: [{ card_number: '1234', secret: 'S3CRET' }] });
    const ts = nowSec();
    const headers = (t: number, sig: string) => ({ 'x-supplier-timestamp': String(t), 'x-supplier-signature': sig });
    expect(adapter.verifyCallback(headers(ts, sign(SECRET, ts, body)), body)).toEqual({
      externalRef: 'cb:1',
      state: { status: 'succeeded', supplierOrderId: 'X1', costFen: 1000, codes: [{ cardNumber: '1234', secret: 'S3CRET' }] },
    });
    // Header names are case-insensitive, as HTTP says.
    expect(adapter.verifyCallback({ 'X-Supplier-Timestamp': String(ts), 'X-Supplier-Signature': sign(SECRET, ts, body) }, body)).not.toBeNull();
    expect(adapter.verifyCallback(headers(ts, sign('another-secret', ts, body)), body)).toBeNull();
    expect(adapter.verifyCallback(headers(ts, sign(SECRET, ts, body)), body.replace('S3CRET', 'OTHER'))).toBeNull();
    expect(adapter.verifyCallback({}, body)).toBeNull();
    expect(adapter.verifyCallback(headers(ts - 301, sign(SECRET, ts - 301, body)), body)).toBeNull();
    expect(adapter.verifyCallback(headers(ts + 301, sign(SECRET, ts + 301, body)), body)).toBeNull();
    expect(adapter.verifyCallback(headers(ts - 299, sign(SECRET, ts - 299, body)), body)).not.toBeNull();
  });
});

describe('supplier base URLs', () => {
  it('only http(s), no credentials, and only allow-listed hosts when a list is given', () => {
    expect(assertSupplierUrl('https://api.supplier.cn/v1').toString()).toBe('https://api.supplier.cn/v1/');
    expect(() => assertSupplierUrl('ftp://api.supplier.cn/')).toThrow(/http or https/);
    expect(() => assertSupplierUrl('file:///etc/passwd')).toThrow(/http or https/);
    expect(() => assertSupplierUrl('https://user:pw@api.supplier.cn/')).toThrow(/credentials/);
    expect(() => assertSupplierUrl('not a url')).toThrow(/not a URL/);
    const list = ['api.supplier.cn', '*.trusted.cn'];
    expect(() => assertSupplierUrl('https://api.supplier.cn/', list)).not.toThrow();
    expect(() => assertSupplierUrl('https://x.trusted.cn/', list)).not.toThrow();
    expect(() => assertSupplierUrl('https://trusted.cn/', list)).toThrow(/allow-list/);
    expect(() => assertSupplierUrl('http://169.254.169.254/', list)).toThrow(/allow-list/);
    expect(() => assertSupplierUrl('https://evil.cn/?x=api.supplier.cn', list)).toThrow();
  });

  it('the adapter refuses a host outside the allow-list before any request', () => {
    expect(() => createHttpJsonAdapter({ baseUrl: sim.url, apiKey: API_KEY, callbackSecret: SECRET, timeoutMs: 300, clock, allowedHosts: ['api.supplier.cn'] })).toThrow(/allow-list/);
  });
});
