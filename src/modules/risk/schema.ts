import { sql } from 'drizzle-orm';
import { bigint, boolean, check, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';

/**
 * Risk rules are data: a JSON condition (risk-rules.ts) edited at runtime by
 * the risk role. Every save makes a new version; risk_rule_versions keeps each
 * version as it was (rows are only ever inserted), so a decision's
 * rule_versions always point at the exact text that decided it.
 */
export const riskRules = pgTable(
  'risk_rules',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    action: text('action').notNull(),
    mode: text('mode').notNull().default('enforce'),
    condition: jsonb('condition').notNull(),
    appliesTo: text('applies_to').array().notNull(),
    enabled: boolean('enabled').notNull().default(true),
    version: integer('version').notNull().default(1),
    /** Name of a built-in template this rule was seeded from (seeding is idempotent on it). */
    template: text('template'),
    updatedBy: text('updated_by'),
    updatedAt: tstz('updated_at').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    // One rule per built-in template, even when two instances seed at the same first start.
    uniqueIndex('risk_rules_template_uniq').on(t.template),
    check('risk_rules_action', sql`${t.action} in ('allow', 'block', 'review', 'challenge')`),
    check('risk_rules_mode', sql`${t.mode} in ('enforce', 'shadow')`),
    check('risk_rules_version', sql`${t.version} >= 1`),
  ],
);

export const riskRuleVersions = pgTable(
  'risk_rule_versions',
  {
    ruleId: text('rule_id')
      .notNull()
      .references(() => riskRules.id),
    version: integer('version').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull(),
    action: text('action').notNull(),
    mode: text('mode').notNull(),
    condition: jsonb('condition').notNull(),
    appliesTo: text('applies_to').array().notNull(),
    enabled: boolean('enabled').notNull(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.ruleId, t.version] })],
);

export const riskListEntries = pgTable(
  'risk_list_entries',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    value: text('value').notNull(),
    reason: text('reason').notNull().default(''),
    expiresAt: tstz('expires_at'),
    createdBy: text('created_by'),
    createdAt: createdAt(),
  },
  (t) => [
    index('risk_list_entries_type_value_idx').on(t.type, t.value),
    check('risk_list_entries_type', sql`${t.type} in ('ip', 'cidr', 'device', 'phone_hash', 'openid', 'telegram_id', 'account')`),
  ],
);

export const riskDevices = pgTable('risk_devices', {
  deviceId: text('device_id').primaryKey(),
  firstSeen: tstz('first_seen').notNull(),
  lastSeen: tstz('last_seen').notNull(),
  signals: jsonb('signals').notNull().default({}),
});

/** Who and what a device was seen with; written in batches (service.ts), so counts lag the Redis counters by up to a flush. */
export const riskDeviceLinks = pgTable(
  'risk_device_links',
  {
    deviceId: text('device_id').notNull(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    firstSeen: tstz('first_seen').notNull(),
    lastSeen: tstz('last_seen').notNull(),
    hits: bigint('hits', { mode: 'number' }).notNull().default(1),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.subjectType, t.subjectId] }),
    index('risk_device_links_subject_idx').on(t.subjectType, t.subjectId),
    check('risk_device_links_subject_type', sql`${t.subjectType} in ('account', 'phone_hash', 'ip')`),
  ],
);

/** One row per gate decision: the features it saw, its reasons, and later a label (fraud / legit) for training and backtests. */
export const riskDecisions = pgTable(
  'risk_decisions',
  {
    id: text('id').primaryKey(),
    action: text('action').notNull(),
    /** "customer:cus_..." / "agent:agt_..." / "staff:usr_..."; null when anonymous. */
    subject: text('subject'),
    ip: text('ip').notNull(),
    device: text('device'),
    decision: text('decision').notNull(),
    reasons: jsonb('reasons').notNull(),
    shadowMatches: jsonb('shadow_matches').notNull().default([]),
    features: jsonb('features').notNull(),
    score: doublePrecision('score'),
    ruleVersions: jsonb('rule_versions').notNull().default({}),
    label: text('label'),
    labelledBy: text('labelled_by'),
    labelledAt: tstz('labelled_at'),
    createdAt: createdAt(),
  },
  (t) => [
    index('risk_decisions_decision_idx').on(t.decision),
    index('risk_decisions_subject_idx').on(t.subject),
    check('risk_decisions_decision', sql`${t.decision} in ('allow', 'block', 'review', 'challenge')`),
    check('risk_decisions_label', sql`${t.label} is null or ${t.label} in ('fraud', 'legit')`),
  ],
);

/**
 * Held orders and withdrawals waiting for a person (reviews.ts). The owning
 * module holds the subject (an order held_for_review, a withdrawal with
 * risk_hold); a decision here calls back into it and labels the decision.
 */
export const riskReviews = pgTable(
  'risk_reviews',
  {
    id: text('id').primaryKey(),
    subjectType: text('subject_type').notNull(),
    subjectId: text('subject_id').notNull(),
    decisionId: text('decision_id').notNull(),
    status: text('status').notNull().default('open'),
    reason: text('reason'),
    decidedBy: text('decided_by'),
    decidedAt: tstz('decided_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('risk_reviews_subject_uniq').on(t.subjectType, t.subjectId),
    index('risk_reviews_status_idx').on(t.status, t.id),
    check('risk_reviews_subject_type', sql`${t.subjectType} in ('order', 'withdrawal')`),
    check('risk_reviews_status', sql`${t.status} in ('open', 'approved', 'rejected')`),
  ],
);

/**
 * Staff members stopped from revealing and exporting codes because they
 * revealed or exported far more than usual (staff-risk.ts). At most one open
 * block per staff member; lifting keeps the row (who, when) as history.
 */
export const riskStaffBlocks = pgTable(
  'risk_staff_blocks',
  {
    id: text('id').primaryKey(),
    staffId: text('staff_id').notNull(),
    /** What crossed the block threshold: reveal or export. */
    kind: text('kind').notNull(),
    count: integer('count').notNull(),
    threshold: integer('threshold').notNull(),
    blockedAt: tstz('blocked_at').notNull(),
    liftedAt: tstz('lifted_at'),
    liftedBy: text('lifted_by'),
    liftReason: text('lift_reason'),
  },
  (t) => [uniqueIndex('risk_staff_blocks_open_uq').on(t.staffId).where(sql`lifted_at is null`), check('risk_staff_blocks_kind', sql`${t.kind} in ('reveal', 'export')`)],
);
