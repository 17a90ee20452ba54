import { index, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * Who holds a code when it is no longer its order's buyer: written by a claimed
 * gift, in the claim's transaction. No row means the code is still with the
 * buyer of the order it was sold in (codes.order_id -> orders.buyer_id).
 */
export const walletHoldings = pgTable(
  'wallet_holdings',
  {
    codeId: text('code_id').primaryKey(),
    customerId: text('customer_id').notNull(),
    /** the gift that moved it here */
    giftId: text('gift_id').notNull(),
    acquiredAt: tstz('acquired_at').notNull(),
  },
  (t) => [index('wallet_holdings_customer_idx').on(t.customerId, t.codeId)],
);

/**
 * A gift of one unrevealed code: a single-use claim token (only its hash is
 * stored) valid until expires_at. pending -> claimed | cancelled | expired.
 */
export const walletGifts = pgTable(
  'wallet_gifts',
  {
    id: text('id').primaryKey(),
    codeId: text('code_id').notNull(),
    giverId: text('giver_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    status: text('status').notNull().default('pending'),
    message: text('message'),
    expiresAt: tstz('expires_at').notNull(),
    claimedBy: text('claimed_by'),
    claimedAt: tstz('claimed_at'),
    cancelledAt: tstz('cancelled_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('wallet_gifts_token_uq').on(t.tokenHash),
    // One open gift per code: two gifts of the same code cannot both be handed out.
    uniqueIndex('wallet_gifts_pending_code_uq').on(t.codeId).where(sql`status = 'pending'`),
    index('wallet_gifts_giver_idx').on(t.giverId, t.id),
    index('wallet_gifts_pending_expiry_idx').on(t.expiresAt).where(sql`status = 'pending'`),
  ],
);
