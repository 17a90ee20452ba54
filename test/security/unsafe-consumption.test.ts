import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, bootTestApp, type TestApp } from '../helpers/boot.js';
import { startSupplierSim, type SupplierSim } from '../fakes/supplier-sim/server.js';
import { assertSafeResponse, uniq } from './world.js';

/**
 * OWASP API10 (unsafe consumption of APIs): a supplier answering garbage —
 * HTML, truncated JSON, wrong types, prototype-pollution keys, huge numbers,
 * a 200 "succeeded" order without codes — never makes the platform answer 5xx,
 * never imports junk as codes, and a purchase fails over cleanly to the next
 * supplier without buying twice.
 */
const garbage: ((path: string) => { status: number; type: string; body: string })[] = [
  () => ({ status: 200, type: 'text/html', body: '<html><body>502 Bad Gateway</body></html>' }),
  () => ({ status: 200, type: 'application/json', body: '{"products":[{"sku":"A1","cost_fen":' }),
  () => ({ status: 200, type: 'application/json', body: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"products":"nope","balance_fen":"lots"}' }),
  () => ({ status: 200, type: 'application/json', body: '{"products":[{"sku":{"$ne":null},"cost_fen":-1e309,"stock":"NaN","updated_at":"yesterday"}],"cursor":42,"balance_fen":1e400}' }),
  (path) => ({ status: 200, type: 'application/json', body: path.includes('orders') ? '{"ref":"x","status":"succeeded","codes":[{"secret":12},{"card_number":null}]}' : '[]' }),
  () => ({ status: 200, type: 'application/json', body: `{"products":[${'{"sku":"x","name":"' + 'A'.repeat(10_000) + '"},'.repeat(50)}{}]}` }),
  () => ({ status: 418, type: 'application/json', body: '{"error":{"nested":{"deep":[1,2,3]}}}' }),
];

let t: TestApp;
let owner: string;
let server: Server;
let garbageUrl = '';
let sim: SupplierSim;
let n = 0;
const orderRefs: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    // An order lookup says "no such order", so the platform may fail over; everything else is garbage.
    if (req.method === 'GET' && path.startsWith('/api/orders/')) {
      orderRefs.push(decodeURIComponent(path.slice('/api/orders/'.length)));
      return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    }
    const g = garbage[n++ % garbage.length]!(path);
    res.writeHead(g.status, { 'content-type': g.type }).end(g.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  garbageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  sim = await startSupplierSim({ seed: 7, apiKey: 'sim-key-security-0123', callbackSecret: 'sim-callback-secret-security', products: [{ sku: 'A1', costFen: 500, stock: 100 }] });
  t = await bootTestApp();
  owner = (await t.loginAs('owner')).token;
});
afterAll(async () => {
  await t?.close();
  await sim?.close();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

const admin = (method: string, url: string, payload?: object) => t.inject({ method: method as 'POST', url, payload, headers: { ...bearer(owner), 'idempotency-key': `k-${uniq()}` } });

describe('API10 unsafe consumption of APIs', () => {
  it('syncing from a supplier that answers garbage: no 5xx, no junk stored, no key shown', async () => {
    const sup = await admin('POST', '/admin/suppliers', { name: 'garbage', base_url: garbageUrl, api_key: 'garbage-key-0123456789', callback_secret: 'garbage-callback-0123456789', timeout_ms: 1000 });
    expect(sup.statusCode, sup.body).toBe(201);
    for (let i = 0; i < garbage.length; i++) {
      const res = await admin('POST', `/admin/suppliers/${sup.json().id}/sync`, {});
      assertSafeResponse(res, ['garbage-key-0123456789'], `sync #${i}`);
      const products = await admin('GET', `/admin/suppliers/${sup.json().id}/products?limit=100`);
      expect(products.statusCode).toBe(200);
      expect(products.json().data.every((p: { name?: string }) => (p.name ?? '').length < 1000)).toBe(true);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const list = await admin('GET', '/admin/suppliers?limit=100');
    expect(list.body).not.toContain('garbage-key-0123456789');
  });

  it('a purchase fails over from the garbage supplier to a sound one, buying once, importing only real codes', async () => {
    const bad = (await admin('POST', '/admin/suppliers', { name: 'garbage 2', base_url: garbageUrl, api_key: 'garbage-key-abcdefghij', callback_secret: 'garbage-callback-abcdefghij', timeout_ms: 1000 })).json();
    const good = await admin('POST', '/admin/suppliers', { name: 'sound', base_url: sim.url, api_key: sim.apiKey, callback_secret: sim.callbackSecret, timeout_ms: 2000 });
    expect(good.statusCode, good.body).toBe(201);
    const product = await admin('POST', '/admin/products', { name: `supplied ${uniq()}`, brand: 'b', category: 'games', kind: 'code', skus: [{ name: 's', face_value_fen: 1_000, cost_fen: 600, retail_price_fen: 1_000 }] });
    expect(product.statusCode, product.body).toBe(201);
    const skuId = product.json().skus[0].id as string;
    const route = await admin('PUT', `/admin/skus/${skuId}/suppliers`, { suppliers: [{ supplier_id: bad.id, external_sku: 'A1' }, { supplier_id: good.json().id, external_sku: 'A1' }] });
    expect(route.statusCode, route.body).toBe(200);
    const before = sim.control.purchases();
    for (let i = 0; i < 4; i++) {
      const purchaseId = `sec-${uniq()}`;
      const res = await admin('POST', '/admin/supplier-purchases', { purchase_id: purchaseId, sku_id: skuId, quantity: 2 });
      assertSafeResponse(res, [], `purchase #${i}`);
      expect(res.statusCode, res.body).toBe(200);
      // Either the garbage supplier's answer was unusable and the sound one sold, or the purchase stopped as uncertain: never both.
      if (res.json().status === 'succeeded') expect(res.json()).toMatchObject({ supplier_id: good.json().id, codes_imported: 2 });
      else expect(['failed', 'uncertain', 'pending']).toContain(res.json().status);
      const replay = await admin('POST', '/admin/supplier-purchases', { purchase_id: purchaseId, sku_id: skuId, quantity: 2 });
      expect(replay.json().status).toBe(res.json().status);
    }
    const bought = sim.control.purchases() - before;
    expect(bought).toBeGreaterThan(0);
    expect(bought).toBeLessThanOrEqual(4);
    // Every code in stock for the SKU came from the sound supplier's orders.
    const simSecrets = new Set(sim.control.orders().flatMap((o) => (o.codes ?? []).map((c) => c.secret)));
    const stocked = await t.services.vault.listCodes({ skuId, limit: 100 });
    expect(stocked.data.length).toBe(bought * 2);
    const owner = (await t.services.auth.listStaff({ limit: 1 })).data[0]!;
    for (const c of stocked.data) expect(simSecrets.has((await t.services.vault.revealToStaff(c.id, 'check origin', { id: owner.id, type: 'staff' } as never)).secret)).toBe(true);
  });
});
