import { boolean, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/** A local-life merchant (O2O) whose stores redeem codes of the products it accepts. */
export const merchants = pgTable('merchants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  status: text('status').notNull().default('active'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
});

/** The products (local-life vouchers) whose codes a merchant may redeem. */
export const merchantProducts = pgTable(
  'merchant_products',
  {
    merchantId: text('merchant_id')
      .notNull()
      .references(() => merchants.id),
    productId: text('product_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.merchantId, t.productId] })],
);

export const stores = pgTable(
  'stores',
  {
    id: text('id').primaryKey(),
    merchantId: text('merchant_id')
      .notNull()
      .references(() => merchants.id),
    name: text('name').notNull(),
    address: text('address'),
    status: text('status').notNull().default('active'),
    createdAt: createdAt(),
  },
  (t) => [index('stores_merchant_idx').on(t.merchantId)],
);

/** A store's staff member; authenticates with a signed API key of owner_type 'store_staff' whose owner id is this id. */
export const storeStaff = pgTable(
  'store_staff',
  {
    id: text('id').primaryKey(),
    storeId: text('store_id')
      .notNull()
      .references(() => stores.id),
    merchantId: text('merchant_id').notNull(),
    name: text('name').notNull(),
    apiKeyId: text('api_key_id').notNull(),
    disabled: boolean('disabled').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [index('store_staff_store_idx').on(t.storeId)],
);

/** One row per redeemed code: the unique code_id is the database's own guard against a second redemption. */
export const redemptions = pgTable(
  'redemptions',
  {
    id: text('id').primaryKey(),
    codeId: text('code_id').notNull(),
    skuId: text('sku_id').notNull(),
    productId: text('product_id').notNull(),
    merchantId: text('merchant_id').notNull(),
    storeId: text('store_id').notNull(),
    staffId: text('staff_id').notNull(),
    /** Face value at the time of redemption, for the store report (integer fen). */
    faceValueFen: integer('face_value_fen').notNull(),
    /** 'code' (typed or scanned secret) or 'qr' (the wallet's short-lived token). */
    via: text('via').notNull(),
    qrTokenId: text('qr_token_id'),
    redeemedAt: tstz('redeemed_at').notNull(),
  },
  (t) => [uniqueIndex('redemptions_code_uq').on(t.codeId), index('redemptions_store_at_idx').on(t.storeId, t.redeemedAt)],
);

/** A short-lived QR token a code's owner shows at the store; used once (used_at), never stored in clear (only its id is signed). */
export const redemptionQrTokens = pgTable('redemption_qr_tokens', {
  id: text('id').primaryKey(),
  codeId: text('code_id').notNull(),
  customerId: text('customer_id').notNull(),
  issuedFor: text('issued_for').notNull(),
  expiresAt: tstz('expires_at').notNull(),
  usedAt: tstz('used_at'),
  createdAt: createdAt(),
});
