import { index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, createdAt, tstz } from '../../db/columns.js';
import { skus } from '../catalog/schema.js';

/** A lot of codes; its data key is sealed by a master key (envelope encryption). */
export const codeBatches = pgTable(
  'code_batches',
  {
  id: text('id').primaryKey(),
  skuId: text('sku_id')
    .notNull()
    .references(() => skus.id),
  /** imported (from a supplier file), generated (platform codes), purchased (bought through a supplier API) */
  origin: text('origin').notNull().default('imported'),
  supplier: text('supplier').notNull(),
  unitCostFen: integer('unit_cost_fen').notNull(),
  expiresAt: tstz('expires_at'),
  region: text('region').notNull().default('CN'),
  dataKeySealed: bytea('data_key_sealed').notNull(),
  masterKeyId: text('master_key_id').notNull(),
  importedBy: text('imported_by').notNull(),
  codeCount: integer('code_count').notNull().default(0),
  createdAt: createdAt(),
  },
  // One batch per supplier purchase reference: a retried delivery cannot store the codes twice.
  (t) => [uniqueIndex('code_batches_purchase_ref_uq').on(t.importedBy).where(sql`origin = 'purchased'`)],
);

export const codes = pgTable(
  'codes',
  {
    id: text('id').primaryKey(),
    batchId: text('batch_id')
      .notNull()
      .references(() => codeBatches.id),
    skuId: text('sku_id')
      .notNull()
      .references(() => skus.id),
    /** Card number (may be empty) and secret, sealed together with the batch's data key, bound to the code id. */
    sealed: bytea('sealed').notNull(),
    /** Keyed hash of the secret: finds duplicates without decrypting anything. */
    secretHmac: text('secret_hmac').notNull().unique(),
    last4: text('last4').notNull(),
    state: text('state').notNull().default('available'),
    /** A stock allocation (channel, agent, campaign) that holds this code; null is the free pool. */
    allocationId: text('allocation_id'),
    expiresAt: tstz('expires_at'),
    /** Who holds a reservation (an order id) and until when. */
    reservedBy: text('reserved_by'),
    reservedUntil: tstz('reserved_until'),
    orderId: text('order_id'),
    /** Sales so far, for reusable (shared-account) codes. */
    saleCount: integer('sale_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at'),
  },
  // Partial indexes keep claims O(1): each claim index holds only sellable codes, in expiry order, so
  // `... order by expires_at limit n for update skip locked` reads the first rows instead of sorting the pool.
  (t) => [
    index('codes_batch_idx').on(t.batchId, t.state),
    index('codes_sku_state_idx').on(t.skuId, t.state),
    index('codes_claim_free_idx').on(t.skuId, t.expiresAt).where(sql`state = 'available' and allocation_id is null`),
    index('codes_claim_allocated_idx').on(t.allocationId, t.expiresAt).where(sql`state = 'available' and allocation_id is not null`),
    index('codes_reserved_until_idx').on(t.reservedUntil).where(sql`state = 'reserved'`),
    index('codes_reserved_by_idx').on(t.reservedBy).where(sql`state = 'reserved'`),
    index('codes_expiry_idx').on(t.expiresAt).where(sql`state in ('available', 'reserved')`),
    index('codes_order_idx').on(t.orderId).where(sql`order_id is not null`),
  ],
);

/** The life of each code after import: who moved it from which state to which, and why. */
export const codeEvents = pgTable(
  'code_events',
  {
    id: text('id').primaryKey(),
    codeId: text('code_id').notNull(),
    fromState: text('from_state').notNull(),
    toState: text('to_state').notNull(),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    ref: text('ref'),
    at: tstz('at').notNull(),
  },
  (t) => [index('code_events_code_idx').on(t.codeId)],
);

export const vaultImports = pgTable('vault_imports', {
  id: text('id').primaryKey(),
  skuId: text('sku_id').notNull(),
  batchId: text('batch_id'),
  source: text('source').notNull(),
  mode: text('mode').notNull(),
  status: text('status').notNull(),
  totalRows: integer('total_rows').notNull().default(0),
  accepted: integer('accepted').notNull().default(0),
  rejected: integer('rejected').notNull().default(0),
  /** The first rejected rows with line number and reason (capped; counts are exact). */
  rejections: jsonb('rejections').$type<{ line: number; reason: string }[]>().notNull().default([]),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  finishedAt: tstz('finished_at'),
});

/** A bulk export of clear codes: asked by one staff member, approved by another, downloaded once. */
export const codeExports = pgTable('code_exports', {
  id: text('id').primaryKey(),
  skuId: text('sku_id').notNull(),
  batchId: text('batch_id'),
  state: text('state').notNull(),
  maxCodes: integer('max_codes').notNull(),
  reason: text('reason').notNull(),
  status: text('status').notNull(),
  requestedBy: text('requested_by').notNull(),
  approvedBy: text('approved_by'),
  rejectedReason: text('rejected_reason'),
  createdAt: createdAt(),
  decidedAt: tstz('decided_at'),
  downloadedAt: tstz('downloaded_at'),
  exportedCount: integer('exported_count'),
});
