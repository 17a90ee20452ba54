import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { newId } from '../../src/lib/ids.js';
import { createHttpJsonAdapter } from '../../src/modules/suppliers/http-json-adapter.js';
import { createSupplierService } from '../../src/modules/suppliers/service.js';
import { supplierOrders, suppliers as suppliersTable } from '../../src/modules/suppliers/schema.js';
import type { SupplierSim } from '../fakes/supplier-sim/server.js';
import { openTestbed, staff, type Testbed } from './testbed.js';

let tb: Testbed;
let sim1: SupplierSim;
let sim2: SupplierSim;
let sup1: string;
let sup2: string;
let skuId: string;
let n = 0;
const nextPurchase = () => `pur-${++n}`;

beforeAll(async () => {
  tb = await openTestbed();
  // The first supplier stops answering well past the 400 ms client timeout.
  sim1 = await tb.startSim({ hangMs: 3_000, products: [{ sku: 'A1', costFen: 900, stock: 100 }] });
  sim2 = await tb.startSim({ products: [{ sku: 'B1', costFen: 950, stock: 100 }] });
  sup1 = (await tb.addSupplier(sim1, { name: 'first', timeoutMs: 400 })).id;
  sup2 = (await tb.addSupplier(sim2, { name: 'second', timeoutMs: 400 })).id;
  skuId = await tb.makeSku({ retailPriceFen: 1_000 });
  await tb.suppliers.setSkuSuppliers(
    skuId,
    [
      { supplierId: sup1, externalSku: 'A1' },
      { supplierId: sup2, externalSku: 'B1' },
    ],
    staff,
  );
});
afterAll(() => tb.close());

beforeEach(async () => {
  for (const sim of [sim1, sim2]) sim.control.configure({ errorRate: 0, timeoutRate: 0, outOfStockSkus: [], asyncMode: false });
  // Health from an earlier case must not change routing in the next.
  await tb.t.platform.db.update(suppliersTable).set({ health: 'up', consecutiveFailures: 0 });
  tb.imports.length = 0;
});

const triesOf = (purchaseId: string) => tb.t.platform.db.select().from(supplierOrders).where(eq(supplierOrders.purchaseId, purchaseId)).orderBy(supplierOrders.attempt);

describe('purchase with failover', () => {
  it('buys from the first supplier and imports its codes', async () => {
    const purchaseId = nextPurchase();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 3 });
    expect(r).toEqual({ purchaseId, status: 'succeeded', supplierId: sup1, attempts: 1, codesImported: 3 });
    expect(tb.imports).toHaveLength(1);
    expect(tb.imports[0]).toMatchObject({ skuId, supplierId: sup1, unitCostFen: 900, ref: `${purchaseId}:1` });
    expect(tb.imports[0]!.codes).toEqual(sim1.control.order(`${purchaseId}:1`)!.codes!.map((c) => ({ cardNumber: c.card_number, secret: c.secret, expiresAt: c.expires_at })));
    const [row] = await triesOf(purchaseId);
    expect(row).toMatchObject({ status: 'succeeded', externalRef: `${purchaseId}:1`, costFen: 900, result: { batch_id: 'bat_fake_1', codes_imported: 3 } });
    // The stored row keeps no code secret.
    expect(JSON.stringify(row)).not.toContain(tb.imports[0]!.codes[0]!.secret);
  });

  it('fails over to the second supplier when the first answers 500 (and does not have the order)', async () => {
    sim1.control.configure({ errorRate: { orders: 1 } });
    const purchaseId = nextPurchase();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    expect(r).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 2, codesImported: 1 });
    const [t1, t2] = await triesOf(purchaseId);
    expect(t1).toMatchObject({ supplierId: sup1, status: 'failed', attempt: 1 });
    expect(t1!.error).toContain('no such order');
    expect(t2).toMatchObject({ supplierId: sup2, status: 'succeeded', attempt: 2, externalRef: `${purchaseId}:2` });
    // Supplier 1 was asked about the same ref before supplier 2 was tried.
    expect(sim1.control.requests()).toContain(`GET /api/orders/${encodeURIComponent(`${purchaseId}:1`)}`);
    expect(sim1.control.order(`${purchaseId}:1`)).toBeUndefined();
  });

  it('fails over when the first supplier is out of stock', async () => {
    sim1.control.configure({ outOfStockSkus: ['A1'] });
    const purchaseId = nextPurchase();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 2 });
    expect(r).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 2, codesImported: 2 });
    expect((await triesOf(purchaseId))[0]).toMatchObject({ status: 'failed', error: 'out_of_stock' });
    expect(tb.imports.map((i) => i.supplierId)).toEqual([sup2]);
  });

  it('a TIMEOUT after the first supplier took the order: adopts that order, never buys at the second', async () => {
    sim1.control.configure({ timeoutRate: { orders: 1 }, timeoutTakesOrder: true });
    const purchaseId = nextPurchase();
    const purchasesAt2 = sim2.control.purchases();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 2 });
    expect(r).toMatchObject({ status: 'succeeded', supplierId: sup1, attempts: 1, codesImported: 2 });
    // Exactly one order for the ref at supplier 1, charged once; nothing at supplier 2.
    expect(sim1.control.orders().filter((o) => o.ref.startsWith(`${purchaseId}:`))).toHaveLength(1);
    expect(sim1.control.placeCalls(`${purchaseId}:1`)).toBe(1);
    expect(sim2.control.orders().filter((o) => o.ref.startsWith(`${purchaseId}:`))).toHaveLength(0);
    expect(sim2.control.purchases()).toBe(purchasesAt2);
    expect(tb.imports).toHaveLength(1);
    expect(tb.imports[0]!.codes.map((c) => c.secret)).toEqual(sim1.control.order(`${purchaseId}:1`)!.codes!.map((c) => c.secret));
  });

  it('a TIMEOUT where the first supplier did NOT take the order: fails over', async () => {
    sim1.control.configure({ timeoutRate: { orders: 1 }, timeoutTakesOrder: false });
    const purchaseId = nextPurchase();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    expect(r).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 2 });
    expect(sim1.control.order(`${purchaseId}:1`)).toBeUndefined();
    expect(sim2.control.order(`${purchaseId}:2`)?.status).toBe('succeeded');
  });

  it('when the state stays unknown it stops (no second supplier); the poll job settles it later', async () => {
    // The order is taken but neither the placement nor the follow-up queries answer in time.
    sim1.control.configure({ timeoutRate: { orders: 1, query: 1 }, timeoutTakesOrder: true });
    const purchaseId = nextPurchase();
    const r = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    expect(r).toMatchObject({ status: 'unknown', supplierId: sup1, attempts: 1 });
    expect(sim2.control.orders().filter((o) => o.ref.startsWith(`${purchaseId}:`))).toHaveLength(0);
    expect(tb.imports).toHaveLength(0);

    sim1.control.configure({ timeoutRate: 0 });
    // Too recent for the poll job...
    expect((await tb.suppliers.pollOpenOrders()).checked).toBe(0);
    tb.clock.advance(31_000);
    const polled = await tb.suppliers.pollOpenOrders();
    expect(polled).toMatchObject({ checked: 1, settled: 1 });
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'succeeded', supplierId: sup1, codesImported: 1 });
    expect(tb.imports).toHaveLength(1);
    expect(sim1.control.placeCalls(`${purchaseId}:1`)).toBe(1);
  });

  it('an unknown try the supplier turns out not to have is failed over by the poll job', async () => {
    sim1.control.configure({ timeoutRate: { orders: 1, query: 1 }, timeoutTakesOrder: false });
    const purchaseId = nextPurchase();
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'unknown', attempts: 1 });
    sim1.control.configure({ timeoutRate: 0 });
    tb.clock.advance(31_000);
    expect(await tb.suppliers.pollOpenOrders()).toMatchObject({ checked: 1, settled: 1 });
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 2 });
    expect(sim1.control.order(`${purchaseId}:1`)).toBeUndefined();
    expect(tb.imports.map((i) => i.supplierId)).toEqual([sup2]);
  });

  it('a try left "placing" by a crash is placed again with the same ref by the poll job, never bought twice', async () => {
    const purchaseId = nextPurchase();
    const ref = `${purchaseId}:1`;
    const now = tb.clock.now();
    // As if the process died after the order left but before the reply was recorded.
    await tb.t.platform.db.insert(supplierOrders).values({ id: newId('spo', now), purchaseId, supplierId: sup1, skuId, externalSku: 'A1', externalRef: ref, attempt: 1, quantity: 1, status: 'placing', createdAt: now, updatedAt: now });
    const adapter = createHttpJsonAdapter({ baseUrl: sim1.url, apiKey: sim1.apiKey, callbackSecret: sim1.callbackSecret, timeoutMs: 400, clock: tb.clock });
    await adapter.placeOrder({ externalRef: ref, externalSku: 'A1', quantity: 1 });
    const bought = sim1.control.purchases();
    tb.clock.advance(31_000);
    expect(await tb.suppliers.pollOpenOrders()).toMatchObject({ checked: 1, settled: 1 });
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'succeeded', supplierId: sup1, attempts: 1, codesImported: 1 });
    expect(sim1.control.placeCalls(ref)).toBe(2);
    expect(sim1.control.purchases()).toBe(bought);
    expect(tb.imports).toHaveLength(1);
  });

  it('is idempotent on purchaseId: a repeat returns the state without buying, different details are refused', async () => {
    const purchaseId = nextPurchase();
    const first = await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    const purchases = sim1.control.purchases() + sim2.control.purchases();
    const again = await Promise.all([tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 }), tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })]);
    expect(again).toEqual([first, first]);
    expect(sim1.control.purchases() + sim2.control.purchases()).toBe(purchases);
    expect(tb.imports).toHaveLength(1);
    await expect(tb.suppliers.purchase({ purchaseId, skuId, quantity: 5 })).rejects.toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
  });

  it('concurrent first calls with one purchaseId buy once', async () => {
    const purchaseId = nextPurchase();
    const results = await Promise.all([1, 2, 3].map(() => tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })));
    expect(results.filter((r) => r.status === 'succeeded').length).toBeGreaterThanOrEqual(1);
    expect(await triesOf(purchaseId)).toHaveLength(1);
    expect(sim1.control.placeCalls(`${purchaseId}:1`)).toBe(1);
    expect(tb.imports).toHaveLength(1);
  });

  it('every supplier failing makes the purchase failed; a down supplier is skipped while another is up', async () => {
    sim1.control.configure({ outOfStockSkus: ['A1'] });
    sim2.control.configure({ outOfStockSkus: ['B1'] });
    const failed = await tb.suppliers.purchase({ purchaseId: nextPurchase(), skuId, quantity: 1 });
    expect(failed).toMatchObject({ status: 'failed', attempts: 2 });

    sim2.control.configure({ outOfStockSkus: [] });
    await tb.t.platform.db.update(suppliersTable).set({ health: 'down', consecutiveFailures: 3 }).where(eq(suppliersTable.id, sup1));
    const purchaseId = nextPurchase();
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 1 });
    expect(sim1.control.placeCalls(`${purchaseId}:1`)).toBe(0);
  });

  it('with the vault as the importer, purchased codes are stored sealed, once', async () => {
    const { audit, catalog, vault } = tb.t.services;
    const withVault = createSupplierService(tb.t.platform, { audit, catalog, alerts: tb.alerts, importPurchasedCodes: vault.importPurchasedCodes }, { queryRetryDelaysMs: [50] });
    const purchaseId = nextPurchase();
    expect(await withVault.purchase({ purchaseId, skuId, quantity: 2 })).toMatchObject({ status: 'succeeded', supplierId: sup1, codesImported: 2 });
    expect(await withVault.purchase({ purchaseId, skuId, quantity: 2 })).toMatchObject({ status: 'succeeded', codesImported: 2 });
    const batchId = (await triesOf(purchaseId))[0]!.result!.batch_id;
    const stored = await tb.t.platform.database.executeSql<{ s: string }>(`select encode(sealed, 'escape') as s from codes where batch_id = $1`, [batchId]);
    expect(stored.rows).toHaveLength(2);
    for (const c of sim1.control.order(`${purchaseId}:1`)!.codes!) expect(stored.rows.map((r) => r.s).join('')).not.toContain(c.secret);
  });

  it('an unmapped SKU or a bad quantity is refused before anything is written', async () => {
    const lonely = await tb.makeSku({ retailPriceFen: 100 });
    await expect(tb.suppliers.purchase({ purchaseId: nextPurchase(), skuId: lonely, quantity: 1 })).rejects.toMatchObject({ code: 'UNPROCESSABLE' });
    await expect(tb.suppliers.purchase({ purchaseId: nextPurchase(), skuId, quantity: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('the admin endpoint buys and the order list shows the tries', async () => {
    const owner = (await tb.t.loginAs('owner')).token;
    const purchaseId = nextPurchase();
    const res = await tb.app.inject({ method: 'POST', url: '/admin/supplier-purchases', headers: { authorization: `Bearer ${owner}` }, payload: { purchase_id: purchaseId, sku_id: skuId, quantity: 1 } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ purchase_id: purchaseId, status: 'succeeded', supplier_id: sup1, attempts: 1, codes_imported: 1 });
    const list = await tb.app.inject({ method: 'GET', url: `/admin/supplier-orders?purchase_id=${purchaseId}`, headers: { authorization: `Bearer ${owner}` } });
    expect(list.json().data).toHaveLength(1);
    expect(list.json().data[0]).toMatchObject({ external_ref: `${purchaseId}:1`, status: 'succeeded', unit_cost_fen: 900 });
    const page = await tb.app.inject({ method: 'GET', url: '/admin/supplier-orders?limit=2', headers: { authorization: `Bearer ${owner}` } });
    expect(page.json()).toMatchObject({ has_more: true });
    const next = await tb.app.inject({ method: 'GET', url: `/admin/supplier-orders?limit=2&cursor=${page.json().next_cursor}`, headers: { authorization: `Bearer ${owner}` } });
    expect(next.json().data[0].id < page.json().data[1].id).toBe(true);
  });
});
