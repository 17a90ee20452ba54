import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

export const payments = pgTable(
  'payments',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    /** balance | wechat | stars | sandbox */
    provider: text('provider').notNull(),
    amountFen: integer('amount_fen').notNull(),
    status: text('status').notNull(),
    /** Our trade number sent to the provider (WeChat out_trade_no). */
    tradeNo: text('trade_no').notNull().unique(),
    /** The provider's own transaction id, once paid. */
    providerTxnId: text('provider_txn_id'),
    providerData: jsonb('provider_data').$type<Record<string, unknown>>(),
    refundedFen: integer('refunded_fen').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
    paidAt: tstz('paid_at'),
  },
  (t) => [index('payments_order_idx').on(t.orderId), uniqueIndex('payments_provider_txn_uq').on(t.provider, t.providerTxnId)],
);

/** Every payment notification received, valid or not, and what became of it. */
export const paymentNotifications = pgTable('payment_notifications', {
  id: text('id').primaryKey(),
  provider: text('provider').notNull(),
  tradeNo: text('trade_no'),
  signatureValid: boolean('signature_valid').notNull(),
  outcome: text('outcome').notNull(),
  detail: text('detail'),
  receivedAt: tstz('received_at').notNull(),
});

export const refunds = pgTable(
  'refunds',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    paymentId: text('payment_id').notNull(),
    amountFen: integer('amount_fen').notNull(),
    quantity: integer('quantity').notNull(),
    /** balance (credited to the buyer's balance) or original (back through the payment provider) */
    destination: text('destination').notNull(),
    status: text('status').notNull(),
    reason: text('reason').notNull(),
    providerRefundId: text('provider_refund_id'),
    /** Calls made to the provider for it (retried by the job until it is final). */
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [index('refunds_order_idx').on(t.orderId), index('refunds_status_idx').on(t.status)],
);
