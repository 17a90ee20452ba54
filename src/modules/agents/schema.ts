import { index, integer, jsonb, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import { bytea, createdAt, tstz } from '../../db/columns.js';
import { customers } from '../customers/schema.js';

/** Platform -> distributors -> sub-agents -> group leaders, any depth. */
export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    parentId: text('parent_id'),
    depth: integer('depth').notNull(),
    /** Ids from the root down to this agent, '/'-separated: a whole downline is one prefix query. */
    path: text('path').notNull(),
    referralCode: text('referral_code').notNull().unique(),
    status: text('status').notNull().default('active'),
    customerId: text('customer_id').references(() => customers.id),
    createdAt: createdAt(),
  },
  (t) => [index('agents_parent_idx').on(t.parentId), index('agents_path_idx').on(t.path)],
);

/** Signals an applicant shares with its upline (see join.ts): a possible self-referral. */
export interface ApplicationFlags {
  self_referral?: { signals: ('phone' | 'ip' | 'device')[]; stage: 'application' | 'approval' };
}

/**
 * Applications to join under an upline through its invitation link or
 * referral code. The phone is sealed like a customer's (customers/phone.ts)
 * and found by its keyed hash; one pending application per phone and upline.
 */
export const agentApplications = pgTable(
  'agent_applications',
  {
    id: text('id').primaryKey(),
    uplineId: text('upline_id')
      .notNull()
      .references(() => agents.id),
    name: text('name').notNull(),
    phoneSealed: bytea('phone_sealed').notNull(),
    phoneKeyId: text('phone_key_id').notNull(),
    phoneHash: text('phone_hash').notNull(),
    phoneMasked: text('phone_masked').notNull(),
    identityProvider: text('identity_provider'),
    identityExternalId: text('identity_external_id'),
    ip: text('ip'),
    deviceId: text('device_id'),
    status: text('status').notNull().default('pending'),
    /** 'agent:agt_…', 'staff:usr_…' or 'system' (auto-approval). */
    decidedBy: text('decided_by'),
    decidedAt: tstz('decided_at'),
    reason: text('reason'),
    agentId: text('agent_id').references(() => agents.id),
    flags: jsonb('flags').$type<ApplicationFlags>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [
    index('agent_applications_upline_idx').on(t.uplineId, t.status),
    index('agent_applications_agent_idx').on(t.agentId),
    uniqueIndex('agent_applications_pending_uq').on(t.uplineId, t.phoneHash).where(sql`status = 'pending'`),
  ],
);

/**
 * Which agent a customer is attributed to (one row per customer). The rules
 * (first or last touch, expiry) are in binding-rules.ts; a frozen agent's
 * binding does not count.
 */
export const referralBindings = pgTable(
  'referral_bindings',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id')
      .notNull()
      .unique()
      .references(() => customers.id),
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id),
    source: text('source').notNull(),
    boundAt: tstz('bound_at').notNull(),
    /** null: never expires (REFERRAL_BINDING_DAYS=0). */
    expiresAt: tstz('expires_at'),
  },
  (t) => [index('referral_bindings_agent_idx').on(t.agentId)],
);

/**
 * What an agent may sell: SKUs and categories (the products' category). An agent without rows inherits its
 * upline's scope; every agent on the chain that has rows must cover a SKU for the agent to sell it.
 */
export const agentProductScopes = pgTable(
  'agent_product_scopes',
  {
    agentId: text('agent_id')
      .notNull()
      .references(() => agents.id),
    /** 'sku' | 'category' */
    scopeType: text('scope_type').notNull(),
    refId: text('ref_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentId, t.scopeType, t.refId] })],
);
