import { index, integer, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt } from '../../db/columns.js';
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
