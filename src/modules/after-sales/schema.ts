import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * After-sales tickets: "this code does not work". One ticket names one order
 * of the customer and the codes of it concerned; support decides it once
 * (replace, refund or reject).
 */
export const afterSalesTickets = pgTable(
  'after_sales_tickets',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    orderId: text('order_id').notNull(),
    /** The API key (partner) that opened it, if any: the owner of its webhook event. */
    apiKeyOwner: text('api_key_owner'),
    description: text('description').notNull(),
    /** Up to 3 URLs of screenshots or photos (never the bytes). */
    evidenceUrls: jsonb('evidence_urls').$type<string[]>().notNull(),
    /** open -> in_review -> resolved_replaced | resolved_refunded | rejected */
    status: text('status').notNull(),
    /** A decision started but not finished (a refund runs in the payments module's own transaction). */
    pendingDecision: text('pending_decision'),
    pendingSince: tstz('pending_since'),
    decision: text('decision'),
    decisionNote: text('decision_note'),
    supplierFault: boolean('supplier_fault').notNull().default(false),
    replacementOrderId: text('replacement_order_id'),
    refundedFen: integer('refunded_fen'),
    chargebackFen: integer('chargeback_fen'),
    decidedBy: text('decided_by'),
    decidedAt: tstz('decided_at'),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [index('after_sales_tickets_customer_idx').on(t.customerId, t.id), index('after_sales_tickets_status_idx').on(t.status, t.id), index('after_sales_tickets_order_idx').on(t.orderId)],
);

/** The codes a ticket is about; a code has at most one active (undecided) ticket. */
export const afterSalesTicketCodes = pgTable(
  'after_sales_ticket_codes',
  {
    ticketId: text('ticket_id').notNull(),
    codeId: text('code_id').notNull(),
    active: boolean('active').notNull().default(true),
  },
  (t) => [primaryKey({ columns: [t.ticketId, t.codeId] }), uniqueIndex('after_sales_ticket_codes_one_open').on(t.codeId).where(sql`active`)],
);

/** Every status change of a ticket: who, when, why. */
export const afterSalesEvents = pgTable(
  'after_sales_events',
  {
    id: text('id').primaryKey(),
    ticketId: text('ticket_id').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    actorType: text('actor_type').notNull(),
    actorId: text('actor_id'),
    note: text('note'),
    createdAt: createdAt(),
  },
  (t) => [index('after_sales_events_ticket_idx').on(t.ticketId, t.id)],
);
