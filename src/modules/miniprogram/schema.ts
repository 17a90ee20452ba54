import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/** A customer's mini-program session: only a hash of the bearer token is stored, so a leaked table gives no sessions. */
export const mpSessions = pgTable(
  'mp_sessions',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull().unique(),
    customerId: text('customer_id').notNull(),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at').notNull(),
    revokedAt: tstz('revoked_at'),
  },
  (t) => [index('mp_sessions_customer_idx').on(t.customerId), index('mp_sessions_expires_idx').on(t.expiresAt)],
);
