import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * Double-entry ledger in integer fen. An account's balance is the sum of its
 * entries (cached in balance_fen, checked by `npm run ledger:verify`); every
 * transaction's entries sum to zero, enforced by a deferred constraint
 * trigger at commit; entries are immutable; accounts that must not go
 * negative say so and a CHECK enforces it.
 *
 * Sign convention: an entry's amount is added to its account's balance.
 * Money the platform holds for others (customer and agent balances, payables)
 * is positive; the platform's own cash account goes negative as it receives
 * money (it is the counterpart of what it owes and earns).
 */
export const ledgerAccounts = pgTable('ledger_accounts', {
  /** readable and stable: "platform:cash", "customer:cus_…:balance", "agent:agt_…:commission_pending" */
  id: text('id').primaryKey(),
  kind: text('kind').notNull(),
  ownerType: text('owner_type').notNull(),
  ownerId: text('owner_id'),
  allowNegative: boolean('allow_negative').notNull(),
  balanceFen: bigint('balance_fen', { mode: 'number' }).notNull().default(0),
  createdAt: createdAt(),
  updatedAt: tstz('updated_at'),
});

export const ledgerTransactions = pgTable(
  'ledger_transactions',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    refType: text('ref_type'),
    refId: text('ref_id'),
    memo: text('memo'),
    /** The marketing campaign the money moved for (bonuses, rewards, promotion-paid orders): campaign ROI sums by it. */
    campaignId: text('campaign_id'),
    createdAt: createdAt(),
  },
  (t) => [index('ledger_transactions_ref_idx').on(t.refType, t.refId), index('ledger_transactions_campaign_idx').on(t.campaignId).where(sql`campaign_id is not null`)],
);

export const ledgerEntries = pgTable(
  'ledger_entries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    transactionId: text('transaction_id')
      .notNull()
      .references(() => ledgerTransactions.id),
    accountId: text('account_id')
      .notNull()
      .references(() => ledgerAccounts.id),
    amountFen: bigint('amount_fen', { mode: 'number' }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('ledger_entries_tx_idx').on(t.transactionId), index('ledger_entries_account_idx').on(t.accountId)],
);
