import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/boot.js';
import type { SupplierSim } from '../fakes/supplier-sim/server.js';
import { createSupplierService } from '../../src/modules/suppliers/service.js';
import { openTestbed, staff, type Testbed } from './testbed.js';

let tb: Testbed;
let sim1: SupplierSim;
let sim2: SupplierSim;
let sup1: string;
let sup2: string;

beforeAll(async () => {
  tb = await openTestbed();
  sim1 = await tb.startSim({ products: [{ sku: 'steam-100', costFen: 9_300 }, { sku: 'netease-60', costFen: 5_500 }, { sku: 'unmapped', costFen: 100 }] });
  sim2 = await tb.startSim({ products: [{ sku: 'S100', costFen: 9_600 }] });
  sup1 = (await tb.addSupplier(sim1, { name: 'primary' })).id;
  sup2 = (await tb.addSupplier(sim2, { name: 'backup' })).id;
});
afterAll(() => tb.close());

const sku = (id: string) => tb.t.services.catalog.getSku(id);
const openAlert = (kind: 'price_change' | 'margin_guard', subject: string) => tb.alerts.openAlert(kind, subject);

describe('incremental sync', () => {
  it('first sync stores everything; the next sees only what changed, and a mapped cost change raises price_change', async () => {
    const skuId = await tb.makeSku({ retailPriceFen: 10_000 });
    await tb.suppliers.setSkuSuppliers(skuId, [{ supplierId: sup1, externalSku: 'netease-60' }], staff);

    const first = await tb.suppliers.syncSupplier(sup1);
    expect(first).toMatchObject({ changed: 3, priceChanges: 0, ok: true });
    expect((await sku(skuId)).costFen).toBe(5_500);

    expect((await tb.suppliers.syncSupplier(sup1)).changed).toBe(0);

    sim1.control.setProduct('netease-60', { costFen: 5_800 });
    sim1.control.setProduct('unmapped', { costFen: 150 });
    const third = await tb.suppliers.syncSupplier(sup1);
    expect(third).toMatchObject({ changed: 2, priceChanges: 1 });
    // The simulator was asked only for changes since the stored cursor.
    expect(sim1.control.requests().filter((r) => r.startsWith('GET /api/products')).slice(-2).every((r) => r.includes('since='))).toBe(true);

    const products = await tb.suppliers.listSupplierProducts(sup1, { limit: 10 });
    const netease = products.data.find((p) => p.external_sku === 'netease-60')!;
    expect(netease.cost_fen).toBe(5_800);
    const alert = await openAlert('price_change', netease.id);
    expect(alert).toMatchObject({ severity: 'warning', details: { old_cost_fen: 5_500, new_cost_fen: 5_800, external_sku: 'netease-60', sku_ids: [skuId] } });
    expect(alert!.message).toContain('¥55.00');
    // An unmapped item's change is stored but not alerted.
    const unmapped = products.data.find((p) => p.external_sku === 'unmapped')!;
    expect(unmapped.cost_fen).toBe(150);
    expect(await openAlert('price_change', unmapped.id)).toBeNull();
    // The catalogue cost follows the supplier.
    expect((await sku(skuId)).costFen).toBe(5_800);
  });

  it('a failing sync keeps the cursor, so nothing is skipped', async () => {
    sim1.control.setProduct('steam-100', { stock: 42 });
    sim1.control.configure({ errorRate: { products: 1 } });
    const all = await tb.suppliers.syncAll();
    expect(all.find((r) => r.supplierId === sup1)).toMatchObject({ ok: false });
    expect(all.find((r) => r.supplierId === sup2)).toMatchObject({ ok: true });
    sim1.control.configure({ errorRate: 0 });
    expect((await tb.suppliers.syncSupplier(sup1)).changed).toBe(1);
    const steam = (await tb.suppliers.listSupplierProducts(sup1, { limit: 10 })).data.find((p) => p.external_sku === 'steam-100');
    expect(steam?.stock).toBe(42);
  });
});

describe('margin guard', () => {
  it('takes a SKU off sale with a reason when its best supplier costs more than the price, and puts it back', async () => {
    const skuId = await tb.makeSku({ retailPriceFen: 9_900 });
    await tb.suppliers.setSkuSuppliers(
      skuId,
      [
        { supplierId: sup1, externalSku: 'steam-100' },
        { supplierId: sup2, externalSku: 'S100' },
      ],
      staff,
    );
    await tb.suppliers.syncAll();
    expect(await sku(skuId)).toMatchObject({ onSale: true, costFen: 9_300 });

    // The best supplier (priority 1) raises its cost above the price of ¥99.00.
    sim1.control.setProduct('steam-100', { costFen: 10_050 });
    await tb.suppliers.syncSupplier(sup1);
    const off = await sku(skuId);
    expect(off.onSale).toBe(false);
    expect(off.offSaleReason).toBe('margin guard: supplier cost ¥100.50 above price ¥99.00');
    expect(off.costFen).toBe(10_050);
    expect(await openAlert('margin_guard', skuId)).toMatchObject({ severity: 'critical', details: { cost_fen: 10_050, retail_price_fen: 9_900, supplier_id: sup1 } });

    // The best supplier runs out: the backup (¥96.00) becomes the best and the SKU sells again.
    sim1.control.setProduct('steam-100', { stock: 0 });
    await tb.suppliers.syncSupplier(sup1);
    const back = await sku(skuId);
    expect(back).toMatchObject({ onSale: true, offSaleReason: null, costFen: 9_600 });
    expect(await openAlert('margin_guard', skuId)).toBeNull();
  });

  it('does not put back on sale a SKU that staff took off by hand', async () => {
    const skuId = await tb.makeSku({ retailPriceFen: 20_000 });
    await tb.t.services.catalog.updateSku(skuId, { onSale: false }, staff);
    await tb.suppliers.setSkuSuppliers(skuId, [{ supplierId: sup2, externalSku: 'S100' }], staff);
    expect(await tb.suppliers.evaluateMargin(skuId)).toBe('ok');
    expect((await sku(skuId)).onSale).toBe(false);
  });

  it('disabling the best supplier re-routes the guard to the next one', async () => {
    const skuId = await tb.makeSku({ retailPriceFen: 9_400 });
    const cheap = await tb.startSim({ products: [{ sku: 'C', costFen: 9_000 }] });
    const cheapId = (await tb.addSupplier(cheap, { name: 'cheap' })).id;
    await tb.suppliers.syncSupplier(cheapId);
    await tb.suppliers.setSkuSuppliers(
      skuId,
      [
        { supplierId: cheapId, externalSku: 'C' },
        { supplierId: sup2, externalSku: 'S100' },
      ],
      staff,
    );
    expect((await sku(skuId)).onSale).toBe(true);
    await tb.suppliers.disableSupplier(cheapId, staff);
    expect(await sku(skuId)).toMatchObject({ onSale: false, costFen: 9_600 });
  });
});

describe('admin HTTP face', () => {
  it('registers, lists, patches and routes suppliers; no view ever contains the API key or callback secret', async () => {
    const owner = (await tb.t.loginAs('owner')).token;
    const reader = (await tb.t.loginAs('readonly')).token;
    const sim = await tb.startSim({ apiKey: 'very-secret-api-key-000111', callbackSecret: 'very-secret-callback-222333', products: [{ sku: 'Z', costFen: 10 }] });
    const created = await tb.app.inject({ method: 'POST', url: '/admin/suppliers', headers: bearer(owner), payload: { name: 'via http', base_url: sim.url, api_key: sim.apiKey, callback_secret: sim.callbackSecret, timeout_ms: 1500 } });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect(id).toMatch(/^sup_/);

    expect((await tb.app.inject({ method: 'POST', url: `/admin/suppliers/${id}/sync`, headers: bearer(owner) })).json()).toEqual({ supplier_id: id, changed: 1, price_changes: 0 });
    const rotated = await tb.app.inject({ method: 'PATCH', url: `/admin/suppliers/${id}`, headers: bearer(owner), payload: { api_key: 'rotated-api-key-444555' } });
    expect(rotated.statusCode).toBe(200);
    const skuId = await tb.makeSku({ retailPriceFen: 500 });
    const put = await tb.app.inject({ method: 'PUT', url: `/admin/skus/${skuId}/suppliers`, headers: bearer(owner), payload: { suppliers: [{ supplier_id: id, external_sku: 'Z' }] } });
    expect(put.statusCode).toBe(200);
    expect(put.json().data[0]).toMatchObject({ supplier_id: id, priority: 1, cost_fen: 10 });

    const bodies = [
      created.body,
      rotated.body,
      (await tb.app.inject({ method: 'GET', url: '/admin/suppliers', headers: bearer(reader) })).body,
      (await tb.app.inject({ method: 'GET', url: `/admin/suppliers/${id}/products`, headers: bearer(reader) })).body,
      (await tb.app.inject({ method: 'GET', url: `/admin/skus/${skuId}/suppliers`, headers: bearer(reader) })).body,
      (await tb.app.inject({ method: 'GET', url: '/admin/supplier-orders', headers: bearer(reader) })).body,
      JSON.stringify(await tb.t.services.audit.list({ limit: 100 })),
    ];
    expect(bodies[2]).toContain(id);
    for (const body of bodies) {
      for (const secret of ['very-secret-api-key-000111', 'very-secret-callback-222333', 'rotated-api-key-444555']) expect(body).not.toContain(secret);
    }
    // Sealed at rest too.
    const raw = await tb.t.platform.database.executeSql<{ s: string }>(`select encode(credentials_sealed, 'escape') as s from suppliers`);
    expect(raw.rows.map((r) => r.s).join('')).not.toContain('very-secret');
    // Audited.
    expect((await tb.t.services.audit.list({ limit: 5, action: 'supplier.update' })).data[0]).toMatchObject({ target_id: id, details: { api_key_changed: true } });
  });

  it('reads need catalog:read, writes catalog:write; bad input is a 400 naming the field', async () => {
    const reader = (await tb.t.loginAs('readonly')).token;
    const ops = (await tb.t.loginAs('operations')).token;
    expect((await tb.app.inject({ method: 'GET', url: '/admin/suppliers' })).statusCode).toBe(401);
    expect((await tb.app.inject({ method: 'POST', url: `/admin/suppliers/${sup1}/sync`, headers: bearer(reader) })).statusCode).toBe(403);
    expect((await tb.app.inject({ method: 'POST', url: `/admin/suppliers/${sup1}/sync`, headers: bearer(ops) })).statusCode).toBe(200);
    const bad = await tb.app.inject({ method: 'POST', url: '/admin/suppliers', headers: bearer(ops), payload: { name: 'x', base_url: 'gopher://x.cn/', api_key: '12345678', callback_secret: '12345678' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details[0].field).toBe('base_url');
  });

  it('an allow-list refuses suppliers on other hosts', async () => {
    const deps = { audit: tb.t.services.audit, catalog: tb.t.services.catalog, alerts: tb.alerts, importPurchasedCodes: async () => ({ batchId: 'none', count: 0 }) };
    const strict = createSupplierService(tb.t.platform, deps, { allowedHosts: ['api.supplier.cn'] });
    await expect(strict.createSupplier({ name: 'x', baseUrl: sim1.url, apiKey: sim1.apiKey, callbackSecret: sim1.callbackSecret }, staff)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    // A supplier saved before the list existed is not called either.
    await expect(strict.syncSupplier(sup1)).rejects.toThrow(/allow-list/);
  });
});
