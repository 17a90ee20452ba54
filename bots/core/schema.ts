import { index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../src/db/columns.js';

/**
 * One conversation state per chat user (provider + external id), shared by
 * every bot instance. `version` makes a save conditional on nothing else
 * having saved in between (optimistic concurrency): two instances handling
 * the same user at once cannot silently overwrite each other's step.
 */
export const botSessions = pgTable('bot_sessions', {
  userKey: text('user_key').primaryKey(),
  data: jsonb('data').$type<Record<string, unknown>>().notNull(),
  version: integer('version').notNull().default(0),
  updatedAt: tstz('updated_at').notNull(),
});

/**
 * Inbound messages already handled, by (channel, platform message id): a
 * webhook delivered again (at-least-once) is answered once. Old rows can be
 * dropped after a few days; platforms stop retrying long before.
 */
export const botInbound = pgTable(
  'bot_inbound',
  {
    channel: text('channel').notNull(),
    messageId: text('message_id').notNull(),
    receivedAt: tstz('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.messageId] }), index('bot_inbound_received_idx').on(t.receivedAt)],
);

/**
 * One-time codes that link a chat user to an agent (issued by the agent back
 * office) or to a staff member (issued by an admin route). Only the code's
 * HMAC is stored; a code works once and until it expires.
 */
export const botLinkCodes = pgTable('bot_link_codes', {
  codeHash: text('code_hash').primaryKey(),
  kind: text('kind').$type<'agent' | 'staff'>().notNull(),
  subjectId: text('subject_id').notNull(),
  expiresAt: tstz('expires_at').notNull(),
  usedAt: tstz('used_at'),
  usedBy: text('used_by'),
  createdAt: createdAt(),
});

/** A chat identity linked to a staff member (admin commands in the admin chat). */
export const botStaffLinks = pgTable('bot_staff_links', {
  /** provider:externalId of the chat user */
  userKey: text('user_key').primaryKey(),
  staffId: text('staff_id').notNull(),
  createdAt: createdAt(),
});
