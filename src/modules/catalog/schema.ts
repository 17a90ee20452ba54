import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';
import { agents } from '../agents/schema.js';

export const products = pgTable('products', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  brand: text('brand').notNull(),
  category: text('category').notNull(),
  /** code: stocked card codes; topup: direct top-up through a supplier; cdk: platform-issued redemption code */
  kind: text('kind').notNull(),
  description: text('description').notNull().default(''),
  createdAt: createdAt(),
});

export const skus = pgTable(
  'skus',
  {
    id: text('id').primaryKey(),
    productId: text('product_id')
      .notNull()
      .references(() => products.id),
    name: text('name').notNull(),
    faceValueFen: integer('face_value_fen').notNull(),
    /** What one unit costs us (the latest supplier cost; batches keep their own). */
    costFen: integer('cost_fen').notNull(),
    retailPriceFen: integer('retail_price_fen').notNull(),
    /** Price by agent level: {"1": 2300, "2": 2400}; a level not listed pays retail. */
    agentPrices: jsonb('agent_prices').$type<Record<string, number>>().notNull().default({}),
    /** Price control (against 窜货 price dumping): the lowest price an agent may set as its own resale price (null: no minimum). */
    minResalePriceFen: integer('min_resale_price_fen'),
    /** Regions the SKU may be sold in (ISO codes, "CN", "CN-GD", "HK"...). */
    regions: jsonb('regions').$type<string[]>().notNull().default(['CN']),
    /** Days a delivered code stays valid for the buyer, when the brand limits it (null: the batch expiry rules). */
    validityDays: integer('validity_days'),
    minPerOrder: integer('min_per_order').notNull().default(1),
    maxPerOrder: integer('max_per_order').notNull().default(10),
    /** Shared-account codes that may be sold to several buyers, up to maxSalesPerCode each. */
    reusable: boolean('reusable').notNull().default(false),
    maxSalesPerCode: integer('max_sales_per_code').notNull().default(1),
    lowStockThreshold: integer('low_stock_threshold').notNull().default(10),
    usageInstructions: text('usage_instructions').notNull().default(''),
    /** Where the brand redeems a code (one-tap activation in the wallet); `{code}` is replaced by the owner's code. Null: none. */
    redeemUrl: text('redeem_url'),
    onSale: boolean('on_sale').notNull().default(true),
    /** Why the SKU is off sale when the platform took it off (margin guard, no stock...). */
    offSaleReason: text('off_sale_reason'),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at'),
  },
  (t) => [index('skus_product_idx').on(t.productId)],
);

/** An agent's own resale price of a SKU (what it sells at), kept at or above the SKU's min_resale_price_fen when set. */
export const agentResalePrices = pgTable(
  'agent_resale_prices',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id),
    skuId: text('sku_id')
      .notNull()
      .references(() => skus.id),
    priceFen: integer('price_fen').notNull(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.skuId] }), index('agent_resale_prices_sku_idx').on(t.skuId, t.priceFen)],
);

/**
 * Level price rules (markup): the price of agent level L, when the SKU has no explicit price for L, is the price of
 * level L-1 (level 0: the SKU's cost) plus markup_bps of it plus markup_fen, never above retail. A rule for a
 * category beats the global one (category_id null) of the same level. category_id is the products' category.
 */
export const levelPriceRules = pgTable(
  'level_price_rules',
  {
    id: text('id').primaryKey(),
    level: integer('level').notNull(),
    categoryId: text('category_id'),
    markupBps: integer('markup_bps').notNull().default(0),
    markupFen: integer('markup_fen').notNull().default(0),
    updatedBy: text('updated_by').notNull(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [uniqueIndex('level_price_rules_level_category_idx').on(t.level, sql`coalesce(${t.categoryId}, '')`)],
);
