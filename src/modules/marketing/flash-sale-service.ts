import { and, desc, eq, gt, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { OrderReports } from '../orders/reports.js';
import type { OrderRow } from '../orders/service.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import { memoryFlashGate, redisFlashGate, type FlashGate, type FlashGateTerms, type GateState } from './flash-sale-gate.js';
import { flashSales } from './flash-sale-schema.js';

export type FlashSaleRow = typeof flashSales.$inferSelect;

export interface FlashSaleView {
  id: string;
  name: string;
  sku_id: string;
  campaign_id: string | null;
  price_fen: number;
  units: number;
  per_user_limit: number;
  starts_at: string;
  ends_at: string;
  /** upcoming / active / ended from the window, or cancelled */
  status: 'upcoming' | 'active' | 'ended' | 'cancelled';
  /** units left as the gate counts them (null when the gate does not hold the sale) */
  remaining: number | null;
  created_at: string;
}

export interface FlashSaleDetail extends FlashSaleView {
  /** units in the sale's orders that are not cancelled (the truth) */
  sold: number;
  /** units the database's counter (flash_sales.sold_units) has taken: equals `sold` unless something is wrong */
  counter_sold: number;
  gate_sold: number | null;
  reconciled_at: string | null;
  reconcile_difference: number | null;
}

export interface CreateFlashSale {
  name: string;
  skuId: string;
  priceFen: number;
  units: number;
  perUserLimit: number;
  startsAt: Date;
  endsAt: Date;
  campaignId?: string | null;
}

export interface ReconcileResult {
  sale_id: string;
  gate_sold: number | null;
  orders_sold: number;
  /** the database's counter (flash_sales.sold_units); it caps the sale, so it should equal orders_sold */
  counter_sold: number;
  /** gate minus orders: positive = the gate counted units no order holds (they go back on sale), negative = the gate under-counted */
  difference: number;
  repaired: boolean;
}

const MAX_UNITS = 1_000_000;
/** A sale nobody knows is remembered as unknown this long, so a flood of bad ids does not reach the database. */
const UNKNOWN_TTL_MS = 5_000;
/** How long after its end a sale is reconciled: attempts admitted at the last moment have committed or failed by then. */
export const RECONCILE_GRACE_MS = 60_000;

export const termsOf = (s: FlashSaleRow): FlashGateTerms => ({ units: s.units, perUserLimit: s.perUserLimit, startsAtMs: s.startsAt.getTime(), endsAtMs: s.endsAt.getTime(), cancelled: s.status === 'cancelled' });

/**
 * Flash sales: their definitions (admin), the gate that counts their units
 * down in front of the database, and reconciliation of the gate with the
 * orders. The purchase itself is in flash-sale-purchase.ts.
 */
export function createFlashSaleService(p: Platform, deps: { audit: AuditService; catalog: Pick<CatalogService, 'getSku'>; orderReports: Pick<OrderReports, 'offerUnits' | 'notCancelled'> }, opts: { gate?: FlashGate } = {}) {
  const gate: FlashGate = opts.gate ?? (p.kv.redis ? redisFlashGate(p.kv.redis, `${p.config.redisPrefix}flash:`) : memoryFlashGate());
  const idempotency = createIdempotency(p);

  // Definitions are read once per instance and kept: the purchase path must not query to refuse. A change on this
  // instance replaces the entry; another instance's cancellation reaches every instance through the gate (shared in Redis).
  const definitions = new Map<string, { sale: Promise<FlashSaleRow | null>; at: number; known?: boolean }>();
  function definition(id: string): Promise<FlashSaleRow | null> {
    const hit = definitions.get(id);
    if (hit && (hit.known !== false || Date.now() - hit.at < UNKNOWN_TTL_MS)) return hit.sale;
    if (definitions.size > 10_000) definitions.clear();
    const entry: { sale: Promise<FlashSaleRow | null>; at: number; known?: boolean } = {
      sale: p.db
        .select()
        .from(flashSales)
        .where(eq(flashSales.id, id))
        .then((rows) => rows[0] ?? null),
      at: Date.now(),
    };
    entry.sale.then(
      (s) => void (entry.known = s !== null),
      () => void definitions.delete(id),
    );
    definitions.set(id, entry);
    return entry.sale;
  }
  const remember = (s: FlashSaleRow) => definitions.set(s.id, { sale: Promise.resolve(s), at: Date.now(), known: true });

  /** What the orders say: units sold (orders not cancelled), per gate identity, and the admitted keys. */
  async function ordersState(saleId: string, db: DbOrTx = p.db): Promise<{ sold: number; state: GateState }> {
    const sold = await deps.orderReports.offerUnits(db, { kind: 'flash_sale', id: saleId });
    const purchases = await queryRows<{ user: string; key: string; quantity: number; order_id: string }>(
      db,
      `select f.gate_user as "user", f.idempotency_key as "key", f.quantity, f.order_id from flash_sale_purchases f where f.sale_id = $1`,
      [saleId],
    );
    const live = await deps.orderReports.notCancelled(db, purchases.map((r) => r.order_id));
    const rows = purchases.filter((r) => live.has(r.order_id)).map(({ user, key, quantity }) => ({ user, key, quantity }));
    const perUser = new Map<string, number>();
    for (const r of rows) perUser.set(r.user, (perUser.get(r.user) ?? 0) + r.quantity);
    return { sold, state: { perUser, admitted: rows } };
  }

  /** Loads a sale into the gate from the orders, unless the gate holds it already (then only its terms are refreshed). */
  async function load(s: FlashSaleRow) {
    const { sold, state } = await ordersState(s.id);
    await gate.define(s.id, termsOf(s), sold, state);
  }

  /** Units the database's counter has room for (read fresh: the purchase path calls it after its counter refused). */
  async function unitsLeft(saleId: string): Promise<number> {
    const [row] = await queryRows<{ left: number }>(p.db, `select units - sold_units as left from flash_sales where id = $1`, [saleId]);
    return Number(row?.left ?? 0);
  }

  /**
   * An order of a sale was cancelled (a held order rejected by risk review): its units leave the counter, in the
   * cancellation's transaction, as they leave the orders' count the gate is reloaded and reconciled from. A refund
   * is not a cancellation: refunded units stay sold, in the counter as in the gate.
   */
  async function onOrderCancelled(tx: DbOrTx, order: Pick<OrderRow, 'offerKind' | 'offerId' | 'quantity'>) {
    if (order.offerKind !== 'flash_sale' || !order.offerId) return;
    await queryRows(tx, `update flash_sales set sold_units = greatest(0, sold_units - $2) where id = $1`, [order.offerId, order.quantity]);
  }

  function statusOf(s: FlashSaleRow, now: Date): FlashSaleView['status'] {
    if (s.status === 'cancelled') return 'cancelled';
    if (now < s.startsAt) return 'upcoming';
    return now < s.endsAt ? 'active' : 'ended';
  }

  async function toView(s: FlashSaleRow): Promise<FlashSaleView> {
    const snap = await gate.snapshot(s.id);
    return {
      id: s.id,
      name: s.name,
      sku_id: s.skuId,
      campaign_id: s.campaignId,
      price_fen: s.priceFen,
      units: s.units,
      per_user_limit: s.perUserLimit,
      starts_at: s.startsAt.toISOString(),
      ends_at: s.endsAt.toISOString(),
      status: statusOf(s, p.clock.now()),
      remaining: snap?.remaining ?? null,
      created_at: s.createdAt.toISOString(),
    };
  }

  async function create(input: CreateFlashSale, actor: { id: string; ip?: string }, idempotencyKey: string): Promise<{ status: 200 | 201; sale: FlashSaleDetail }> {
    const now = p.clock.now();
    const bad = (field: string, message: string) => new AppError('VALIDATION_FAILED', `${field}: ${message}`, [{ field, message }]);
    if (!Number.isSafeInteger(input.priceFen) || input.priceFen < 1) throw bad('price_fen', 'must be a positive whole number of fen');
    if (!Number.isSafeInteger(input.units) || input.units < 1 || input.units > MAX_UNITS) throw bad('units', `must be 1-${MAX_UNITS}`);
    if (!Number.isSafeInteger(input.perUserLimit) || input.perUserLimit < 1 || input.perUserLimit > input.units) throw bad('per_user_limit', 'must be 1 up to units');
    if (Number.isNaN(input.startsAt.getTime())) throw bad('starts_at', 'not a date');
    if (Number.isNaN(input.endsAt.getTime())) throw bad('ends_at', 'not a date');
    if (input.endsAt <= input.startsAt) throw bad('ends_at', 'must be after starts_at');
    if (input.endsAt <= now) throw bad('ends_at', 'must be in the future');
    const sku = await deps.catalog.getSku(input.skuId).catch((e: unknown) => {
      throw e instanceof AppError && e.code === 'NOT_FOUND' ? bad('sku_id', 'no such SKU') : e;
    });
    if (input.priceFen >= sku.retailPriceFen) throw bad('price_fen', `must be below the SKU's retail price (${sku.retailPriceFen} fen)`);
    const id = newId('fls', now);
    const body = { ...input, startsAt: input.startsAt.toISOString(), endsAt: input.endsAt.toISOString() };
    const result = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `staff:${actor.id}:flash-sales`, idempotencyKey, body, { statusCode: 201, body: { id } });
      if (prior) return { status: 200 as const, id: (prior.body as { id: string }).id };
      await tx.insert(flashSales).values({ id, name: input.name, skuId: input.skuId, campaignId: input.campaignId ?? null, priceFen: input.priceFen, units: input.units, perUserLimit: input.perUserLimit, startsAt: input.startsAt, endsAt: input.endsAt, createdBy: actor.id, createdAt: now });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'flash_sale.create', targetType: 'flash_sale', targetId: id, ip: actor.ip, details: { sku_id: input.skuId, units: input.units, price_fen: input.priceFen, per_user_limit: input.perUserLimit } }, tx);
      return { status: 201 as const, id };
    });
    const [row] = await p.db.select().from(flashSales).where(eq(flashSales.id, result.id));
    // The units are in the gate before anyone can learn the sale's id.
    await load(row!);
    remember(row!);
    return { status: result.status, sale: await detail(row!) };
  }

  async function detail(s: FlashSaleRow): Promise<FlashSaleDetail> {
    const [{ sold }, view] = await Promise.all([ordersState(s.id).then((o) => ({ sold: o.sold })), toView(s)]);
    return {
      ...view,
      sold,
      counter_sold: s.soldUnits,
      gate_sold: view.remaining === null ? null : s.units - view.remaining,
      reconciled_at: s.reconciledAt?.toISOString() ?? null,
      reconcile_difference: s.gateSold !== null && s.ordersSold !== null ? s.gateSold - s.ordersSold : null,
    };
  }

  async function get(id: string): Promise<FlashSaleDetail> {
    const [s] = await p.db.select().from(flashSales).where(eq(flashSales.id, id));
    if (!s) throw notFound('flash sale', id);
    return detail(s);
  }

  async function list(q: { limit: number; cursor?: string; status?: FlashSaleView['status'] }): Promise<PageResult<FlashSaleView>> {
    const now = p.clock.now();
    const filter =
      q.status === 'cancelled' ? eq(flashSales.status, 'cancelled')
      : q.status === 'upcoming' ? and(eq(flashSales.status, 'scheduled'), gt(flashSales.startsAt, now))
      : q.status === 'active' ? and(eq(flashSales.status, 'scheduled'), sql`${flashSales.startsAt} <= ${now} and ${flashSales.endsAt} > ${now}`)
      : q.status === 'ended' ? and(eq(flashSales.status, 'scheduled'), sql`${flashSales.endsAt} <= ${now}`)
      : undefined;
    const rows = await p.db.select().from(flashSales).where(pageFilter(flashSales.id, q.cursor, filter)).orderBy(desc(flashSales.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: await Promise.all(page.data.map(toView)) };
  }

  /** For buyers: sales not cancelled that have not ended (active and upcoming), newest first. */
  async function listOpen(q: { limit: number; cursor?: string }): Promise<PageResult<FlashSaleView>> {
    const rows = await p.db
      .select()
      .from(flashSales)
      .where(pageFilter(flashSales.id, q.cursor, eq(flashSales.status, 'scheduled'), gt(flashSales.endsAt, p.clock.now())))
      .orderBy(desc(flashSales.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: await Promise.all(page.data.map(toView)) };
  }

  async function cancel(id: string, actor: { id: string; ip?: string }): Promise<FlashSaleDetail> {
    const row = await p.db.transaction(async (tx) => {
      const [s] = await tx.select().from(flashSales).where(eq(flashSales.id, id)).for('update');
      if (!s) throw notFound('flash sale', id);
      if (s.status === 'cancelled') return s;
      if (s.endsAt <= p.clock.now()) throw new AppError('CONFLICT', 'this flash sale has ended; there is nothing to cancel', { status: 'ended' });
      const [u] = await tx.update(flashSales).set({ status: 'cancelled', cancelledAt: p.clock.now(), cancelledBy: actor.id }).where(eq(flashSales.id, id)).returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'flash_sale.cancel', targetType: 'flash_sale', targetId: id, ip: actor.ip }, tx);
      return u!;
    });
    // Orders already placed stand (they were paid); the gate refuses every further attempt from now on, on every instance.
    await load(row);
    remember(row);
    return detail(row);
  }

  /**
   * Compares what the gate counted with the orders (the truth) and makes the
   * gate say what the orders say; records both figures on the sale.
   */
  async function reconcile(id: string, actor: { id: string; ip?: string } | null): Promise<ReconcileResult> {
    const [s] = await p.db.select().from(flashSales).where(eq(flashSales.id, id));
    if (!s) throw notFound('flash sale', id);
    // While attempts may still be admitted or their orders still committing, the orders are not yet the whole truth:
    // giving units back then could sell one twice.
    const settledAt = new Date(s.endsAt.getTime() + RECONCILE_GRACE_MS);
    if (p.clock.now() < settledAt) throw new AppError('CONFLICT', `a flash sale is reconciled once it has ended (from ${settledAt.toISOString()})`, { reconcilable_from: settledAt.toISOString() });
    const snap = await gate.snapshot(id);
    const { sold, state } = await ordersState(id);
    if (snap) await gate.repair(id, sold, state);
    else await gate.define(id, termsOf(s), sold, state);
    const after = await gate.snapshot(id);
    const difference = snap ? snap.sold - sold : 0;
    const counterSold = await p.db.transaction(async (tx) => {
      const [u] = await tx.update(flashSales).set({ reconciledAt: p.clock.now(), gateSold: snap?.sold ?? null, ordersSold: sold }).where(eq(flashSales.id, id)).returning({ soldUnits: flashSales.soldUnits });
      await deps.audit.record({ actorType: actor ? 'staff' : 'system', actorId: actor?.id, action: 'flash_sale.reconcile', targetType: 'flash_sale', targetId: id, ip: actor?.ip, details: { gate_sold: snap?.sold ?? null, orders_sold: sold, counter_sold: u!.soldUnits, difference } }, tx);
      return u!.soldUnits;
    });
    if (difference !== 0) p.logger.warn({ sale_id: id, gate_sold: snap?.sold, orders_sold: sold }, 'flash sale gate drifted from the orders; repaired');
    // The counter moves only with the orders' own transactions: a difference is a defect to look into, not drift to repair.
    if (counterSold !== sold) p.logger.error({ sale_id: id, counter_sold: counterSold, orders_sold: sold }, 'flash sale counter differs from the orders');
    return { sale_id: id, gate_sold: snap?.sold ?? null, orders_sold: sold, counter_sold: counterSold, difference, repaired: after?.sold === sold };
  }

  /** The job: every sale that ended (cancelled ones too) and has not been reconciled since. */
  async function reconcileEnded(limit = 50): Promise<ReconcileResult[]> {
    const due = await queryRows<{ id: string }>(
      p.db,
      `select id from flash_sales where ends_at <= $1::timestamptz and (reconciled_at is null or reconciled_at < ends_at) order by ends_at limit $2`,
      [new Date(p.clock.now().getTime() - RECONCILE_GRACE_MS).toISOString(), limit],
    );
    const out: ReconcileResult[] = [];
    for (const { id } of due) out.push(await reconcile(id, null));
    return out;
  }

  return { gate, definition, load, unitsLeft, onOrderCancelled, create, get, list, listOpen, cancel, reconcile, reconcileEnded, termsOf };
}

export type FlashSaleService = ReturnType<typeof createFlashSaleService>;
