import { sql } from 'drizzle-orm';
import { bigint, check, index, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

export const campaignKinds = ['coupon', 'cdk', 'flash_sale', 'group_buy', 'fission', 'recharge', 'points', 'referral', 'general'] as const;
export type CampaignKind = (typeof campaignKinds)[number];
export const campaignStatuses = ['active', 'ended'] as const;

/**
 * A marketing campaign: the name every marketing object (coupon template, CDK
 * batch, flash sale...) carries as campaign_id, so the ROI report can add up
 * what a campaign cost (discounts, promotion expense) against what it sold.
 */
export const campaigns = pgTable(
  'campaigns',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    /** What the campaign may cost in fen, all tools together; null: no cap at the campaign level. */
    budgetFen: bigint('budget_fen', { mode: 'number' }),
    startsAt: tstz('starts_at').notNull(),
    endsAt: tstz('ends_at'),
    status: text('status').notNull().default('active'),
    createdBy: text('created_by'),
    createdAt: createdAt(),
  },
  (t) => [
    index('campaigns_kind_idx').on(t.kind),
    check('campaigns_kind', sql`${t.kind} in ('coupon', 'cdk', 'flash_sale', 'group_buy', 'fission', 'recharge', 'points', 'referral', 'general')`),
    check('campaigns_status', sql`${t.status} in ('active', 'ended')`),
    check('campaigns_budget', sql`${t.budgetFen} is null or ${t.budgetFen} > 0`),
    check('campaigns_window', sql`${t.endsAt} is null or ${t.endsAt} > ${t.startsAt}`),
  ],
);
