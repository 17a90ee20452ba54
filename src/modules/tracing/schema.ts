import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { createdAt } from '../../db/columns.js';

/** Codes staff found outside (a marketplace listing): which order and agent chain they came from. */
export const leakReports = pgTable(
  'leak_reports',
  {
    id: text('id').primaryKey(),
    codeId: text('code_id').notNull(),
    orderId: text('order_id'),
    /** The agent that sold it (level 1 of the chain), if any. */
    sellerAgentId: text('seller_agent_id'),
    /** The whole chain at report time, nearest first. */
    chain: text('chain').notNull(),
    source: text('source'),
    reportedBy: text('reported_by').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('leak_reports_seller_idx').on(t.sellerAgentId, t.createdAt), index('leak_reports_code_idx').on(t.codeId)],
);
