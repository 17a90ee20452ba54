import { bigint, bigserial, date, doublePrecision, index, integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { tstz } from '../../db/columns.js';

/**
 * Analytics is a read model: these tables are derived from the orders and
 * rebuilt from them at any time; nothing else writes them.
 *
 * Changes of orders, queued by a database trigger on `orders` (migration
 * 0018) in the transaction that changed the order: a row exists exactly when
 * that change committed, so the applier (rollups, live events) never sees a
 * rolled-back order and never misses a committed one, whatever the commit order.
 */
export const analyticsOrderChanges = pgTable('analytics_order_changes', {
  seq: bigserial('seq', { mode: 'number' }).primaryKey(),
  orderId: text('order_id').notNull(),
  oldStatus: text('old_status'),
  newStatus: text('new_status').notNull(),
  refundedDeltaFen: integer('refunded_delta_fen').notNull().default(0),
  changedAt: tstz('changed_at').notNull(),
});

/** What one paid order last contributed to the rollups, so a later change applies only its difference. */
export const analyticsOrderFacts = pgTable('analytics_order_facts', {
  orderId: text('order_id').primaryKey(),
  day: date('day', { mode: 'string' }).notNull(),
  skuId: text('sku_id').notNull(),
  agentId: text('agent_id').notNull(),
  channel: text('channel').notNull(),
  supplierId: text('supplier_id').notNull(),
  units: integer('units').notNull(),
  gmvFen: integer('gmv_fen').notNull(),
  unitCostFen: integer('unit_cost_fen').notNull(),
  costFen: integer('cost_fen').notNull(),
  refundsFen: integer('refunds_fen').notNull(),
});

/** The sums every sales rollup keeps (fresh column builders per table, as drizzle needs). */
const salesSums = () => ({
  orders: integer('orders').notNull(),
  units: integer('units').notNull(),
  gmvFen: bigint('gmv_fen', { mode: 'number' }).notNull(),
  costFen: bigint('cost_fen', { mode: 'number' }).notNull(),
  refundsFen: bigint('refunds_fen', { mode: 'number' }).notNull(),
});
/** What the daily and monthly sales rollups are keyed by besides the date: SKU, channel, primary supplier. */
const salesDimensions = () => ({
  skuId: text('sku_id').notNull(),
  channel: text('channel').notNull(),
  supplierId: text('supplier_id').notNull(),
});

/**
 * Sales per report day (REPORT_TIMEZONE) of the payment, SKU, channel and
 * primary supplier ('' for none). Refunds and the cost they give back count
 * on the day of the sale they undo, so a day's figures are those of the
 * orders paid that day.
 */
export const salesDaily = pgTable(
  'sales_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    ...salesDimensions(),
    ...salesSums(),
  },
  (t) => [primaryKey({ columns: [t.day, t.skuId, t.channel, t.supplierId] }), index('sales_daily_sku_day_idx').on(t.skuId, t.day)],
);

/** The same per day and selling agent (orders without an agent are left out), for the leaderboard. */
export const agentSalesDaily = pgTable(
  'agent_sales_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    agentId: text('agent_id').notNull(),
    ...salesSums(),
  },
  (t) => [primaryKey({ columns: [t.day, t.agentId] })],
);

/** sales_daily summed per month (first day of the month): long ranges read whole months here and only their edge days there. */
export const salesMonthly = pgTable(
  'sales_monthly',
  {
    month: date('month', { mode: 'string' }).notNull(),
    ...salesDimensions(),
    ...salesSums(),
  },
  (t) => [primaryKey({ columns: [t.month, t.skuId, t.channel, t.supplierId] })],
);

/** One row per day: the charts' daily series. */
export const salesDays = pgTable('sales_days', {
  day: date('day', { mode: 'string' }).primaryKey(),
  ...salesSums(),
});

/** agent_sales_daily summed per month. */
export const agentSalesMonthly = pgTable(
  'agent_sales_monthly',
  {
    month: date('month', { mode: 'string' }).notNull(),
    agentId: text('agent_id').notNull(),
    ...salesSums(),
  },
  (t) => [primaryKey({ columns: [t.month, t.agentId] })],
);

/** Customers per cohort (week or month of their first paid order) who paid an order in a period: the retention matrix, kept incrementally. */
export const analyticsCohorts = pgTable(
  'analytics_cohorts',
  {
    kind: text('kind').notNull(),
    cohort: date('cohort', { mode: 'string' }).notNull(),
    period: date('period', { mode: 'string' }).notNull(),
    customers: integer('customers').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.cohort, t.period] })],
);

/** Each buyer's first paid day, for new customers and cohorts. */
export const analyticsBuyerFirst = pgTable(
  'analytics_buyer_first',
  {
    buyerKey: text('buyer_key').primaryKey(),
    buyerType: text('buyer_type').notNull(),
    firstDay: date('first_day', { mode: 'string' }).notNull(),
  },
  (t) => [index('analytics_buyer_first_day_idx').on(t.firstDay)],
);

/** The months in which each buyer paid an order (cohort retention reads these instead of the orders). */
export const analyticsBuyerMonths = pgTable(
  'analytics_buyer_months',
  {
    buyerKey: text('buyer_key').notNull(),
    month: date('month', { mode: 'string' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.buyerKey, t.month] }), index('analytics_buyer_months_month_idx').on(t.month)],
);

/** The ISO weeks (Monday) in which each buyer paid an order. */
export const analyticsBuyerWeeks = pgTable(
  'analytics_buyer_weeks',
  {
    buyerKey: text('buyer_key').notNull(),
    week: date('week', { mode: 'string' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.buyerKey, t.week] }), index('analytics_buyer_weeks_week_idx').on(t.week)],
);

/** Paid orders per minute (live dashboard: the last hour), kept for two days. */
export const salesMinutely = pgTable('sales_minutely', {
  minute: tstz('minute').primaryKey(),
  orders: integer('orders').notNull(),
  gmvFen: bigint('gmv_fen', { mode: 'number' }).notNull(),
});

/**
 * The stored demand forecast of a SKU for one history window (days): fitted
 * on its daily units through `history_through` (a closed report day) by the
 * daily job or, when missing or stale, by the first read; every instance
 * reads the same fit. `forecast` holds the next 90 days, `history` the series fitted.
 */
export const analyticsForecasts = pgTable(
  'analytics_forecasts',
  {
    skuId: text('sku_id').notNull(),
    historyDays: integer('history_days').notNull(),
    historyThrough: date('history_through', { mode: 'string' }).notNull(),
    method: text('method').notNull(),
    alpha: doublePrecision('alpha').notNull(),
    beta: doublePrecision('beta').notNull(),
    gamma: doublePrecision('gamma').notNull(),
    sse: doublePrecision('sse').notNull(),
    sigma: doublePrecision('sigma').notNull(),
    forecast: jsonb('forecast').$type<number[]>().notNull(),
    history: jsonb('history').$type<number[]>().notNull(),
    fittedAt: tstz('fitted_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.skuId, t.historyDays] })],
);
