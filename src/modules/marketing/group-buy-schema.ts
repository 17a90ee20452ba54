import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * A group-buy (拼团) campaign: one SKU sold at a group price to groups of
 * `group_size` customers who fill the group within `duration_minutes`.
 * `groups_opened` is the counter that `max_groups` is checked against in the
 * same conditional UPDATE that opens a group, so the cap holds under races.
 */
export const groupBuyCampaigns = pgTable(
  'group_buy_campaigns',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    skuId: text('sku_id').notNull(),
    groupPriceFen: integer('group_price_fen').notNull(),
    groupSize: integer('group_size').notNull(),
    durationMinutes: integer('duration_minutes').notNull(),
    startsAt: tstz('starts_at').notNull(),
    endsAt: tstz('ends_at').notNull(),
    /** null: no cap on the number of groups */
    maxGroups: integer('max_groups'),
    /** how many groups (seats, in effect) one customer may take in this campaign */
    perCustomerLimit: integer('per_customer_limit').notNull().default(1),
    groupsOpened: integer('groups_opened').notNull().default(0),
    campaignId: text('campaign_id'),
    status: text('status').notNull().default('active'),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    endedAt: tstz('ended_at'),
  },
  (t) => [
    index('group_buy_campaigns_status_idx').on(t.status),
    check('group_buy_campaigns_terms', sql`${t.groupPriceFen} > 0 and ${t.groupSize} between 2 and 100 and ${t.durationMinutes} > 0 and ${t.endsAt} > ${t.startsAt} and ${t.perCustomerLimit} >= 1`),
    check('group_buy_campaigns_groups', sql`${t.maxGroups} is null or ${t.groupsOpened} <= ${t.maxGroups}`),
    check('group_buy_campaigns_status', sql`${t.status} in ('active', 'ended')`),
  ],
);

/**
 * One group. `seats_taken` counts members holding a seat (paid, or with an
 * unpaid order still running); the CHECK is the last line behind the
 * conditional UPDATE that takes a seat: never more than group_size.
 */
export const groupBuyGroups = pgTable(
  'group_buy_groups',
  {
    id: text('id').primaryKey(),
    campaignId: text('campaign_id').notNull(),
    leaderCustomerId: text('leader_customer_id').notNull(),
    /** a group-leader agent who opened it on the customer's behalf (the orders' selling agent) */
    leaderAgentId: text('leader_agent_id'),
    groupSize: integer('group_size').notNull(),
    seatsTaken: integer('seats_taken').notNull(),
    status: text('status').notNull().default('open'),
    expiresAt: tstz('expires_at').notNull(),
    createdAt: createdAt(),
    completedAt: tstz('completed_at'),
    failedAt: tstz('failed_at'),
  },
  (t) => [
    index('group_buy_groups_campaign_idx').on(t.campaignId, t.id),
    index('group_buy_groups_status_expiry_idx').on(t.status, t.expiresAt),
    check('group_buy_groups_seats', sql`${t.seatsTaken} >= 0 and ${t.seatsTaken} <= ${t.groupSize}`),
    check('group_buy_groups_status', sql`${t.status} in ('open', 'completed', 'failed')`),
  ],
);

/**
 * A member's seat and the order that pays for it. status: pending_payment
 * (seat held by an unpaid order), paid (waiting for the group), released
 * (group completed, order handed its codes), refunded (group failed),
 * cancelled (unpaid order cancelled: seat freed), refund_due (paid after
 * its seat was given up, and no seat left: refunded by the expiry job).
 */
export const groupBuyMembers = pgTable(
  'group_buy_members',
  {
    groupId: text('group_id').notNull(),
    orderId: text('order_id').notNull(),
    campaignId: text('campaign_id').notNull(),
    customerId: text('customer_id').notNull(),
    isLeader: boolean('is_leader').notNull().default(false),
    paidByBalance: boolean('paid_by_balance').notNull(),
    status: text('status').notNull(),
    joinedAt: tstz('joined_at').notNull(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.orderId] }),
    uniqueIndex('group_buy_members_order_idx').on(t.orderId),
    // One seat per customer per group; a cancelled (unpaid) or refunded one may be taken again.
    uniqueIndex('group_buy_members_one_seat_idx').on(t.groupId, t.customerId).where(sql`${t.status} in ('pending_payment', 'paid', 'released')`),
    index('group_buy_members_customer_idx').on(t.campaignId, t.customerId),
    check('group_buy_members_status', sql`${t.status} in ('pending_payment', 'paid', 'released', 'refund_due', 'refunded', 'cancelled')`),
  ],
);
