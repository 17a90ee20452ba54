import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { supplierCallbacks, supplierOrders, suppliers as suppliersTable } from '../../src/modules/suppliers/schema.js';
import type { SupplierSim } from '../fakes/supplier-sim/server.js';
import { openTestbed, staff, type Testbed } from './testbed.js';

let tb: Testbed;
let sim1: SupplierSim;
let sim2: SupplierSim;
let sup1: string;
let sup2: string;
let skuId: string;
let n = 0;
const nextPurchase = () => `cbp-${++n}`;

beforeAll(async () => {
  tb = await openTestbed();
  sim1 = await tb.startSim({ asyncMode: true, asyncDelayMs: 30, products: [{ sku: 'A1', costFen: 900, stock: 100 }] });
  sim2 = await tb.startSim({ asyncMode: true, asyncDelayMs: 30, products: [{ sku: 'B1', costFen: 950, stock: 100 }] });
  sup1 = (await tb.addSupplier(sim1, { name: 'async one', timeoutMs: 400 })).id;
  sup2 = (await tb.addSupplier(sim2, { name: 'async two', timeoutMs: 400 })).id;
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
  for (const sim of [sim1, sim2]) sim.control.configure({ asyncMode: true, asyncDelayMs: 30, duplicateCallbacks: 1, lateCallbackMs: 0, muteCallbacks: false, errorRate: 0, outOfStockSkus: [] });
  await tb.t.platform.db.update(suppliersTable).set({ health: 'up', consecutiveFailures: 0 });
  tb.imports.length = 0;
  tb.importFailures.remaining = 0;
});

const callbacksFor = (ref: string) => tb.t.platform.db.select().from(supplierCallbacks).where(eq(supplierCallbacks.externalRef, ref));
const tryRow = async (ref: string) => (await tb.t.platform.db.select().from(supplierOrders).where(eq(supplierOrders.externalRef, ref)))[0];
const outcomes = async (ref: string) => (await callbacksFor(ref)).map((c) => c.outcome).sort();
/** Everything the simulators and the service have in flight has landed. */
const settle = async () => {
  await Promise.all([sim1.control.waitIdle(), sim2.control.waitIdle()]);
  await tb.suppliers.idle();
};

describe('async orders and callbacks', () => {
  it('pending, then 3 concurrent copies of the callback and one more later: applied once, codes imported once', async () => {
    sim1.control.configure({ duplicateCallbacks: 3 });
    const purchaseId = nextPurchase();
    const ref = `${purchaseId}:1`;
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 2 })).toMatchObject({ status: 'pending', supplierId: sup1, attempts: 1 });
    expect(await tryRow(ref)).toMatchObject({ status: 'pending' });

    await settle();
    expect(sim1.control.callbacks().filter((c) => c.ref === ref).map((c) => c.status)).toEqual([200, 200, 200]);
    expect(await sim1.control.resendCallback(ref)).toEqual([200]);

    expect(await outcomes(ref)).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate']);
    expect(tb.imports).toHaveLength(1);
    expect(tb.imports[0]!.codes.map((c) => c.secret)).toEqual(sim1.control.order(ref)!.codes!.map((c) => c.secret));
    expect(await tryRow(ref)).toMatchObject({ status: 'succeeded', result: { codes_imported: 2 } });
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 2 })).toMatchObject({ status: 'succeeded', codesImported: 2 });
    // Recorded callbacks keep no code secret.
    const stored = JSON.stringify(await callbacksFor(ref));
    expect(stored).toContain('"codes_count":2');
    for (const c of sim1.control.order(ref)!.codes!) expect(stored).not.toContain(c.secret);
  });

  it('a forged callback is refused with 401 and recorded as rejected; so is a stale one', async () => {
    const purchaseId = nextPurchase();
    const ref = `${purchaseId}:1`;
    sim1.control.configure({ muteCallbacks: true });
    await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    await settle(); // decided at the simulator, nobody told
    expect(await sim1.control.resendCallback(ref, { secret: 'forged-secret' })).toEqual([401]);
    expect(await sim1.control.resendCallback(ref, { timestampOffsetSec: -301 })).toEqual([401]);
    const rows = await callbacksFor(ref);
    expect(rows.map((r) => [r.outcome, r.signatureValid])).toEqual([
      ['rejected', false],
      ['rejected', false],
    ]);
    expect(await tryRow(ref)).toMatchObject({ status: 'pending' });
    expect(tb.imports).toHaveLength(0);
    // The genuine one still works.
    expect(await sim1.control.resendCallback(ref)).toEqual([200]);
    expect(await tryRow(ref)).toMatchObject({ status: 'succeeded' });
  });

  it('an unsigned callback is refused; a signed one about an order we never placed is recorded and ignored', async () => {
    const unsigned = await tb.app.inject({ method: 'POST', url: `/callbacks/suppliers/${sup1}`, headers: { 'content-type': 'application/json' }, payload: '{"ref":"x:1","status":"succeeded"}' });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.json().error.code).toBe('INVALID_SIGNATURE');

    const body = JSON.stringify({ ref: 'nobody:1', order_id: 'Z', status: 'succeeded', cost_fen: 1, codes: [{ secret: 'NOT-OURS' }] });
    const ts = Math.floor(tb.clock.now().getTime() / 1000);
    const signature = createHmac('sha256', sim1.callbackSecret).update(`${ts}.${body}`).digest('hex');
    const res = await tb.app.inject({
      method: 'POST',
      url: `/callbacks/suppliers/${sup1}`,
      headers: { 'content-type': 'application/json', 'x-supplier-timestamp': String(ts), 'x-supplier-signature': signature },
      payload: body,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true, outcome: 'ignored_unknown' });
    expect(await outcomes('nobody:1')).toEqual(['ignored_unknown']);
    expect(tb.imports).toHaveLength(0);
    // Signed with supplier 1's secret, it means nothing at supplier 2.
    const elsewhere = await tb.app.inject({
      method: 'POST',
      url: `/callbacks/suppliers/${sup2}`,
      headers: { 'content-type': 'application/json', 'x-supplier-timestamp': String(ts), 'x-supplier-signature': signature },
      payload: body,
    });
    expect(elsewhere.statusCode).toBe(401);
  });

  it('a late callback after the poll job already settled the try is ignored', async () => {
    sim1.control.configure({ lateCallbackMs: 800 });
    const purchaseId = nextPurchase();
    const ref = `${purchaseId}:1`;
    await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    await new Promise((r) => setTimeout(r, 100)); // the simulator has decided the order, its callback is still to come
    tb.clock.advance(31_000);
    expect(await tb.suppliers.pollOpenOrders()).toMatchObject({ settled: 1 });
    expect(await tryRow(ref)).toMatchObject({ status: 'succeeded' });
    await settle();
    expect(sim1.control.callbacks().filter((c) => c.ref === ref).map((c) => c.status)).toEqual([200]);
    expect(await outcomes(ref)).toEqual(['ignored_late']);
    expect(tb.imports).toHaveLength(1);
  });

  it('when storing the codes fails the callback gets a 503, the try goes back to unknown, and the resent callback applies once', async () => {
    sim1.control.configure({ muteCallbacks: true });
    const purchaseId = nextPurchase();
    const ref = `${purchaseId}:1`;
    await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 });
    await settle();
    tb.importFailures.remaining = 1;
    expect(await sim1.control.resendCallback(ref)).toEqual([503]);
    expect(await tryRow(ref)).toMatchObject({ status: 'unknown', error: 'import failed: vault unavailable' });
    expect(await sim1.control.resendCallback(ref, { copies: 2 })).toEqual([200, 200]);
    expect(await outcomes(ref)).toEqual(['applied', 'duplicate', 'import_failed']);
    expect(tb.imports).toHaveLength(1);
    expect(await tryRow(ref)).toMatchObject({ status: 'succeeded', error: null });
  });

  it('a callback saying failed continues the failover at the next supplier', async () => {
    sim1.control.configure({ outOfStockSkus: ['A1'] });
    const purchaseId = nextPurchase();
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'pending', supplierId: sup1 });
    await settle(); // supplier 1 calls back "failed"; the service places try 2 at supplier 2, which calls back "succeeded"
    await settle();
    expect(await outcomes(`${purchaseId}:1`)).toEqual(['applied']);
    expect(await tryRow(`${purchaseId}:1`)).toMatchObject({ status: 'failed', error: 'out_of_stock' });
    expect(await tryRow(`${purchaseId}:2`)).toMatchObject({ status: 'succeeded', supplierId: sup2 });
    expect(await tb.suppliers.purchase({ purchaseId, skuId, quantity: 1 })).toMatchObject({ status: 'succeeded', supplierId: sup2, attempts: 2, codesImported: 1 });
    expect(tb.imports.map((i) => i.supplierId)).toEqual([sup2]);
  });
});

describe('supplier health', () => {
  it('goes degraded after one failure, down after three (alert opens), and up again (alert clears)', async () => {
    sim2.control.configure({ errorRate: { balance: 1 } });
    const health = async () => (await tb.suppliers.listSuppliers({ limit: 100 })).data.find((s) => s.id === sup2)!;

    await tb.suppliers.checkHealth();
    expect(await health()).toMatchObject({ health: 'degraded', consecutive_failures: 1 });
    expect((await health()).last_error).toContain('500');
    expect(await tb.alerts.openAlert('supplier_down', sup2)).toBeNull();
    await tb.suppliers.checkHealth();
    await tb.suppliers.checkHealth();
    expect(await health()).toMatchObject({ health: 'down', consecutive_failures: 3 });
    expect(await tb.alerts.openAlert('supplier_down', sup2)).toMatchObject({ severity: 'critical', subject_type: 'supplier' });
    expect(await health()).toMatchObject({ health: 'down' });

    sim2.control.configure({ errorRate: 0 });
    sim2.control.setBalance(50_000);
    const results = await tb.suppliers.checkHealth({ balanceLowFen: 100_000 });
    expect(results.find((r) => r.supplierId === sup2)).toMatchObject({ health: 'up', balanceFen: 50_000 });
    expect(await health()).toMatchObject({ health: 'up', consecutive_failures: 0, last_error: null, balance_fen: 50_000 });
    expect(await tb.alerts.openAlert('supplier_down', sup2)).toBeNull();
    expect(await tb.alerts.openAlert('supplier_balance_low', sup2)).toMatchObject({ details: { balance_fen: 50_000, threshold_fen: 100_000 } });
    sim2.control.setBalance(500_000);
    await tb.suppliers.checkHealth();
    expect(await tb.alerts.openAlert('supplier_balance_low', sup2)).toBeNull();
  });

  it('purchases feed health too, and the balance at the simulator drops with each purchase', async () => {
    const before = sim1.control.balance();
    sim1.control.configure({ asyncMode: false });
    await tb.t.platform.db.update(suppliersTable).set({ health: 'degraded', consecutiveFailures: 1, lastError: 'earlier failure', lastCheckedAt: null }).where(eq(suppliersTable.id, sup1));
    const purchaseId = nextPurchase();
    await tb.suppliers.purchase({ purchaseId, skuId, quantity: 3 });
    expect(sim1.control.balance()).toBe(before - 3 * 900);
    const s1 = (await tb.suppliers.listSuppliers({ limit: 100 })).data.find((s) => s.id === sup1)!;
    expect(s1).toMatchObject({ health: 'up', consecutive_failures: 0, last_error: null });
    expect(s1.last_checked_at).toBe(tb.clock.now().toISOString());
  });
});
