import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { bytea, createdAt } from '../../db/columns.js';

export const customers = pgTable(
  'customers',
  {
    id: text('id').primaryKey(),
    displayName: text('display_name').notNull(),
    locale: text('locale').notNull().default('zh-CN'),
    /** Phone sealed with the master key ring, found through a keyed hash. */
    phoneSealed: bytea('phone_sealed'),
    phoneKeyId: text('phone_key_id'),
    phoneHash: text('phone_hash'),
    phoneMasked: text('phone_masked'),
    status: text('status').notNull().default('active'),
    createdAt: createdAt(),
  },
  (t) => [index('customers_phone_hash_idx').on(t.phoneHash)],
);

/** One customer, many chat identities: Telegram id, WeChat openid/unionid, mini-program openid. */
export const customerIdentities = pgTable(
  'customer_identities',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id')
      .notNull()
      .references(() => customers.id),
    provider: text('provider').notNull(),
    externalId: text('external_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('customer_identities_provider_external_uq').on(t.provider, t.externalId), index('customer_identities_customer_idx').on(t.customerId)],
);
