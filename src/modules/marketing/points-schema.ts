import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

// ---- points (积分) ----

/**
 * The points ledger: append-only entries per customer. An earning entry is a
 * lot: it carries its expiry and what is left of it (`remaining`); spends,
 * expiries and reversals are negative entries and consume lots oldest first.
 * The sum of a customer's entries equals the sum of its lots' remaining.
 * (ref_type, ref_id, reason) is unique: every award and spend happens once.
 */
export const pointsEntries = pgTable(
  'points_entries',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    /** earn | spend | expire | reverse | adjust */
    kind: text('kind').notNull(),
    points: integer('points').notNull(),
    /** earning lots only: what has not been spent, expired or reversed yet */
    remaining: integer('remaining').notNull().default(0),
    expiresAt: tstz('expires_at'),
    reason: text('reason').notNull(),
    refType: text('ref_type').notNull(),
    refId: text('ref_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('points_entries_ref_uq').on(t.refType, t.refId, t.reason),
    index('points_entries_customer_idx').on(t.customerId, t.id),
    index('points_entries_lots_idx').on(t.customerId, t.expiresAt).where(sql`${t.remaining} > 0`),
    check('points_entries_remaining_ok', sql`${t.remaining} >= 0 and ${t.remaining} <= greatest(${t.points}, 0)`),
  ],
);

/** One row per customer with points: the lock that queues a customer's spends, expiries and reversals. */
export const pointsWallets = pgTable('points_wallets', {
  customerId: text('customer_id').primaryKey(),
  createdAt: createdAt(),
});

/** Delivered orders the earning job has handled: what it awarded and how much of it refunds took back. */
export const pointsOrderAwards = pgTable('points_order_awards', {
  orderId: text('order_id').primaryKey(),
  customerId: text('customer_id').notNull(),
  amountFen: integer('amount_fen').notNull(),
  awarded: integer('awarded').notNull(),
  refundedFenSeen: integer('refunded_fen_seen').notNull().default(0),
  reversed: integer('reversed').notNull().default(0),
  /** points a refund should have taken back but the customer had already spent */
  shortfall: integer('shortfall').notNull().default(0),
  createdAt: createdAt(),
  updatedAt: tstz('updated_at').notNull(),
});

/** The exchange catalogue (积分兑换): a SKU or a coupon template for a points price, optionally limited in stock. */
export const pointsExchangeItems = pgTable(
  'points_exchange_items',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** sku | coupon */
    kind: text('kind').notNull(),
    skuId: text('sku_id'),
    couponTemplateId: text('coupon_template_id'),
    pointsPrice: integer('points_price').notNull(),
    stockLimit: integer('stock_limit'),
    exchangedCount: integer('exchanged_count').notNull().default(0),
    /** active | inactive */
    status: text('status').notNull(),
    campaignId: text('campaign_id'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [check('points_exchange_items_stock_ok', sql`${t.stockLimit} is null or ${t.exchangedCount} <= ${t.stockLimit}`)],
);

export const pointsExchanges = pgTable(
  'points_exchanges',
  {
    id: text('id').primaryKey(),
    itemId: text('item_id').notNull(),
    customerId: text('customer_id').notNull(),
    points: integer('points').notNull(),
    orderId: text('order_id'),
    couponId: text('coupon_id'),
    createdAt: createdAt(),
  },
  (t) => [index('points_exchanges_customer_idx').on(t.customerId, t.id)],
);

// ---- recharge bonuses (充值满赠) ----

export interface RechargeTier {
  min_fen: number;
  bonus_fen: number;
}

export const rechargeBonusRules = pgTable('recharge_bonus_rules', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  campaignId: text('campaign_id'),
  tiers: jsonb('tiers').$type<RechargeTier[]>().notNull(),
  startsAt: tstz('starts_at').notNull(),
  endsAt: tstz('ends_at'),
  /** how many recharges of one customer earn a bonus under this rule (null: no limit) */
  perCustomerLimit: integer('per_customer_limit'),
  /** active | ended */
  status: text('status').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
});

export const recharges = pgTable(
  'recharges',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    amountFen: integer('amount_fen').notNull(),
    bonusFen: integer('bonus_fen').notNull(),
    ruleId: text('rule_id'),
    campaignId: text('campaign_id'),
    /** staff (a confirmed payment recorded by finance) */
    source: text('source').notNull(),
    reference: text('reference').notNull(),
    recordedBy: text('recorded_by').notNull(),
    ledgerTransactionId: text('ledger_transaction_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('recharges_customer_rule_idx').on(t.customerId, t.ruleId)],
);

// ---- fission red packets (裂变红包) ----

/** A fission offer: what a packet pays and what it takes (K new friends within T hours). */
export const fissionCampaigns = pgTable('fission_campaigns', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  campaignId: text('campaign_id'),
  /** promo (fen of promotional balance) | points */
  rewardKind: text('reward_kind').notNull(),
  rewardAmount: integer('reward_amount').notNull(),
  friendsNeeded: integer('friends_needed').notNull(),
  hours: integer('hours').notNull(),
  /** points each counted friend gets (0: none) */
  consolationPoints: integer('consolation_points').notNull().default(0),
  perCustomerLimit: integer('per_customer_limit').notNull(),
  /** in reward units; packets reserve their reward when started, expiry gives it back */
  budget: integer('budget'),
  committed: integer('committed').notNull().default(0),
  startsAt: tstz('starts_at').notNull(),
  endsAt: tstz('ends_at'),
  status: text('status').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
});

export const fissionPackets = pgTable(
  'fission_packets',
  {
    id: text('id').primaryKey(),
    fissionCampaignId: text('fission_campaign_id').notNull(),
    campaignId: text('campaign_id'),
    customerId: text('customer_id').notNull(),
    sharerDeviceId: text('sharer_device_id'),
    sharerPhoneHash: text('sharer_phone_hash'),
    rewardKind: text('reward_kind').notNull(),
    rewardAmount: integer('reward_amount').notNull(),
    friendsNeeded: integer('friends_needed').notNull(),
    openedCount: integer('opened_count').notNull().default(0),
    /** open | unlocked | expired */
    status: text('status').notNull(),
    expiresAt: tstz('expires_at').notNull(),
    unlockedAt: tstz('unlocked_at'),
    createdAt: createdAt(),
  },
  (t) => [index('fission_packets_customer_idx').on(t.customerId, t.fissionCampaignId), index('fission_packets_open_idx').on(t.status, t.expiresAt)],
);

/** Friends counted on packets: a friend counts once per fission campaign (unique). */
export const fissionOpens = pgTable(
  'fission_opens',
  {
    id: text('id').primaryKey(),
    packetId: text('packet_id').notNull(),
    fissionCampaignId: text('fission_campaign_id').notNull(),
    friendCustomerId: text('friend_customer_id').notNull(),
    deviceId: text('device_id'),
    ip: text('ip'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('fission_opens_friend_uq').on(t.fissionCampaignId, t.friendCustomerId), index('fission_opens_packet_idx').on(t.packetId)],
);
