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

/**
 * One-time subscribe-message consents: WeChat allows one subscribe message per acceptance of a template, so each
 * acceptance the mini-program reports is a row, and a sent message uses one up (used_at) in the sender's transaction.
 */
export const mpSubscribeConsents = pgTable(
  'mp_subscribe_consents',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    templateId: text('template_id').notNull(),
    createdAt: createdAt(),
    usedAt: tstz('used_at'),
    /** what used it, e.g. "wallet.reminder" */
    usedFor: text('used_for'),
  },
  (t) => [index('mp_subscribe_consents_unused_idx').on(t.customerId, t.templateId, t.usedAt)],
);
