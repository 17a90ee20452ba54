import { and, eq, inArray, sql } from 'drizzle-orm';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { formatFen } from '../../lib/money.js';
import { SupplierCallError, SupplierUncertainError, type SupplierProduct } from './adapter.js';
import type { SupplierContext } from './context.js';
import type { MarginGuard } from './margin-guard.js';
import { skuSuppliers, supplierProducts, suppliers } from './schema.js';

export interface SyncResult {
  supplierId: string;
  /** Items the supplier reported as changed since the last sync. */
  changed: number;
  priceChanges: number;
  ok: boolean;
  error?: string;
}

/**
 * Incremental catalogue sync: ask for what changed since the stored cursor,
 * upsert it, and move the cursor in the same transaction (a failed sync
 * repeats, it never skips). Cost changes of items we sell raise a
 * price_change alert; then the margin guard re-checks the affected SKUs.
 */
export function createSync(ctx: SupplierContext, guard: MarginGuard) {
  const { p, deps } = ctx;

  async function syncSupplier(supplierId: string): Promise<SyncResult> {
    const supplier = await ctx.getSupplier(supplierId);
    if (supplier.status !== 'active') throw new AppError('CONFLICT', `supplier ${supplierId} is disabled`);
    // A supplier that is down or answers nonsense is the supplier's failure, not ours: a clear refusal, never a 500.
    const { products, cursor } = await ctx.call(supplier, (a) => a.listProducts(supplier.syncCursor)).catch((err: unknown) => {
      if (err instanceof SupplierCallError || err instanceof SupplierUncertainError) {
        throw new AppError('UNPROCESSABLE', `supplier ${supplierId} could not be synced: ${err.message}`, { supplier_id: supplierId, reason: err.message });
      }
      throw err;
    });

    // The same item twice in one answer: the last word counts.
    const latest = new Map<string, SupplierProduct>();
    for (const item of products) latest.set(item.externalSku, item);
    const items = [...latest.values()];
    const externalSkus = items.map((i) => i.externalSku);
    const before = new Map(
      externalSkus.length
        ? (await p.db.select().from(supplierProducts).where(and(eq(supplierProducts.supplierId, supplierId), inArray(supplierProducts.externalSku, externalSkus)))).map((r) => [r.externalSku, r] as const)
        : [],
    );

    const now = p.clock.now();
    await p.db.transaction(async (tx) => {
      for (let i = 0; i < items.length; i += 500) {
        await tx
          .insert(supplierProducts)
          .values(
            items.slice(i, i + 500).map((item) => ({
              id: newId('spp', now),
              supplierId,
              externalSku: item.externalSku,
              name: item.name.slice(0, 200),
              costFen: item.costFen,
              stock: item.stock,
              available: item.available,
              supplierUpdatedAt: item.updatedAt.slice(0, 64),
              syncedAt: now,
            })),
          )
          .onConflictDoUpdate({
            target: [supplierProducts.supplierId, supplierProducts.externalSku],
            set: {
              name: sql`excluded.name`,
              costFen: sql`excluded.cost_fen`,
              stock: sql`excluded.stock`,
              available: sql`excluded.available`,
              supplierUpdatedAt: sql`excluded.supplier_updated_at`,
              syncedAt: sql`excluded.synced_at`,
            },
          });
      }
      await tx.update(suppliers).set({ syncCursor: cursor, lastSyncedAt: now }).where(eq(suppliers.id, supplierId));
    });

    const mapped = await p.db.select().from(skuSuppliers).where(eq(skuSuppliers.supplierId, supplierId));
    let priceChanges = 0;
    for (const item of items) {
      const old = before.get(item.externalSku);
      if (!old || old.costFen === item.costFen) continue;
      const skuIds = mapped.filter((m) => m.externalSku === item.externalSku).map((m) => m.skuId);
      if (skuIds.length === 0) continue;
      priceChanges += 1;
      await deps.alerts.raise({
        kind: 'price_change',
        subjectType: 'supplier_product',
        subjectId: old.id,
        severity: item.costFen > old.costFen ? 'warning' : 'info',
        message: `${supplier.name} changed the cost of ${item.externalSku} from ${formatFen(old.costFen)} to ${formatFen(item.costFen)}`,
        details: { supplier_id: supplierId, external_sku: item.externalSku, old_cost_fen: old.costFen, new_cost_fen: item.costFen, sku_ids: skuIds },
      });
    }
    // Every SKU this supplier can fill, not only the changed ones: a guard step that failed last time catches up.
    await guard.evaluateSupplierSkus(supplierId);
    return { supplierId, changed: items.length, priceChanges, ok: true };
  }

  /** Syncs every active supplier; one failing supplier does not stop the others. */
  async function syncAll(): Promise<SyncResult[]> {
    const active = await p.db.select({ id: suppliers.id }).from(suppliers).where(eq(suppliers.status, 'active'));
    const results: SyncResult[] = [];
    for (const { id } of active) {
      try {
        results.push(await syncSupplier(id));
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        p.logger.warn({ supplier: id, error }, 'supplier sync failed');
        results.push({ supplierId: id, changed: 0, priceChanges: 0, ok: false, error });
      }
    }
    return results;
  }

  return { syncSupplier, syncAll };
}
