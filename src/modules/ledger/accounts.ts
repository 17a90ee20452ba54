/**
 * The chart of accounts. Platform accounts may go negative (they are the
 * platform's side of every movement); accounts held for customers and agents
 * are guarded: their balance can never go below zero.
 *
 * Sign: an entry's amount is added to the account. Money owed to others and
 * income are positive; money held and costs are negative. Every transaction
 * sums to zero.
 */
export interface AccountSpec {
  id: string;
  kind: string;
  ownerType: 'platform' | 'customer' | 'agent' | 'supplier';
  ownerId: string | null;
  allowNegative: boolean;
}

const platform = (kind: string): AccountSpec => ({ id: `platform:${kind}`, kind, ownerType: 'platform', ownerId: null, allowNegative: true });

export const accounts = {
  /** money received through payment providers and paid out (negative = held) */
  cash: platform('cash'),
  revenue: platform('revenue'),
  costOfGoods: platform('cost_of_goods'),
  /** what the platform owes suppliers for codes sold (positive = owed) */
  supplierPayable: platform('supplier_payable'),
  promotionExpense: platform('promotion_expense'),
  /** refunds booked and owed to buyers, until the payment provider confirms it paid them back (positive = owed) */
  refundsPayable: platform('refunds_payable'),
  commissionExpense: platform('commission_expense'),
  /** agents' commission on its way out: requested withdrawals not yet paid or rejected (positive = owed) */
  withdrawalsPending: platform('withdrawals_pending'),
  /** fees kept on paid withdrawals (income, positive) */
  withdrawalFees: platform('withdrawal_fees'),
  customerBalance: (customerId: string): AccountSpec => ({ id: `customer:${customerId}:balance`, kind: 'customer_balance', ownerType: 'customer', ownerId: customerId, allowNegative: false }),
  /** promotional balance (bonuses): spendable, never withdrawable */
  customerPromo: (customerId: string): AccountSpec => ({ id: `customer:${customerId}:promo`, kind: 'customer_promo', ownerType: 'customer', ownerId: customerId, allowNegative: false }),
  agentBalance: (agentId: string): AccountSpec => ({ id: `agent:${agentId}:balance`, kind: 'agent_balance', ownerType: 'agent', ownerId: agentId, allowNegative: false }),
  commissionPending: (agentId: string): AccountSpec => ({ id: `agent:${agentId}:commission_pending`, kind: 'commission_pending', ownerType: 'agent', ownerId: agentId, allowNegative: false }),
  commissionAvailable: (agentId: string): AccountSpec => ({ id: `agent:${agentId}:commission_available`, kind: 'commission_available', ownerType: 'agent', ownerId: agentId, allowNegative: false }),
} as const;

export interface Posting {
  account: AccountSpec;
  amountFen: number;
}

/** A transaction's postings must be whole fen, non-zero, and sum to zero. Pure; the database checks again at commit. */
export function checkPostings(postings: Posting[]): string | null {
  if (postings.length < 2) return 'a transaction needs at least two entries';
  let sum = 0;
  for (const p of postings) {
    if (!Number.isSafeInteger(p.amountFen)) return `amount for ${p.account.id} is not a whole number of fen`;
    if (p.amountFen === 0) return `zero amount for ${p.account.id}`;
    sum += p.amountFen;
  }
  return sum === 0 ? null : `entries sum to ${sum}, not 0`;
}
