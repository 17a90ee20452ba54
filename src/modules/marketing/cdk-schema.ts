import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, createdAt, tstz } from '../../db/columns.js';

/** What one redemption gives: a product (an order paid by the promotion budget), a coupon, promotional balance or points. */
export type CdkReward = { kind: 'product'; sku_id: string; quantity: number } | { kind: 'coupon'; template_id: string } | { kind: 'balance'; amount_fen: number } | { kind: 'points'; points: number };

/** The pattern a batch's codes were generated to (vault/code-pattern.ts). */
export interface StoredPattern {
  prefix?: string;
  charset: string;
  length: number;
  checkDigit?: boolean;
  groupSize?: number;
}

/**
 * A batch of redemption codes (CDK). Its codes are sealed with the batch's own
 * AES data key (itself sealed by the master key ring, AAD = batch id), the
 * vault's envelope scheme, and found by their keyed hash.
 */
export const cdkBatches = pgTable(
  'cdk_batches',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    campaignId: text('campaign_id'),
    reward: jsonb('reward').$type<CdkReward>().notNull(),
    /** 'single' (one redemption per code) | 'multi' (max_redemptions per code, each customer once) */
    mode: text('mode').notNull(),
    maxRedemptions: integer('max_redemptions').notNull(),
    count: integer('count').notNull(),
    pattern: jsonb('pattern').$type<StoredPattern>().notNull(),
    startsAt: tstz('starts_at'),
    expiresAt: tstz('expires_at'),
    /** 'active' | 'voided' */
    status: text('status').notNull(),
    dataKeySealed: bytea('data_key_sealed').notNull(),
    masterKeyId: text('master_key_id').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    voidedAt: tstz('voided_at'),
    voidedBy: text('voided_by'),
    voidReason: text('void_reason'),
  },
  (t) => [index('cdk_batches_campaign_idx').on(t.campaignId)],
);

/** One code: found by its keyed hash, sealed for a clear export, counted as redeemed by a conditional UPDATE. */
export const cdks = pgTable(
  'cdks',
  {
    id: text('id').primaryKey(),
    batchId: text('batch_id')
      .notNull()
      .references(() => cdkBatches.id),
    codeHmac: text('code_hmac').notNull(),
    sealed: bytea('sealed').notNull(),
    /** last 4 characters, for masked views */
    last4: text('last4').notNull(),
    maxRedemptions: integer('max_redemptions').notNull(),
    redeemedCount: integer('redeemed_count').notNull().default(0),
    /** 'active' | 'voided' (a used-up code stays 'active' with redeemed_count = max_redemptions) */
    status: text('status').notNull().default('active'),
    createdAt: createdAt(),
    voidedAt: tstz('voided_at'),
  },
  (t) => [uniqueIndex('cdks_code_hmac_uq').on(t.codeHmac), index('cdks_batch_idx').on(t.batchId, t.id)],
);

/** One successful redemption and what it granted; a customer redeems a code at most once. */
export const cdkRedemptions = pgTable(
  'cdk_redemptions',
  {
    id: text('id').primaryKey(),
    cdkId: text('cdk_id')
      .notNull()
      .references(() => cdks.id),
    batchId: text('batch_id').notNull(),
    customerId: text('customer_id').notNull(),
    rewardKind: text('reward_kind').notNull(),
    /** order id, coupon id, ledger transaction id or points ref */
    rewardRef: text('reward_ref'),
    apiKeyOwner: text('api_key_owner'),
    ip: text('ip'),
    deviceId: text('device_id'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('cdk_redemptions_code_customer_uq').on(t.cdkId, t.customerId), index('cdk_redemptions_batch_idx').on(t.batchId, t.id), index('cdk_redemptions_customer_idx').on(t.customerId)],
);

/** What a referral gives, set by staff (one program for the installation). */
export interface ReferralRewards {
  /** the new customer: a coupon template, promotional balance, or nothing */
  newCustomer: { couponTemplateId?: string; promoFen?: number };
  /** the referrer: promotional balance (an agent's balance / a customer's promo balance) or points (customer referrers) */
  referrer: { promoFen?: number; points?: number };
}

export const referralCdkPrograms = pgTable('referral_cdk_programs', {
  id: text('id').primaryKey(),
  rewards: jsonb('rewards').$type<ReferralRewards>().notNull(),
  perReferrerDailyCap: integer('per_referrer_daily_cap').notNull(),
  perReferrerTotalCap: integer('per_referrer_total_cap').notNull(),
  campaignId: text('campaign_id'),
  enabled: boolean('enabled').notNull(),
  updatedBy: text('updated_by'),
  updatedAt: tstz('updated_at').notNull(),
});

/** A personal referral code (an agent's, or a customer's): a short human code plus a link and a QR poster. */
export const referralCdks = pgTable(
  'referral_cdks',
  {
    id: text('id').primaryKey(),
    code: text('code').notNull(),
    /** 'agent' | 'customer' */
    ownerType: text('owner_type').notNull(),
    ownerId: text('owner_id').notNull(),
    /** 'active' | 'voided' */
    status: text('status').notNull(),
    rewardedCount: integer('rewarded_count').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('referral_cdks_code_uq').on(t.code), uniqueIndex('referral_cdks_owner_active_uq').on(t.ownerType, t.ownerId).where(sql`status = 'active'`)],
);

/** A customer redeemed someone's referral code: once per customer, ever. */
export const referralCdkRedemptions = pgTable(
  'referral_cdk_redemptions',
  {
    id: text('id').primaryKey(),
    referralCdkId: text('referral_cdk_id')
      .notNull()
      .references(() => referralCdks.id),
    referrerType: text('referrer_type').notNull(),
    referrerId: text('referrer_id').notNull(),
    customerId: text('customer_id').notNull(),
    /** the agent the customer is bound to afterwards (null: none) */
    boundAgentId: text('bound_agent_id'),
    /** 'rewarded' | 'not_new' (prior orders or already bound) | 'capped' | 'no_rewards' */
    rewardStatus: text('reward_status').notNull(),
    newCustomerReward: jsonb('new_customer_reward').$type<Record<string, unknown>>(),
    referrerReward: jsonb('referrer_reward').$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('referral_cdk_redemptions_customer_uq').on(t.customerId), index('referral_cdk_redemptions_rfc_idx').on(t.referralCdkId, t.createdAt)],
);
