import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import type { CatalogService } from '../catalog/service.js';
import type { VaultService } from '../vault/service.js';
import type { AlertService } from '../alerts/service.js';
import { createRollups } from './rollup.js';
import { reorderSuggestion } from './forecast.js';
import { createForecastStore } from './stored-forecasts.js';
import { addDays, dayIn, daysBetween, splitRange, type DayRange } from './days.js';

export { type DayRange } from './days.js';

/**
 * Dashboards and reports. Analytics is a read model: it reads its rollups
 * (kept by rollup.ts) and, read-only and set-based, the few other modules'
 * columns a report needs (names, suppliers' lead times and failures, agents'
 * commissions); it never writes another module's tables.
 */
export const MAX_RANGE_DAYS = 366;
export const salesGroups = ['product', 'sku', 'category', 'supplier', 'channel'] as const;
export type SalesGroup = (typeof salesGroups)[number];
const RISK_ALERT_KINDS = new Set(['risk', 'staff_risk', 'agent.self_referral', 'staff.unusual_reveals', 'staff.unusual_exports']);
/** Supplier tries that count as failed in the dashboard (see suppliers/tries.ts). */
const FAILED_TRIES = ['failed', 'unknown'];
const OPEN_TRIES = ['placing', 'pending', 'unknown', 'importing'];

type Money = { orders: number; units: number; gmv_fen: number; refunds_fen: number; net_sales_fen: number; cost_fen: number; gross_profit_fen: number };
const money = (r: Record<string, unknown>): Money => {
  const n = (k: string) => Number(r[k] ?? 0);
  return { orders: n('orders'), units: n('units'), gmv_fen: n('gmv_fen'), refunds_fen: n('refunds_fen'), net_sales_fen: n('gmv_fen') - n('refunds_fen'), cost_fen: n('cost_fen'), gross_profit_fen: n('gmv_fen') - n('refunds_fen') - n('cost_fen') };
};
const SUMS = `coalesce(sum(orders), 0) as orders, coalesce(sum(units), 0) as units, coalesce(sum(gmv_fen), 0) as gmv_fen, coalesce(sum(refunds_fen), 0) as refunds_fen, coalesce(sum(cost_fen), 0) as cost_fen`;

const MEASURE_COLS = 'orders, units, gmv_fen, cost_fen, refunds_fen';
/**
 * The rows of a range from a daily and a monthly rollup: whole months from the
 * monthly one, the edge days from the daily one. Uses $1..$6 (see splitRange).
 */
const spanned = (daily: string, monthly: string, cols: string) =>
  `(select ${cols}, ${MEASURE_COLS} from ${daily} where day between $1::date and $2::date or day between $5::date and $6::date
    union all select ${cols}, ${MEASURE_COLS} from ${monthly} where month between $3::date and $4::date)`;
const spanValues = (r: DayRange) => {
  const { head, months, tail } = splitRange(r.from, r.to);
  return [...head, ...months, ...tail];
};

export function createAnalyticsService(p: Platform, deps: { catalog: Pick<CatalogService, 'listSkus'>; vault: Pick<VaultService, 'availableBySku'>; alerts: Pick<AlertService, 'list'> }) {
  const tz = p.config.reportTimezone;
  const rollups = createRollups(p);
  const forecasts = createForecastStore(p);
  const today = () => dayIn(p.clock.now(), tz);

  /** Brings the rollups up to date before a read (skipped when another applier is at it); publishing is the live loop's job. */
  let publish: (events: Awaited<ReturnType<typeof rollups.applyPending>>) => void = () => undefined;
  async function catchUp() {
    for (let i = 0; i < 20; i++) {
      const r = await rollups.applyPending({ wait: false });
      publish(r);
      if (!r || r.applied < 2000) return;
    }
  }

  /** A from/to pair of report days: both given or defaulted (the last 30 days), from ≤ to, at most 366 days. */
  function range(q: { from?: string; to?: string }, defaultDays = 30): DayRange {
    const to = q.to ?? today();
    const from = q.from ?? addDays(to, -(defaultDays - 1));
    for (const [field, day] of [['from', from], ['to', to]] as const) {
      if (addDays(day, 0) !== day) throw new AppError('VALIDATION_FAILED', `${field}: not a calendar day`, [{ field, message: 'not a calendar day' }]);
    }
    const days = daysBetween(from, to) + 1;
    if (days < 1) throw new AppError('VALIDATION_FAILED', 'from: must not be after to', [{ field: 'from', message: 'must not be after to' }]);
    if (days > MAX_RANGE_DAYS) throw new AppError('VALIDATION_FAILED', `to: at most ${MAX_RANGE_DAYS} days after from`, [{ field: 'to', message: `at most ${MAX_RANGE_DAYS} days from from` }]);
    return { from, to, days };
  }

  async function dashboard() {
    await catchUp();
    const now = p.clock.now();
    const day = today();
    const minuteMs = Math.floor(now.getTime() / 60_000) * 60_000;
    const firstMinute = new Date(minuteMs - 59 * 60_000);
    const [[t], [c], minutes, skus, openAlerts, lowStock, suppliers] = await Promise.all([
      queryRows<Record<string, string>>(p.db, `select ${SUMS} from sales_days where day = $1::date`, [day]),
      queryRows<{ n: string }>(p.db, `select count(*) as n from analytics_buyer_first where first_day = $1::date and buyer_type = 'customer'`, [day]),
      queryRows<{ ms: string; orders: number; gmv_fen: string }>(p.db, `select (extract(epoch from minute) * 1000)::bigint as ms, orders, gmv_fen from sales_minutely where minute >= $1::timestamptz`, [firstMinute.toISOString()]),
      deps.catalog.listSkus(),
      deps.alerts.list({ limit: 100, open: true }),
      // The inventory module's low-stock alerts (checked every 5 minutes), not a count over every code on each refresh.
      deps.alerts.list({ limit: 100, open: true, kind: 'low_stock' }),
      supplierFailures(now),
    ]);
    const m = money(t!);
    const byMinute = new Map(minutes.map((r) => [Number(r.ms), r]));
    const skuName = new Map(skus.map((s) => [s.id, s.name]));
    const stockAlerts = lowStock.data
      .filter((a) => a.subject_type === 'sku')
      .map((a) => ({ sku_id: a.subject_id, sku_name: skuName.get(a.subject_id) ?? a.subject_id, available: Number(a.details.available ?? 0), threshold: Number(a.details.threshold ?? 0) }))
      .sort((a, b) => a.available - b.available || a.sku_id.localeCompare(b.sku_id))
      .slice(0, 50);
    return {
      at: now.toISOString(),
      today: { orders: m.orders, gmv_fen: m.gmv_fen, gross_profit_fen: m.gross_profit_fen, refunds_fen: m.refunds_fen, customers_new: Number(c!.n) },
      orders_per_minute: Array.from({ length: 60 }, (_, i) => {
        const ms = firstMinute.getTime() + i * 60_000;
        const r = byMinute.get(ms);
        return { minute: new Date(ms).toISOString(), orders: Number(r?.orders ?? 0), gmv_fen: Number(r?.gmv_fen ?? 0) };
      }),
      stock_alerts: stockAlerts,
      risk_alerts: openAlerts.data.filter((a) => RISK_ALERT_KINDS.has(a.kind)).slice(0, 20).map((a) => ({ id: a.id, kind: a.kind, message: a.message, at: a.opened_at })),
      supplier_failures: suppliers,
    };
  }

  async function supplierFailures(now: Date) {
    const rows = await queryRows<{ supplier_id: string; supplier_name: string; failures_1h: string; last_error: string | null; at: string | null; health: string }>(
      p.db,
      `select su.id as supplier_id, su.name as supplier_name, su.last_error, su.last_checked_at as at, su.health,
              (select count(*) from supplier_orders so where so.supplier_id = su.id and so.status = any($2::text[]) and so.updated_at >= $1::timestamptz) as failures_1h
       from suppliers su where su.status = 'active' order by su.name`,
      [new Date(now.getTime() - 3_600_000).toISOString(), FAILED_TRIES],
    );
    return rows
      .filter((r) => Number(r.failures_1h) > 0 || r.health === 'down')
      .map((r) => ({ supplier_id: r.supplier_id, supplier_name: r.supplier_name, failures_1h: Number(r.failures_1h), last_error: r.last_error, at: r.at ? new Date(r.at.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')).toISOString() : null }));
  }

  /** Sales and gross profit per group over a range, with the daily series of the whole range (zero-filled). */
  async function sales(q: { group_by: SalesGroup; from?: string; to?: string }) {
    const r = range(q);
    await catchUp();
    const keyOf: Record<SalesGroup, [string, string]> = {
      product: ['pr.id', 'pr.name'],
      sku: ['s.id', 's.name'],
      category: ['pr.category', 'pr.category'],
      supplier: [`d.supplier_id`, `coalesce(su.name, '')`],
      channel: ['d.channel', 'd.channel'],
    };
    const [key, name] = keyOf[q.group_by];
    // Summed per SKU (or channel, supplier) first, on the narrow rollups; then named, touching one row per group.
    const inner = q.group_by === 'channel' ? 'channel' : q.group_by === 'supplier' ? 'supplier_id' : 'sku_id';
    const joins = q.group_by === 'channel' ? '' : q.group_by === 'supplier' ? 'left join suppliers su on su.id = d.supplier_id' : 'join skus s on s.id = d.sku_id join products pr on pr.id = s.product_id';
    const grouped = q.group_by === 'channel' || q.group_by === 'supplier' ? `${key} as key, ${name} as name` : `${key} as key, min(${name}) as name`;
    const [rows, series] = await Promise.all([
      queryRows<Record<string, string>>(
        p.db,
        `select ${grouped}, ${SUMS.replace(/sum\((\w+)\)/g, 'sum(d.$1)')} from (select ${inner}, sum(orders) as orders, sum(units) as units, sum(gmv_fen) as gmv_fen, sum(cost_fen) as cost_fen, sum(refunds_fen) as refunds_fen
           from ${spanned('sales_daily', 'sales_monthly', 'sku_id, channel, supplier_id')} x group by ${inner}) d ${joins} group by ${key}${q.group_by === 'supplier' ? ', su.name' : ''}`,
        spanValues(r),
      ),
      queryRows<Record<string, string>>(p.db, `select day::text as day, ${SUMS} from sales_days where day between $1::date and $2::date group by day`, [r.from, r.to]),
    ]);
    const data = rows.map((x) => ({ key: x.key!, name: x.name ?? x.key!, ...money(x) })).sort((a, b) => b.gmv_fen - a.gmv_fen || a.key.localeCompare(b.key));
    const byDay = new Map(series.map((x) => [x.day!, money(x)]));
    const zero = money({});
    const totals = data.reduce((t, x) => ({ orders: t.orders + x.orders, units: t.units + x.units, gmv_fen: t.gmv_fen + x.gmv_fen, refunds_fen: t.refunds_fen + x.refunds_fen, net_sales_fen: t.net_sales_fen + x.net_sales_fen, cost_fen: t.cost_fen + x.cost_fen, gross_profit_fen: t.gross_profit_fen + x.gross_profit_fen }), zero);
    return { from: r.from, to: r.to, group_by: q.group_by, rows: data, totals, series: Array.from({ length: r.days }, (_, i) => ({ day: addDays(r.from, i), ...(byDay.get(addDays(r.from, i)) ?? zero) })) };
  }

  /** Agents by net sales over a range, with the commissions they earned on orders of that range (net of reversals). */
  async function agentLeaderboard(q: { from?: string; to?: string; limit: number }) {
    const r = range(q);
    await catchUp();
    const rows = await queryRows<Record<string, string>>(
      p.db,
      `select t.*, coalesce(ag.name, '') as name, coalesce(ag.depth, 0) as depth from (
         select agent_id, ${SUMS} from ${spanned('agent_sales_daily', 'agent_sales_monthly', 'agent_id')} x group by agent_id
         order by sum(gmv_fen) - sum(refunds_fen) desc, agent_id limit $7) t
       left join agents ag on ag.id = t.agent_id
       order by t.gmv_fen - t.refunds_fen desc, t.agent_id`,
      [...spanValues(r), q.limit],
    );
    const ids = rows.map((x) => x.agent_id!);
    const commissions = ids.length
      ? await queryRows<{ agent_id: string; commission_fen: string }>(
          p.db,
          `select c.agent_id, sum(c.amount_fen - c.reversed_fen - c.clawback_due_fen) as commission_fen from commissions c join analytics_order_facts f on f.order_id = c.order_id
           where c.agent_id = any($1::text[]) and f.day between $2::date and $3::date group by c.agent_id`,
          [ids, r.from, r.to],
        )
      : [];
    const commissionOf = new Map(commissions.map((c) => [c.agent_id, Number(c.commission_fen)]));
    return { from: r.from, to: r.to, data: rows.map((x, i) => ({ rank: i + 1, agent_id: x.agent_id!, name: x.name!, level: Number(x.depth), ...money(x), commission_fen: commissionOf.get(x.agent_id!) ?? 0 })) };
  }

  /**
   * Customers grouped by the week or month of their first paid order (in the
   * range), and per later period the share who paid an order again then.
   */
  async function cohorts(q: { period: 'week' | 'month'; from?: string; to?: string }) {
    const r = range(q, q.period === 'week' ? 84 : 180);
    await catchUp();
    const rows = await queryRows<{ cohort: string; period: string; customers: string }>(
      p.db,
      `select cohort::text as cohort, period::text as period, customers from analytics_cohorts where kind = $1 and cohort between date_trunc($1, $2::date)::date and $3::date and customers > 0`,
      [q.period, r.from, r.to],
    );
    const offset = (cohort: string, period: string) => (q.period === 'week' ? Math.round(daysBetween(cohort, period) / 7) : (Number(period.slice(0, 4)) - Number(cohort.slice(0, 4))) * 12 + Number(period.slice(5, 7)) - Number(cohort.slice(5, 7)));
    const byCohort = new Map<string, { offset: number; customers: number }[]>();
    for (const x of rows) byCohort.set(x.cohort, [...(byCohort.get(x.cohort) ?? []), { offset: offset(x.cohort, x.period), customers: Number(x.customers) }]);
    const data = [...byCohort.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([cohort, periods]) => {
        const size = periods.find((x) => x.offset === 0)?.customers ?? 0;
        const later = periods.filter((x) => x.offset > 0).sort((a, b) => a.offset - b.offset);
        return { cohort, customers: size, retention: later.map((x) => ({ offset: x.offset, customers: x.customers, share: size ? Math.round((x.customers / size) * 10_000) / 10_000 : 0 })) };
      });
    return { from: r.from, to: r.to, period: q.period, data };
  }

  /** Per SKU: units sold in the range, stock now, what the current stock is worth in days of the range's demand. */
  async function stockTurnover(q: { from?: string; to?: string }) {
    const r = range(q);
    await catchUp();
    const [skus, sold, onOrder] = await Promise.all([
      deps.catalog.listSkus(),
      queryRows<{ sku_id: string; units: string }>(p.db, `select sku_id, sum(units) as units from ${spanned('sales_daily', 'sales_monthly', 'sku_id')} x group by sku_id`, spanValues(r)),
      openPurchases(),
    ]);
    const available = await deps.vault.availableBySku(skus.map((s) => s.id));
    const soldOf = new Map(sold.map((x) => [x.sku_id, Number(x.units)]));
    const data = skus
      .map((s) => {
        const units = soldOf.get(s.id) ?? 0;
        const stock = available.get(s.id) ?? 0;
        const daily = units / r.days;
        return {
          sku_id: s.id,
          sku_name: s.name,
          units_sold: units,
          daily_demand: Math.round(daily * 100) / 100,
          available: stock,
          on_order: onOrder.get(s.id) ?? 0,
          /** units sold in the range per unit in stock now */
          turnover: stock > 0 ? Math.round((units / stock) * 100) / 100 : null,
          days_of_cover: daily > 0 ? Math.round((stock / daily) * 10) / 10 : null,
        };
      })
      .sort((a, b) => (a.days_of_cover ?? Infinity) - (b.days_of_cover ?? Infinity) || b.units_sold - a.units_sold || a.sku_id.localeCompare(b.sku_id));
    return { from: r.from, to: r.to, data };
  }

  async function openPurchases(): Promise<Map<string, number>> {
    const rows = await queryRows<{ sku_id: string; n: string }>(p.db, `select sku_id, sum(quantity) as n from supplier_orders where status = any($1::text[]) and account is null group by sku_id`, [OPEN_TRIES]);
    return new Map(rows.map((x) => [x.sku_id, Number(x.n)]));
  }

  /**
   * Demand forecast per SKU from its daily units over the last `history_days`
   * full days, and what to reorder now to cover its primary supplier's lead
   * time plus `safety_days`. The fits are stored results (stored-forecasts.ts);
   * stock, lead times and open purchases are read live.
   */
  async function forecast(q: { sku_id?: string; history_days: number; safety_days: number }) {
    await catchUp();
    const to = addDays(today(), -1);
    const from = addDays(to, -(q.history_days - 1));
    const skus = (await deps.catalog.listSkus(q.sku_id ? [q.sku_id] : undefined)).filter((s) => s.on_sale || q.sku_id);
    if (q.sku_id && skus.length === 0) throw new AppError('NOT_FOUND', `sku ${q.sku_id} not found`, [{ field: 'sku_id', message: 'no such SKU' }]);
    const ids = skus.map((s) => s.id);
    const [{ fits }, leadTimes, onOrder, available] = await Promise.all([
      forecasts.fitsFor(ids, to, q.history_days),
      queryRows<{ sku_id: string; lead_time_days: number; supplier_id: string }>(
        p.db,
        `select distinct on (ss.sku_id) ss.sku_id, ss.supplier_id, su.lead_time_days from sku_suppliers ss join suppliers su on su.id = ss.supplier_id where ss.sku_id = any($1::text[]) order by ss.sku_id, ss.priority, ss.supplier_id`,
        [ids],
      ),
      openPurchases(),
      deps.vault.availableBySku(ids),
    ]);
    const leadOf = new Map(leadTimes.map((x) => [x.sku_id, x]));
    const data = skus.map((s) => {
      const lead = leadOf.get(s.id);
      const leadTimeDays = lead?.lead_time_days ?? 3;
      const horizon = leadTimeDays + q.safety_days;
      const { y, fit: stored } = fits.get(s.id)!;
      const fit = { ...stored, forecast: stored.forecast.slice(0, Math.max(horizon, 7)) };
      const stock = available.get(s.id) ?? 0;
      const ordered = onOrder.get(s.id) ?? 0;
      const suggestion = reorderSuggestion({ forecast: fit.forecast, sigma: fit.sigma, leadTimeDays, safetyDays: q.safety_days, available: stock, onOrder: ordered });
      return {
        sku_id: s.id,
        sku_name: s.name,
        supplier_id: lead?.supplier_id ?? null,
        method: fit.method,
        params: { alpha: fit.alpha, beta: fit.beta, gamma: fit.gamma },
        history: q.sku_id ? y : undefined,
        forecast: fit.forecast.map((v) => Math.round(v * 100) / 100),
        lead_time_days: leadTimeDays,
        safety_days: q.safety_days,
        available: stock,
        on_order: ordered,
        demand_over_horizon: suggestion.demand,
        safety_stock: suggestion.safetyStock,
        reorder_quantity: suggestion.quantity,
      };
    });
    data.sort((a, b) => b.reorder_quantity - a.reorder_quantity || a.sku_id.localeCompare(b.sku_id));
    return { history_from: from, history_to: to, data };
  }

  /**
   * The daily forecast refresh (job, after the report day closed): rollups
   * caught up, then the default window fitted through yesterday for every SKU
   * on sale that lacks it; stale fits of other windows dropped.
   */
  async function refreshForecasts() {
    await catchUp();
    const started = performance.now();
    const ids = (await deps.catalog.listSkus()).filter((s) => s.on_sale).map((s) => s.id);
    const r = await forecasts.refresh(ids, addDays(today(), -1));
    return { skus: ids.length, ...r, ms: Math.round(performance.now() - started) };
  }

  return {
    dashboard,
    sales,
    agentLeaderboard,
    cohorts,
    stockTurnover,
    forecast,
    refreshForecasts,
    range,
    rollups,
    /** The live loop sets where the events of a read's catch-up go (published after its commit). */
    onCaughtUp(fn: typeof publish) {
      publish = fn;
    },
  };
}

export type AnalyticsService = ReturnType<typeof createAnalyticsService>;
