import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { bytea, createdAt, tstz } from '../../db/columns.js';
import { agents } from '../agents/schema.js';

/**
 * An agent's request to be paid its available commission. The money leaves
 * commission_available for platform:withdrawals_pending when the request is
 * made, and leaves withdrawals_pending when finance pays it (or goes back on
 * rejection). The fee is fixed at request time, so what the agent was shown
 * is what is paid. The payout account (bank account, openid) is sealed with
 * the master key ring; only its masked form is shown in lists.
 */
export const withdrawals = pgTable(
  'withdrawals',
  {
    id: text('id').primaryKey(),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id),
    amountFen: bigint('amount_fen', { mode: 'number' }).notNull(),
    feeFen: bigint('fee_fen', { mode: 'number' }).notNull(),
    method: text('method').notNull(),
    payoutSealed: bytea('payout_sealed').notNull(),
    payoutKeyId: text('payout_key_id').notNull(),
    payoutMasked: text('payout_masked').notNull(),
    status: text('status').notNull().default('requested'),
    /** the API key that asked */
    requestedBy: text('requested_by'),
    /** at or above the dual-approval amount: the first of two finance staff who approved (approved_by is the second) */
    firstApprovedBy: text('first_approved_by'),
    firstApprovedAt: tstz('first_approved_at'),
    approvedBy: text('approved_by'),
    approvedAt: tstz('approved_at'),
    paidBy: text('paid_by'),
    paidAt: tstz('paid_at'),
    /** the bank's or WeChat's transfer reference, given by finance when paying */
    payoutReference: text('payout_reference'),
    rejectedBy: text('rejected_by'),
    rejectedAt: tstz('rejected_at'),
    rejectReason: text('reject_reason'),
    /** The risk gate answered review: finance cannot approve until risk staff release it (risk_reviews). */
    riskHold: boolean('risk_hold').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [
    index('withdrawals_agent_idx').on(t.agentId),
    index('withdrawals_status_idx').on(t.status),
    check('withdrawals_amounts', sql`${t.amountFen} > 0 and ${t.feeFen} >= 0 and ${t.feeFen} < ${t.amountFen}`),
    check('withdrawals_status', sql`${t.status} in ('requested', 'awaiting_second_approval', 'approved', 'paid', 'rejected')`),
    // The daily limits sum an agent's withdrawals of the day.
    index('withdrawals_agent_created_idx').on(t.agentId, t.createdAt),
  ],
);
