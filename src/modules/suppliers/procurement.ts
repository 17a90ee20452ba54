import { and, asc, eq, inArray, lt } from 'drizzle-orm';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { SupplierCallError, type SupplierOrderState } from './adapter.js';
import type { SupplierContext, SupplierRow } from './context.js';
import { supplierCallbacks, supplierOrders } from './schema.js';
import { OPEN_STATUSES, createTries, type SettleOutcome, type TryRow } from './tries.js';
import { summarisePurchase, type PurchaseResult } from './views.js';

export interface PurchaseInput {
  /** Our idempotency key: the same purchaseId never buys twice. */
  purchaseId: string;
  skuId: string;
  quantity: number;
  /** Top-up target for direct top-up products. */
  account?: string;
}

export type CallbackOutcome = SettleOutcome | 'rejected' | 'ignored_unknown';

const PURCHASE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Buying from suppliers with failover. Each try is a row written before the
 * call, with the reference `${purchaseId}:${attempt}` that the supplier is
 * idempotent on. A try whose outcome is uncertain is asked about with the
 * same reference before anyone else is tried, so a timeout never buys twice.
 */
export function createProcurement(ctx: SupplierContext) {
  const { p } = ctx;
  const tries = createTries(ctx);
  const background = new Set<Promise<void>>();
  const retryDelays = ctx.options.queryRetryDelaysMs ?? [250, 1000];

  const callbackUrlFor = (supplierId: string) => (ctx.options.callbackBaseUrl ? `${ctx.options.callbackBaseUrl.replace(/\/+$/, '')}/callbacks/suppliers/${supplierId}` : undefined);

  async function purchase(input: PurchaseInput): Promise<PurchaseResult> {
    if (!PURCHASE_ID.test(input.purchaseId)) throw new AppError('VALIDATION_FAILED', 'purchaseId: 1-64 letters, digits, _ . -', [{ field: 'purchaseId', message: 'invalid' }]);
    if (!Number.isInteger(input.quantity) || input.quantity < 1 || input.quantity > 1000) throw new AppError('VALIDATION_FAILED', 'quantity: must be 1-1000', [{ field: 'quantity', message: 'must be 1-1000' }]);
    const existing = await tries.triesOf(input.purchaseId);
    if (existing.length) return replay(input, existing);

    await ctx.deps.catalog.getSku(input.skuId);
    const [first] = await tries.candidates(input.skuId, new Set());
    if (!first) throw new AppError('UNPROCESSABLE', `no active supplier can fill SKU ${input.skuId}`);
    const row = await tries.insertTry(p.db, { purchaseId: input.purchaseId, skuId: input.skuId, quantity: input.quantity, account: input.account ?? null }, first, 1);
    // Lost the race to a concurrent call with the same purchaseId: that one is buying.
    if (!row) return replay(input, await tries.triesOf(input.purchaseId));
    await drive(row);
    return summarisePurchase(input.purchaseId, await tries.triesOf(input.purchaseId));
  }

  function replay(input: PurchaseInput, existing: TryRow[]): PurchaseResult {
    const first = existing[0]!;
    if (first.skuId !== input.skuId || first.quantity !== input.quantity || (first.account ?? undefined) !== input.account) {
      throw new AppError('IDEMPOTENCY_CONFLICT', `purchase ${input.purchaseId} exists with other details`, { sku_id: first.skuId, quantity: first.quantity });
    }
    return summarisePurchase(input.purchaseId, existing);
  }

  /** Places a try, then the next ones while tries fail outright. */
  async function drive(row: TryRow | null): Promise<void> {
    let next = row;
    while (next) next = await placeTry(next);
  }

  async function placeTry(row: TryRow): Promise<TryRow | null> {
    const supplier = await ctx.getSupplier(row.supplierId);
    let state: SupplierOrderState;
    try {
      state = await ctx.call(supplier, (a) =>
        a.placeOrder({ externalRef: row.externalRef, externalSku: row.externalSku, quantity: row.quantity, account: row.account ?? undefined, callbackUrl: callbackUrlFor(supplier.id) }),
      );
    } catch (err) {
      // A clear refusal, or a call that never left (bad URL): nothing was bought here.
      if (err instanceof SupplierCallError || err instanceof AppError) return (await tries.fail(row, errorText(err))).next;
      // Anything else may have reached the supplier: ask with the same ref before going anywhere else.
      const found = await queryWithRetries(supplier, row.externalRef);
      if (found === null) {
        await tries.markUnknown(row, `${errorText(err)}; order state unknown, left for the poll job`);
        return null;
      }
      if (found.status === 'not_found') return (await tries.fail(row, `${errorText(err)}; the supplier has no such order`)).next;
      state = found;
    }
    if (state.status === 'not_found') return (await tries.fail(row, 'the supplier answered not_found to an order')).next;
    return (await tries.settle(row, state)).next;
  }

  async function queryWithRetries(supplier: SupplierRow, ref: string): Promise<SupplierOrderState | null> {
    for (let i = 0; ; i++) {
      try {
        return await ctx.call(supplier, (a) => a.queryOrder(ref));
      } catch (err) {
        const delay = retryDelays[i];
        if (delay === undefined) {
          p.logger.warn({ supplier: supplier.id, ref, error: errorText(err) }, 'supplier order state still unknown');
          return null;
        }
        await sleep(delay);
      }
    }
  }

  /** Follow-up work started by a callback (placing at the next supplier) runs after the reply. */
  function inBackground(work: () => Promise<void>) {
    const task: Promise<void> = work()
      .catch((err: unknown) => p.logger.error({ err }, 'supplier failover after a callback failed; the poll job will continue it'))
      .finally(() => background.delete(task));
    background.add(task);
  }

  /** Resolves when follow-up work started by callbacks has finished (tests, graceful shutdown). */
  async function idle(): Promise<void> {
    while (background.size > 0) await Promise.all([...background]);
  }

  /**
   * A supplier's callback: verified, recorded (codes never stored), applied
   * at most once. The outcome is recorded in the transaction that applies it.
   */
  async function handleCallback(supplierId: string, headers: Record<string, string | string[] | undefined>, rawBody: string): Promise<{ outcome: CallbackOutcome }> {
    const supplier = await ctx.getSupplier(supplierId);
    const verified = ctx.adapterOf(supplier).verifyCallback(headers, rawBody);
    const payload = redactedPayload(rawBody);
    const callbackId = newId('scb', p.clock.now());
    const record = (outcome: CallbackOutcome, externalRef: string | null) => ({
      id: callbackId,
      supplierId,
      externalRef,
      signatureValid: verified !== null,
      outcome,
      payload,
      receivedAt: p.clock.now(),
    });

    if (!verified) {
      await p.db.insert(supplierCallbacks).values(record('rejected', typeof payload.ref === 'string' ? payload.ref.slice(0, 128) : null));
      p.logger.warn({ supplier: supplierId }, 'supplier callback refused: bad signature or stale timestamp');
      throw new AppError('INVALID_SIGNATURE', 'callback signature or timestamp does not check out');
    }
    const [row] = await p.db.select().from(supplierOrders).where(and(eq(supplierOrders.externalRef, verified.externalRef), eq(supplierOrders.supplierId, supplierId)));
    if (!row || verified.state.status === 'not_found') {
      await p.db.insert(supplierCallbacks).values(record('ignored_unknown', verified.externalRef));
      return { outcome: 'ignored_unknown' };
    }
    const settled = await tries.settle(row, verified.state, async (tx, outcome) => {
      await tx.insert(supplierCallbacks).values(record(outcome, verified.externalRef));
    });
    if (settled.outcome === 'ignored_late') p.logger.warn({ ref: row.externalRef, status: verified.state.status }, 'late supplier callback ignored: the try was already settled');
    if (settled.outcome === 'import_failed') {
      await p.db.update(supplierCallbacks).set({ outcome: 'import_failed' }).where(eq(supplierCallbacks.id, callbackId));
      throw new AppError('SERVICE_UNAVAILABLE', 'the delivery could not be stored; send the callback again');
    }
    const next = settled.next;
    if (next) inBackground(() => drive(next));
    return { outcome: settled.outcome };
  }

  /**
   * Settles tries nobody finished: placements cut off by a crash are placed
   * again with the same ref (the supplier is idempotent on it), pending and
   * unknown ones are asked about.
   */
  async function pollOpenOrders(o: { olderThanMs?: number; limit?: number } = {}): Promise<{ checked: number; settled: number }> {
    const cutoff = new Date(p.clock.now().getTime() - (o.olderThanMs ?? ctx.options.pollAfterMs ?? 30_000));
    const rows = await p.db
      .select()
      .from(supplierOrders)
      .where(and(inArray(supplierOrders.status, [...OPEN_STATUSES, 'importing']), lt(supplierOrders.updatedAt, cutoff)))
      .orderBy(asc(supplierOrders.updatedAt))
      .limit(o.limit ?? 100);
    let settled = 0;
    for (const row of rows) {
      try {
        if (await pollOne(row)) settled += 1;
      } catch (err) {
        p.logger.warn({ err, ref: row.externalRef }, 'polling a supplier order failed');
      }
    }
    return { checked: rows.length, settled };
  }

  async function pollOne(row: TryRow): Promise<boolean> {
    if (row.status === 'placing') {
      await drive(row);
      return true;
    }
    const supplier = await ctx.getSupplier(row.supplierId);
    let state: SupplierOrderState;
    try {
      state = await ctx.call(supplier, (a) => a.queryOrder(row.externalRef));
    } catch {
      return false;
    }
    if (state.status === 'not_found') {
      // Unknown and absent: it never arrived, so another supplier may be tried. A pending order the supplier forgot needs a human.
      if (row.status !== 'unknown') {
        p.logger.error({ ref: row.externalRef, status: row.status }, 'supplier no longer knows an order it had taken');
        return false;
      }
      const failed = await tries.fail(row, 'the supplier has no such order');
      await drive(failed.next);
      return failed.outcome === 'applied';
    }
    const result = await tries.settle(row, state);
    await drive(result.next);
    return result.outcome === 'applied' && state.status !== 'pending';
  }

  return { purchase, handleCallback, pollOpenOrders, idle };
}

/** The callback as recorded: codes are replaced by their count, so no secret is stored in clear. */
function redactedPayload(rawBody: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    return { unparsable: true, length: rawBody.length };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { unparsable: true, length: rawBody.length };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (k === 'codes') out.codes_count = Array.isArray(v) ? v.length : 0;
    else if (typeof v === 'string') out[k] = v.slice(0, 500);
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) out[k] = v;
  }
  return out;
}
