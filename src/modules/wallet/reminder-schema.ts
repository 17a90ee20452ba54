import { index, integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * One row per expiry reminder: (code, rule) is unique, and the row is written
 * in the transaction that queues the chat message (or claims the mini-program
 * send), so however many job runs race, a code gets each rule's reminder once.
 * channel: chat | miniprogram | none. status: queued (chat, in the outbound
 * queue) | sending -> sent | failed | refused (mini-program) | no_channel.
 */
export const walletReminders = pgTable(
  'wallet_reminders',
  {
    id: text('id').primaryKey(),
    codeId: text('code_id').notNull(),
    ruleDays: integer('rule_days').notNull(),
    customerId: text('customer_id').notNull(),
    channel: text('channel').notNull(),
    status: text('status').notNull(),
    /** the bot_outbound_messages row (chat) */
    outboundId: text('outbound_id'),
    error: text('error'),
    sentAt: tstz('sent_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('wallet_reminders_code_rule_uq').on(t.codeId, t.ruleDays), index('wallet_reminders_customer_idx').on(t.customerId, t.id)],
);
