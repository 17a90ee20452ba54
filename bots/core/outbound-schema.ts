import { index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { tstz } from '../../src/db/columns.js';

/**
 * Chat messages that do not answer an inbound one (codes delivered after an
 * external payment, agents' announcements, alerts), sent by the outbound
 * queue (outbound.ts) within each platform's limits. Secrets in `replies`
 * are sealed with the master key ring (AAD = message id + reply index):
 * no clear code is ever at rest here.
 */
export const botOutboundMessages = pgTable(
  'bot_outbound_messages',
  {
    id: text('id').primaryKey(),
    channel: text('channel').notNull(),
    chatId: text('chat_id').notNull(),
    /** private | group */
    chatKind: text('chat_kind').notNull(),
    /** The platform identity of the addressee (ChatUser), when known; never a secret. */
    chatUser: jsonb('chat_user').$type<Record<string, unknown>>(),
    /** The rendered replies, secrets sealed (StoredReply[] in outbound-store.ts). */
    replies: jsonb('replies').$type<unknown[]>().notNull(),
    /** Platform messages this row becomes (one per reply): what the rate limits count. */
    weight: integer('weight').notNull().default(1),
    reason: text('reason').notNull(),
    /** Unique per logical message: a second enqueue with the same key is a no-op. */
    dedupeKey: text('dedupe_key').notNull(),
    /** pending | sending | sent | failed | window_closed | skipped */
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at').notNull(),
    /** When the last attempt was claimed: the send time the rate limits count (conservatively, failed attempts too). */
    claimedAt: tstz('claimed_at'),
    lastError: text('last_error'),
    createdAt: tstz('created_at').notNull(),
    sentAt: tstz('sent_at'),
  },
  (t) => [
    uniqueIndex('bot_outbound_dedupe_uq').on(t.dedupeKey),
    index('bot_outbound_due_idx').on(t.channel, t.status, t.nextAttemptAt),
    index('bot_outbound_recent_idx').on(t.channel, t.claimedAt),
    index('bot_outbound_chat_idx').on(t.channel, t.chatId, t.claimedAt),
  ],
);

/** A platform's "too many requests": the chat (scope = chat id) or the whole channel (scope = '*') waits until `until`. */
export const botOutboundPauses = pgTable(
  'bot_outbound_pauses',
  {
    channel: text('channel').notNull(),
    scope: text('scope').notNull(),
    until: tstz('until').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.scope] })],
);

/** The last message a user sent us per chat: WeChat OA customer messages may only answer within 48 h of it. */
export const botInboundMarks = pgTable(
  'bot_inbound_marks',
  {
    channel: text('channel').notNull(),
    chatId: text('chat_id').notNull(),
    lastInboundAt: tstz('last_inbound_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.chatId] })],
);
