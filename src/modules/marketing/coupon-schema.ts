import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';
import { customers } from '../customers/schema.js';

/**
 * What a coupon is worth and who may have it. The counters (issued, used,
 * spent) live on the template and are moved only by conditional UPDATEs
 * (issued_count < total_limit, spent_fen + discount <= budget_fen), so many
 * claims or orders at once can never overshoot; the CHECKs are the backstop.
 */
export const couponTemplates = pgTable(
  'coupon_templates',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    /** fixed: amount_off_fen; percent: percent_off_bps (optionally capped by max_off_fen); threshold (满减): amount_off_fen once the order reaches min_amount_fen */
    kind: text('kind').notNull(),
    amountOffFen: integer('amount_off_fen'),
    percentOffBps: integer('percent_off_bps'),
    maxOffFen: integer('max_off_fen'),
    minAmountFen: integer('min_amount_fen').notNull().default(0),
    /** all | products | categories | skus; scope_ids holds the product ids, category names or SKU ids */
    scope: text('scope').notNull().default('all'),
    scopeIds: jsonb('scope_ids').$type<string[]>().notNull().default([]),
    /** Claims (and, without valid_days, use) are allowed within [valid_from, valid_until). */
    validFrom: tstz('valid_from'),
    validUntil: tstz('valid_until'),
    /** Relative validity: a coupon is usable this many days after it was issued (never past valid_until). */
    validDays: integer('valid_days'),
    perUserLimit: integer('per_user_limit').notNull().default(1),
    totalLimit: integer('total_limit'),
    budgetFen: bigint('budget_fen', { mode: 'number' }),
    issuedCount: integer('issued_count').notNull().default(0),
    usedCount: integer('used_count').notNull().default(0),
    spentFen: bigint('spent_fen', { mode: 'number' }).notNull().default(0),
    /** May it be used on an order priced by an offer (flash sale, group buy...)? One coupon per order always. */
    stackableWithOffers: boolean('stackable_with_offers').notNull().default(false),
    /** Customers may claim it themselves; otherwise it is only granted (staff, CDK, referral, new-user pack). */
    claimable: boolean('claimable').notNull().default(false),
    newUserPack: boolean('new_user_pack').notNull().default(false),
    campaignId: text('campaign_id'),
    /** active | paused: a paused template issues nothing; coupons already issued stay usable */
    status: text('status').notNull().default('active'),
    createdBy: text('created_by'),
    createdAt: createdAt(),
    updatedAt: tstz('updated_at').notNull(),
  },
  (t) => [
    index('coupon_templates_new_user_idx').on(t.newUserPack, t.status),
    index('coupon_templates_campaign_idx').on(t.campaignId),
    check('coupon_templates_kind', sql`${t.kind} in ('fixed', 'percent', 'threshold')`),
    check('coupon_templates_scope', sql`${t.scope} in ('all', 'products', 'categories', 'skus')`),
    check('coupon_templates_status', sql`${t.status} in ('active', 'paused')`),
    check('coupon_templates_issued', sql`${t.issuedCount} >= 0 and (${t.totalLimit} is null or ${t.issuedCount} <= ${t.totalLimit})`),
    check('coupon_templates_used', sql`${t.usedCount} >= 0 and ${t.usedCount} <= ${t.issuedCount}`),
    check('coupon_templates_spent', sql`${t.spentFen} >= 0 and (${t.budgetFen} is null or ${t.spentFen} <= ${t.budgetFen})`),
  ],
);

/**
 * One coupon in a customer's hands. available -> used (by one order, in the
 * order's transaction) -> available again if that order is cancelled unpaid;
 * expired past valid_until; void when staff withdraw it.
 */
export const customerCoupons = pgTable(
  'customer_coupons',
  {
    id: text('id').primaryKey(),
    templateId: text('template_id')
      .notNull()
      .references(() => couponTemplates.id),
    customerId: text('customer_id')
      .notNull()
      .references(() => customers.id),
    state: text('state').notNull().default('available'),
    validFrom: tstz('valid_from').notNull(),
    validUntil: tstz('valid_until').notNull(),
    /** How it was issued (claim, grant, new_user_pack, cdk, referral, fission, points...) and the object that issued it. */
    source: text('source').notNull(),
    sourceRef: text('source_ref').notNull(),
    orderId: text('order_id'),
    discountFen: integer('discount_fen'),
    usedAt: tstz('used_at'),
    campaignId: text('campaign_id'),
    createdAt: createdAt(),
  },
  (t) => [
    // The same issuing event never gives the same customer the same template twice (retries, races).
    uniqueIndex('customer_coupons_source_uq').on(t.templateId, t.source, t.sourceRef, t.customerId),
    index('customer_coupons_customer_idx').on(t.customerId, t.state),
    index('customer_coupons_template_customer_idx').on(t.templateId, t.customerId),
    uniqueIndex('customer_coupons_order_uq').on(t.orderId),
    check('customer_coupons_state', sql`${t.state} in ('available', 'used', 'expired', 'void')`),
    check('customer_coupons_used', sql`(${t.state} = 'used') = (${t.orderId} is not null)`),
  ],
);
