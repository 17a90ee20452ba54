import { index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, createdAt, tstz } from '../../db/columns.js';

/** A partner's receiving URL and the events it wants. */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  ownerType: text('owner_type').notNull(),
  ownerId: text('owner_id').notNull(),
  url: text('url').notNull(),
  /** Signing secret, sealed with the master key ring (AAD = endpoint id). */
  secretSealed: bytea('secret_sealed').notNull(),
  secretKeyId: text('secret_key_id').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  status: text('status').notNull().default('active'),
  createdAt: createdAt(),
});

/**
 * The outbox: an event is written in the same transaction as the change it
 * describes, so it exists exactly when the change does; delivery happens
 * after, from here, by the job engine.
 */
export const outboxEvents = pgTable(
  'outbox_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** Whose event it is (the partner or agent an order belongs to), for routing to endpoints. */
    ownerType: text('owner_type'),
    ownerId: text('owner_id'),
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    createdAt: createdAt(),
    dispatchedAt: tstz('dispatched_at'),
  },
  (t) => [index('outbox_events_undispatched_idx').on(t.createdAt).where(sql`dispatched_at is null`)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    eventId: text('event_id').notNull(),
    endpointId: text('endpoint_id').notNull(),
    status: text('status').notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
    deliveredAt: tstz('delivered_at'),
  },
  (t) => [uniqueIndex('webhook_deliveries_event_endpoint_uq').on(t.eventId, t.endpointId), index('webhook_deliveries_due_idx').on(t.status, t.nextAttemptAt)],
);
