import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, tstz } from '../../db/columns.js';
import type { LevelRule } from './rules.js';

/** A named commission rule for a scope (everything, one product, or one category); its rules live in versions. */
export const commissionRuleSets = pgTable('commission_rule_sets', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** all | product | category */
  scopeType: text('scope_type').notNull(),
  /** the product id or category name; null for 'all' */
  scopeValue: text('scope_value'),
  createdBy: text('created_by'),
  createdAt: createdAt(),
});

/** Append-only (a trigger refuses UPDATE and DELETE): a commission row names the version it was computed with. */
export const commissionRuleVersions = pgTable(
  'commission_rule_versions',
  {
    id: text('id').primaryKey(),
    ruleSetId: text('rule_set_id')
      .notNull()
      .references(() => commissionRuleSets.id),
    version: integer('version').notNull(),
    maxLevels: integer('max_levels').notNull(),
    levels: jsonb('levels').$type<LevelRule[]>().notNull(),
    createdBy: text('created_by'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('commission_rule_versions_set_version_idx').on(t.ruleSetId, t.version)],
);

/**
 * What one agent earns on one order at one level. pending until available_at,
 * then available; refunds reverse it in proportion (reversed_fen), and what an
 * agent already withdrew is recorded as clawback_due_fen rather than driving
 * its guarded balance negative; later earnings (settlement) pay it back,
 * moving it from clawback_due_fen to reversed_fen.
 */
export const commissions = pgTable(
  'commissions',
  {
    id: text('id').primaryKey(),
    orderId: text('order_id').notNull(),
    agentId: text('agent_id').notNull(),
    level: integer('level').notNull(),
    amountFen: integer('amount_fen').notNull(),
    ruleVersionId: text('rule_version_id')
      .notNull()
      .references(() => commissionRuleVersions.id),
    capped: boolean('capped').notNull().default(false),
    /** pending | available | reversed */
    status: text('status').notNull(),
    /** the order's refunds so far (fen), as reported to reverse(): the reversal is proportional to it */
    orderRefundedFen: integer('order_refunded_fen').notNull().default(0),
    reversedFen: integer('reversed_fen').notNull().default(0),
    clawbackDueFen: integer('clawback_due_fen').notNull().default(0),
    availableAt: tstz('available_at').notNull(),
    settledAt: tstz('settled_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('commissions_order_level_idx').on(t.orderId, t.level),
    index('commissions_agent_idx').on(t.agentId, t.status),
    index('commissions_due_idx').on(t.status, t.availableAt),
    // The settlement job looks for every agent still owing clawback: few rows, found without a scan.
    index('commissions_clawback_idx').on(t.agentId, t.createdAt).where(sql`${t.clawbackDueFen} > 0`),
    check('commissions_reversal_amounts', sql`${t.reversedFen} >= 0 and ${t.clawbackDueFen} >= 0 and ${t.reversedFen} + ${t.clawbackDueFen} <= ${t.amountFen}`),
  ],
);

/**
 * One row per delivered order the accrual job has handled (with or without
 * commissions): the job finds orders without one, and a second run or a
 * second instance cannot accrue an order twice (primary key).
 */
export const commissionAccruals = pgTable('commission_accruals', {
  orderId: text('order_id').primaryKey(),
  totalFen: integer('total_fen').notNull(),
  ruleVersionId: text('rule_version_id'),
  createdAt: createdAt(),
});
