import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { bytea, createdAt, tstz } from '../../db/columns.js';

export const suppliers = pgTable('suppliers', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** adapter: http_json (a configurable HTTP JSON API; the simulator speaks it too) */
  adapter: text('adapter').notNull(),
  baseUrl: text('base_url').notNull(),
  /** API key and callback secret, sealed with the master key ring. */
  credentialsSealed: bytea('credentials_sealed').notNull(),
  credentialsKeyId: text('credentials_key_id').notNull(),
  timeoutMs: integer('timeout_ms').notNull().default(5000),
  /** Days from our purchase order to codes in stock: reorder suggestions cover this long (analytics). */
  leadTimeDays: integer('lead_time_days').notNull().default(3),
  status: text('status').notNull().default('active'),
  balanceFen: integer('balance_fen'),
  health: text('health').notNull().default('unknown'),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  lastError: text('last_error'),
  lastCheckedAt: tstz('last_checked_at'),
  /** Opaque cursor of the last incremental sync. */
  syncCursor: text('sync_cursor'),
  lastSyncedAt: tstz('last_synced_at'),
  createdAt: createdAt(),
});

/** What a supplier sells, as last synced. */
export const supplierProducts = pgTable(
  'supplier_products',
  {
    id: text('id').primaryKey(),
    supplierId: text('supplier_id').notNull(),
    externalSku: text('external_sku').notNull(),
    name: text('name').notNull(),
    costFen: integer('cost_fen').notNull(),
    stock: integer('stock').notNull(),
    available: boolean('available').notNull().default(true),
    supplierUpdatedAt: text('supplier_updated_at'),
    syncedAt: tstz('synced_at').notNull(),
  },
  (t) => [uniqueIndex('supplier_products_uq').on(t.supplierId, t.externalSku)],
);

/** Which suppliers can fill a SKU, in order of preference. */
export const skuSuppliers = pgTable(
  'sku_suppliers',
  {
    skuId: text('sku_id').notNull(),
    supplierId: text('supplier_id').notNull(),
    externalSku: text('external_sku').notNull(),
    priority: integer('priority').notNull(),
  },
  (t) => [primaryKey({ columns: [t.skuId, t.supplierId] })],
);

/**
 * One purchase of ours (purchase_id) may try several suppliers; each try is a
 * row with our idempotent reference (external_ref). Before trying the next
 * supplier the previous one is queried with the same reference, so a try that
 * timed out but succeeded is never bought twice.
 */
export const supplierOrders = pgTable(
  'supplier_orders',
  {
    id: text('id').primaryKey(),
    purchaseId: text('purchase_id').notNull(),
    supplierId: text('supplier_id').notNull(),
    skuId: text('sku_id').notNull(),
    externalSku: text('external_sku').notNull(),
    externalRef: text('external_ref').notNull().unique(),
    attempt: integer('attempt').notNull(),
    quantity: integer('quantity').notNull(),
    /** Top-up target (player id, phone...); null for code purchases. */
    account: text('account'),
    status: text('status').notNull(),
    supplierOrderId: text('supplier_order_id'),
    costFen: integer('cost_fen'),
    error: text('error'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [index('supplier_orders_purchase_idx').on(t.purchaseId), index('supplier_orders_status_idx').on(t.status)],
);

export const supplierCallbacks = pgTable('supplier_callbacks', {
  id: text('id').primaryKey(),
  supplierId: text('supplier_id').notNull(),
  externalRef: text('external_ref'),
  signatureValid: boolean('signature_valid').notNull(),
  outcome: text('outcome').notNull(),
  payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  receivedAt: tstz('received_at').notNull(),
});
