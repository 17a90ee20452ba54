import { and, asc, eq, inArray, lt, or } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../../db/client.js';
import { newId } from '../../lib/ids.js';
import type { SupplierOrderState } from './adapter.js';
import type { SupplierContext } from './context.js';
import { skuSuppliers, supplierCallbacks, supplierOrders, supplierProducts, suppliers } from './schema.js';

export type TryRow = typeof supplierOrders.$inferSelect;

/**
 * States of one try (a supplier_orders row):
 *   placing   -> created before the supplier is called; the call may or may not have reached it
 *   pending   -> the supplier took the order and will finish it later
 *   unknown   -> we could not learn whether the supplier has it; the poll job asks again
 *   importing -> claimed by exactly one settler, codes being stored
 *   succeeded | failed
 */
export const OPEN_STATUSES = ['placing', 'pending', 'unknown'] as const;

export type SettleOutcome = 'applied' | 'duplicate' | 'ignored_late' | 'import_failed';

/** Runs inside the settling transaction with its outcome (the callback handler records itself there). */
export type OnSettled = (tx: Tx, outcome: SettleOutcome) => Promise<void>;

export interface Settled {
  outcome: SettleOutcome;
  /** The next try to place when this one failed and another supplier is left. */
  next: TryRow | null;
}

export function createTries(ctx: SupplierContext) {
  const { p, deps } = ctx;
  const pollAfterMs = ctx.options.pollAfterMs ?? 30_000;

  /** A try may be settled while open, or while "importing" if its importer died long ago. */
  const claimable = (id: string) =>
    and(
      eq(supplierOrders.id, id),
      or(inArray(supplierOrders.status, [...OPEN_STATUSES]), and(eq(supplierOrders.status, 'importing'), lt(supplierOrders.updatedAt, new Date(p.clock.now().getTime() - pollAfterMs)))),
    );

  async function triesOf(purchaseId: string, db: DbOrTx = p.db): Promise<TryRow[]> {
    return db.select().from(supplierOrders).where(eq(supplierOrders.purchaseId, purchaseId)).orderBy(asc(supplierOrders.attempt));
  }

  /**
   * Suppliers still worth trying for a purchase, by priority: active, not yet
   * tried, and not down, unless every one left is down (then those, as a
   * last resort).
   */
  async function candidates(skuId: string, tried: ReadonlySet<string>, db: DbOrTx = p.db) {
    const rows = await db
      .select({ supplierId: skuSuppliers.supplierId, externalSku: skuSuppliers.externalSku, status: suppliers.status, health: suppliers.health })
      .from(skuSuppliers)
      .innerJoin(suppliers, eq(suppliers.id, skuSuppliers.supplierId))
      .where(eq(skuSuppliers.skuId, skuId))
      .orderBy(asc(skuSuppliers.priority));
    const left = rows.filter((r) => r.status === 'active' && !tried.has(r.supplierId));
    const healthy = left.filter((r) => r.health !== 'down');
    return healthy.length ? healthy : left;
  }

  /** Inserts a try before its call; null when a concurrent caller already made this attempt. */
  async function insertTry(db: DbOrTx, t: { purchaseId: string; skuId: string; quantity: number; account: string | null }, c: { supplierId: string; externalSku: string }, attempt: number): Promise<TryRow | null> {
    const now = p.clock.now();
    const [row] = await db
      .insert(supplierOrders)
      .values({
        id: newId('spo', now),
        purchaseId: t.purchaseId,
        supplierId: c.supplierId,
        skuId: t.skuId,
        externalSku: c.externalSku,
        externalRef: `${t.purchaseId}:${attempt}`,
        attempt,
        quantity: t.quantity,
        account: t.account,
        status: 'placing',
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    return row ?? null;
  }

  /** Why a try could not be settled: a copy of a callback that was applied, or news that came after we knew. */
  async function notApplied(tx: Tx, row: TryRow): Promise<SettleOutcome> {
    const [applied] = await tx
      .select({ id: supplierCallbacks.id })
      .from(supplierCallbacks)
      .where(and(eq(supplierCallbacks.supplierId, row.supplierId), eq(supplierCallbacks.externalRef, row.externalRef), eq(supplierCallbacks.outcome, 'applied')))
      .limit(1);
    return applied ? 'duplicate' : 'ignored_late';
  }

  /** Applies what the supplier says about a try, at most once whoever says it (reply, callback, poll). */
  async function settle(row: TryRow, state: SupplierOrderState, onSettled?: OnSettled): Promise<Settled> {
    switch (state.status) {
      case 'succeeded':
        return succeed(row, state, onSettled);
      case 'failed':
        return fail(row, state.error ?? 'the supplier failed the order', onSettled, state.supplierOrderId);
      case 'pending':
        return p.db.transaction(async (tx) => {
          const [moved] = await tx
            .update(supplierOrders)
            .set({ status: 'pending', supplierOrderId: state.supplierOrderId ?? null, costFen: state.costFen ?? null, updatedAt: p.clock.now() })
            .where(and(eq(supplierOrders.id, row.id), inArray(supplierOrders.status, ['placing', 'unknown'])))
            .returning({ id: supplierOrders.id });
          const outcome: SettleOutcome = moved ? 'applied' : onSettled ? await notApplied(tx, row) : 'duplicate';
          await onSettled?.(tx, outcome);
          return { outcome, next: null };
        });
      case 'not_found':
        // Only a query answers this; the caller decides (see procurement.ts).
        throw new Error('not_found is not a settlement');
    }
  }

  /**
   * Exactly-once delivery: one conditional UPDATE claims the try (the row
   * lock makes concurrent settlers wait and then find it taken); only the
   * claimant imports. The import runs after the claim commits because the
   * importer owns its own transaction; it is keyed on the try's ref, and a
   * failed import puts the try back to unknown so the codes are fetched again.
   */
  async function succeed(row: TryRow, state: SupplierOrderState, onSettled?: OnSettled): Promise<Settled> {
    const claimed = await p.db.transaction(async (tx) => {
      const [r] = await tx
        .update(supplierOrders)
        .set({ status: 'importing', supplierOrderId: state.supplierOrderId ?? null, costFen: state.costFen ?? null, error: null, updatedAt: p.clock.now() })
        .where(claimable(row.id))
        .returning();
      const outcome: SettleOutcome = r ? 'applied' : onSettled ? await notApplied(tx, row) : 'duplicate';
      await onSettled?.(tx, outcome);
      return { row: r ?? null, outcome };
    });
    if (!claimed.row) return { outcome: claimed.outcome, next: null };

    const codes = state.codes ?? [];
    let imported: { batchId: string; count: number } | null = null;
    try {
      if (codes.length > 0) {
        const unitCostFen = state.costFen ?? (await syncedCost(row)) ?? 0;
        imported = await deps.importPurchasedCodes({ skuId: row.skuId, supplierId: row.supplierId, unitCostFen, codes, ref: row.externalRef });
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      p.logger.error({ err, ref: row.externalRef }, 'importing purchased codes failed; the try goes back to unknown');
      await p.db
        .update(supplierOrders)
        .set({ status: 'unknown', error: `import failed: ${message}`.slice(0, 500), updatedAt: p.clock.now() })
        .where(and(eq(supplierOrders.id, row.id), eq(supplierOrders.status, 'importing')));
      return { outcome: 'import_failed', next: null };
    }
    await p.db
      .update(supplierOrders)
      .set({ status: 'succeeded', result: imported ? { batch_id: imported.batchId, codes_imported: imported.count } : { codes_imported: 0 }, updatedAt: p.clock.now() })
      .where(and(eq(supplierOrders.id, row.id), eq(supplierOrders.status, 'importing')));
    return { outcome: 'applied', next: null };
  }

  async function syncedCost(row: TryRow): Promise<number | null> {
    const [prod] = await p.db
      .select({ costFen: supplierProducts.costFen })
      .from(supplierProducts)
      .where(and(eq(supplierProducts.supplierId, row.supplierId), eq(supplierProducts.externalSku, row.externalSku)));
    return prod?.costFen ?? null;
  }

  /**
   * Marks a try failed and, in the same transaction, creates the next try at
   * the next supplier: a crash between the two leaves a "placing" row for the
   * poll job, never a purchase stuck half-way.
   */
  async function fail(row: TryRow, error: string, onSettled?: OnSettled, supplierOrderId?: string): Promise<Settled> {
    return p.db.transaction(async (tx) => {
      const [failed] = await tx
        .update(supplierOrders)
        .set({ status: 'failed', error: error.slice(0, 500), ...(supplierOrderId ? { supplierOrderId } : {}), updatedAt: p.clock.now() })
        .where(claimable(row.id))
        .returning();
      const outcome: SettleOutcome = failed ? 'applied' : onSettled ? await notApplied(tx, row) : 'duplicate';
      await onSettled?.(tx, outcome);
      if (!failed) return { outcome, next: null };
      const tries = await triesOf(row.purchaseId, tx);
      const [nextSupplier] = await candidates(row.skuId, new Set(tries.map((t) => t.supplierId)), tx);
      const attempt = Math.max(...tries.map((t) => t.attempt)) + 1;
      const next = nextSupplier ? await insertTry(tx, row, nextSupplier, attempt) : null;
      return { outcome, next };
    });
  }

  /** The placement's outcome stayed unknown: leave the try for the poll job, unless something settled it meanwhile. */
  async function markUnknown(row: TryRow, error: string): Promise<void> {
    await p.db
      .update(supplierOrders)
      .set({ status: 'unknown', error: error.slice(0, 500), updatedAt: p.clock.now() })
      .where(and(eq(supplierOrders.id, row.id), eq(supplierOrders.status, 'placing')));
  }

  return { triesOf, candidates, insertTry, settle, fail, markUnknown };
}

export type Tries = ReturnType<typeof createTries>;
