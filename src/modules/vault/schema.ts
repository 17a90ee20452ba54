import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { bytea, createdAt, tstz } from '../../db/columns.js';
import { skus } from '../catalog/schema.js';

/** A lot of codes; its data key is sealed by a master key (envelope encryption). */
export const codeBatches = pgTable('code_batches', {
  id: text('id').primaryKey(),
  skuId: text('sku_id')
    .notNull()
    .references(() => skus.id),
  supplier: text('supplier').notNull(),
  unitCostFen: integer('unit_cost_fen').notNull(),
  expiresAt: tstz('expires_at'),
  region: text('region').notNull().default('CN'),
  dataKeySealed: bytea('data_key_sealed').notNull(),
  masterKeyId: text('master_key_id').notNull(),
  importedBy: text('imported_by').notNull(),
  createdAt: createdAt(),
});

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
    /** Card number (may be empty) and secret, sealed together with the batch's data key. */
    sealed: bytea('sealed').notNull(),
    /** Keyed hash of the secret: finds duplicates without decrypting anything. */
    secretHmac: text('secret_hmac').notNull().unique(),
    last4: text('last4').notNull(),
    state: text('state').notNull().default('available'),
    createdAt: createdAt(),
  },
  (t) => [index('codes_sku_state_idx').on(t.skuId, t.state)],
);
