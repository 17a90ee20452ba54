// flash-sale tables (marketing, issue 7)
import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * A flash sale (秒杀): a number of units of one SKU at a flash price, sold in
 * a time window with a per-buyer limit. The units are counted down by the
 * gate (Redis or memory) in front of the database, and capped again in the
 * database by `sold_units` (taken in each order's transaction), so a gate that
 * lost its state cannot oversell; the orders are the truth and reconciliation
 * after the end records what the gate and the counter said.
 * Active / upcoming / ended are read from the window; only cancellation is stored.
 */
export const flashSales = pgTable(
  'flash_sales',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    skuId: text('sku_id').notNull(),
    campaignId: text('campaign_id'),
    priceFen: integer('price_fen').notNull(),
    units: integer('units').notNull(),
    perUserLimit: integer('per_user_limit').notNull(),
    startsAt: tstz('starts_at').notNull(),
    endsAt: tstz('ends_at').notNull(),
    /** scheduled (the window decides whether it is upcoming, active or ended) or cancelled */
    status: text('status').notNull().default('scheduled'),
    /**
     * Units in the sale's orders that are not cancelled, kept in step by the order's transaction (a conditional
     * increment that refuses past `units`) and by the order's cancellation (given back, as the gate's reload counts);
     * a refund leaves it (the gate never gives refunded units back either).
     */
    soldUnits: integer('sold_units').notNull().default(0),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    cancelledAt: tstz('cancelled_at'),
    cancelledBy: text('cancelled_by'),
    /** The last reconciliation: when, what the gate counted as sold, what the orders say (the truth). */
    reconciledAt: tstz('reconciled_at'),
    gateSold: integer('gate_sold'),
    ordersSold: integer('orders_sold'),
  },
  (t) => [
    index('flash_sales_window_idx').on(t.endsAt, t.startsAt),
    check('flash_sales_window', sql`${t.endsAt} > ${t.startsAt}`),
    check('flash_sales_terms', sql`${t.units} > 0 and ${t.priceFen} > 0 and ${t.perUserLimit} > 0`),
    check('flash_sales_sold_units', sql`${t.soldUnits} >= 0 and ${t.soldUnits} <= ${t.units}`),
  ],
);

/**
 * One admitted purchase, written in its order's transaction: which gate
 * identity (provider:external_id or agent:id) bought with which
 * Idempotency-Key. The gate is rebuilt from these (with the orders' status)
 * when it is reconciled or reloaded.
 */
export const flashSalePurchases = pgTable(
  'flash_sale_purchases',
  {
    orderId: text('order_id').primaryKey(),
    saleId: text('sale_id')
      .notNull()
      .references(() => flashSales.id),
    gateUser: text('gate_user').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    buyerType: text('buyer_type').notNull(),
    buyerId: text('buyer_id').notNull(),
    quantity: integer('quantity').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('flash_sale_purchases_sale_idx').on(t.saleId, t.buyerType, t.buyerId)],
);
