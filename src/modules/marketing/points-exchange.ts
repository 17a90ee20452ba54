import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { OrderService } from '../orders/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { PointsService } from './points.js';
import { pointsExchangeItems, pointsExchanges } from './points-schema.js';

/** The coupons slice's grant (wired when it exists). */
export interface CouponGranter {
  grant(tx: Tx, input: { templateId: string; customerId: string; source: string; sourceRef: string }): Promise<{ couponId: string; created: boolean }>;
}

export interface ExchangeItemView {
  id: string;
  name: string;
  kind: string;
  sku_id: string | null;
  coupon_template_id: string | null;
  points_price: number;
  stock_limit: number | null;
  exchanged_count: number;
  status: string;
  campaign_id: string | null;
  created_at: string;
}

export interface ExchangeView {
  id: string;
  item_id: string;
  customer_id: string;
  points: number;
  order_id: string | null;
  coupon_id: string | null;
  created_at: string;
}

type Actor = { id: string; ip?: string };
type ItemRow = typeof pointsExchangeItems.$inferSelect;

const itemView = (r: ItemRow): ExchangeItemView => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  sku_id: r.skuId,
  coupon_template_id: r.couponTemplateId,
  points_price: r.pointsPrice,
  stock_limit: r.stockLimit,
  exchanged_count: r.exchangedCount,
  status: r.status,
  campaign_id: r.campaignId,
  created_at: r.createdAt.toISOString(),
});
const exchangeView = (r: typeof pointsExchanges.$inferSelect): ExchangeView => ({ id: r.id, item_id: r.itemId, customer_id: r.customerId, points: r.points, order_id: r.orderId, coupon_id: r.couponId, created_at: r.createdAt.toISOString() });

/**
 * 积分兑换: staff keep a catalogue of items (a SKU or a coupon template for a
 * points price, optionally limited in stock); a customer exchanges points for
 * one in a single transaction: the Idempotency-Key claim, the points spend
 * (wallet locked: racing exchanges queue and never overdraw), the item's
 * stock counter (one conditional UPDATE), and the order (paid by the
 * promotion budget at the SKU's retail price) or the coupon grant.
 */
export function createPointsExchange(
  p: Platform,
  deps: { points: PointsService; audit: AuditService; catalog: Pick<CatalogService, 'getSku'>; orders: Pick<OrderService, 'createOrder'>; coupons?: CouponGranter },
) {
  const idempotency = createIdempotency(p);

  async function createItem(input: { name: string; kind: 'sku' | 'coupon'; skuId?: string; couponTemplateId?: string; pointsPrice: number; stockLimit?: number | null; campaignId?: string | null }, actor: Actor): Promise<ExchangeItemView> {
    if (input.kind === 'sku') {
      if (!input.skuId) throw new AppError('VALIDATION_FAILED', 'sku_id: required for a sku item', [{ field: 'sku_id', message: 'required' }]);
      await deps.catalog.getSku(input.skuId);
    } else if (!input.couponTemplateId) throw new AppError('VALIDATION_FAILED', 'coupon_template_id: required for a coupon item', [{ field: 'coupon_template_id', message: 'required' }]);
    if (input.kind === 'coupon' && !deps.coupons) throw new AppError('UNPROCESSABLE', 'coupons are not available on this installation', [{ field: 'kind', message: 'coupons not available' }]);
    const now = p.clock.now();
    const id = newId('pxi', now);
    await p.db.transaction(async (tx) => {
      await tx.insert(pointsExchangeItems).values({
        id,
        name: input.name,
        kind: input.kind,
        skuId: input.kind === 'sku' ? input.skuId! : null,
        couponTemplateId: input.kind === 'coupon' ? input.couponTemplateId! : null,
        pointsPrice: input.pointsPrice,
        stockLimit: input.stockLimit ?? null,
        status: 'active',
        campaignId: input.campaignId ?? null,
        createdBy: actor.id,
        createdAt: now,
        updatedAt: now,
      });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'points.item_create', targetType: 'points_exchange_item', targetId: id, ip: actor.ip, details: { kind: input.kind, points_price: input.pointsPrice, stock_limit: input.stockLimit ?? null } }, tx);
    });
    return getItem(id);
  }

  async function updateItem(id: string, patch: { name?: string; pointsPrice?: number; stockLimit?: number | null; status?: 'active' | 'inactive' }, actor: Actor): Promise<ExchangeItemView> {
    return p.db.transaction(async (tx) => {
      const [cur] = await tx.select().from(pointsExchangeItems).where(eq(pointsExchangeItems.id, id)).for('update');
      if (!cur) throw notFound('points exchange item', id);
      if (patch.stockLimit != null && patch.stockLimit < cur.exchangedCount) {
        throw new AppError('UNPROCESSABLE', `stock_limit: ${cur.exchangedCount} already exchanged`, [{ field: 'stock_limit', message: `at least ${cur.exchangedCount}` }]);
      }
      const [row] = await tx
        .update(pointsExchangeItems)
        .set({ ...(patch.name !== undefined ? { name: patch.name } : {}), ...(patch.pointsPrice !== undefined ? { pointsPrice: patch.pointsPrice } : {}), ...(patch.stockLimit !== undefined ? { stockLimit: patch.stockLimit } : {}), ...(patch.status ? { status: patch.status } : {}), updatedAt: p.clock.now() })
        .where(eq(pointsExchangeItems.id, id))
        .returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'points.item_update', targetType: 'points_exchange_item', targetId: id, ip: actor.ip, details: { name: patch.name, points_price: patch.pointsPrice, stock_limit: patch.stockLimit, status: patch.status } }, tx);
      return itemView(row!);
    });
  }

  async function getItem(id: string): Promise<ExchangeItemView> {
    const [r] = await p.db.select().from(pointsExchangeItems).where(eq(pointsExchangeItems.id, id));
    if (!r) throw notFound('points exchange item', id);
    return itemView(r);
  }

  async function listItems(q: { limit: number; cursor?: string; status?: string }): Promise<PageResult<ExchangeItemView>> {
    const rows = await p.db.select().from(pointsExchangeItems).where(pageFilter(pointsExchangeItems.id, q.cursor, q.status ? eq(pointsExchangeItems.status, q.status) : undefined)).orderBy(desc(pointsExchangeItems.id)).limit(q.limit + 1);
    return toPage(rows.map(itemView), q.limit);
  }

  async function getExchange(id: string): Promise<ExchangeView> {
    const [r] = await p.db.select().from(pointsExchanges).where(eq(pointsExchanges.id, id));
    if (!r) throw notFound('points exchange', id);
    return exchangeView(r);
  }

  async function listExchanges(q: { limit: number; cursor?: string; customerId?: string }): Promise<PageResult<ExchangeView>> {
    const rows = await p.db.select().from(pointsExchanges).where(pageFilter(pointsExchanges.id, q.cursor, and(q.customerId ? eq(pointsExchanges.customerId, q.customerId) : undefined))).orderBy(desc(pointsExchanges.id)).limit(q.limit + 1);
    return toPage(rows.map(exchangeView), q.limit);
  }

  /** One exchange; the same key replays it (201 then 200). */
  async function exchange(input: { customerId: string; itemId: string; key: string; scope: string; apiKeyOwner?: string; channel?: string }): Promise<{ status: 200 | 201; exchange: ExchangeView }> {
    const id = newId('pxe', p.clock.now());
    const result = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, `${input.scope}:points-exchange`, input.key, { customer_id: input.customerId, item_id: input.itemId }, { statusCode: 201, body: { exchange_id: id } });
      if (prior) return { status: 200 as const, id: (prior.body as { exchange_id: string }).exchange_id };
      const [item] = await tx.select().from(pointsExchangeItems).where(eq(pointsExchangeItems.id, input.itemId));
      if (!item) throw notFound('points exchange item', input.itemId);
      if (item.status !== 'active') throw new AppError('UNPROCESSABLE', 'this item is not available for exchange', [{ field: 'item_id', message: 'inactive' }]);
      // Points first: the wallet lock queues this customer's exchanges; the hot item row is touched only by those who can pay.
      await deps.points.spend(tx, { customerId: input.customerId, points: item.pointsPrice, reason: 'exchange', refType: 'points_exchange', refId: id });
      const bumped = await queryRows(tx, `update points_exchange_items set exchanged_count = exchanged_count + 1, updated_at = $2::timestamptz where id = $1 and status = 'active' and (stock_limit is null or exchanged_count < stock_limit) returning id`, [item.id, p.clock.now().toISOString()]);
      if (bumped.length === 0) throw new AppError('CONFLICT', 'this item is sold out', [{ field: 'item_id', message: 'sold out' }]);
      let orderId: string | null = null;
      let couponId: string | null = null;
      if (item.kind === 'sku') {
        const sku = await deps.catalog.getSku(item.skuId!, tx);
        const order = await deps.orders.createOrder(
          {
            buyer: { type: 'customer', id: input.customerId },
            skuId: sku.id,
            quantity: 1,
            channel: input.channel ?? 'api',
            payment: 'balance',
            paidBy: 'promotion',
            offer: { kind: 'points', id: item.id, unitPriceFen: sku.retailPriceFen, campaignId: item.campaignId },
            apiKeyOwner: input.apiKeyOwner,
          },
          tx,
        );
        orderId = order.id;
      } else {
        if (!deps.coupons) throw new AppError('UNPROCESSABLE', 'coupons are not available on this installation', [{ field: 'item_id', message: 'coupons not available' }]);
        couponId = (await deps.coupons.grant(tx, { templateId: item.couponTemplateId!, customerId: input.customerId, source: 'points_exchange', sourceRef: id })).couponId;
      }
      await tx.insert(pointsExchanges).values({ id, itemId: item.id, customerId: input.customerId, points: item.pointsPrice, orderId, couponId, createdAt: p.clock.now() });
      return { status: 201 as const, id };
    });
    return { status: result.status, exchange: await getExchange(result.id) };
  }

  /** Staff grant (positive) or take (negative) points; idempotent per reference; audited. */
  async function adjust(customerId: string, input: { points: number; reason: string; reference: string }, actor: Actor) {
    if (!Number.isSafeInteger(input.points) || input.points === 0) throw new AppError('VALIDATION_FAILED', 'points: a non-zero whole number', [{ field: 'points', message: 'must be non-zero' }]);
    await p.db.transaction(async (tx) => {
      const ref = { reason: `staff:${input.reason}`.slice(0, 200), refType: 'staff_adjust', refId: input.reference };
      if (input.points > 0) await deps.points.award(tx, { customerId, points: input.points, kind: 'adjust', ...ref });
      else await deps.points.spend(tx, { customerId, points: -input.points, kind: 'adjust', ...ref });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'points.adjust', targetType: 'customer', targetId: customerId, ip: actor.ip, details: { points: input.points, reason: input.reason, reference: input.reference } }, tx);
    });
    return deps.points.balance(customerId);
  }

  return { createItem, updateItem, getItem, listItems, exchange, getExchange, listExchanges, adjust };
}

export type PointsExchange = ReturnType<typeof createPointsExchange>;
