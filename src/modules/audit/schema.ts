import { bigint, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core';
import { tstz } from '../../db/columns.js';

/**
 * Append-only: a trigger refuses UPDATE and DELETE, and each row carries the
 * SHA-256 of its content and of the previous row, so an edit made around the
 * trigger (by a superuser) is still found by `npm run audit:verify`.
 */
export const auditLog = pgTable('audit_log', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  at: tstz('at').notNull(),
  actorType: text('actor_type').notNull(),
  actorId: text('actor_id'),
  action: text('action').notNull(),
  targetType: text('target_type'),
  targetId: text('target_id'),
  ip: text('ip'),
  details: jsonb('details').$type<Record<string, unknown>>().notNull(),
  prevHash: text('prev_hash').notNull(),
  hash: text('hash').notNull(),
});

/** The newest link, so that deleting the tail of the chain is noticed too. */
export const auditHead = pgTable('audit_head', {
  id: integer('id').primaryKey(),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
  lastHash: text('last_hash').notNull(),
});
