import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * Part of a SKU's global pool set aside for a channel, an agent or a
 * campaign. Allocation is physical: the codes themselves carry the
 * allocation id, so claiming from a quota is the same row-locked claim as
 * from the free pool, with no shared counter to contend on.
 */
export const stockAllocations = pgTable(
  'stock_allocations',
  {
    id: text('id').primaryKey(),
    skuId: text('sku_id').notNull(),
    holderType: text('holder_type').notNull(),
    holderId: text('holder_id').notNull(),
    lowStockThreshold: integer('low_stock_threshold').notNull().default(0),
    status: text('status').notNull().default('active'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    releasedAt: tstz('released_at'),
  },
  (t) => [index('stock_allocations_holder_idx').on(t.skuId, t.holderType, t.holderId)],
);
