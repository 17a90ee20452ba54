import { index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { tstz } from '../../db/columns.js';

/**
 * Operational alerts (low stock, expiring codes, price changes, margin guard,
 * supplier down...). At most one open alert per kind and subject; it clears
 * when the condition goes away.
 */
export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    severity: text('severity').notNull(),
    message: text('message').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    openedAt: tstz('opened_at').notNull(),
    updatedAt: tstz('updated_at').notNull(),
    clearedAt: tstz('cleared_at'),
  },
  (t) => [uniqueIndex('alerts_open_uq').on(t.kind, t.subjectId).where(sql`cleared_at is null`), index('alerts_opened_idx').on(t.openedAt)],
);

/**
 * Alerts waiting to be sent to the admin chat (admin-chat.ts): written with
 * the alert, sent by a job with retries, so a crash loses none.
 */
export const alertChatMessages = pgTable(
  'alert_chat_messages',
  {
    id: text('id').primaryKey(),
    alertId: text('alert_id').notNull(),
    kind: text('kind').notNull(),
    text: text('text').notNull(),
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: tstz('created_at').notNull(),
    sentAt: tstz('sent_at'),
  },
  (t) => [index('alert_chat_messages_due_idx').on(t.status, t.nextAttemptAt)],
);
