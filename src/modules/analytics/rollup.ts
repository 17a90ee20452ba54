import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';

/**
 * Keeps the rollups (sales_daily, buyer periods, sales_minutely) equal to the
 * orders, incrementally: the trigger on `orders` queues each committed change
 * (analytics_order_changes); `applyPending` takes a batch, recomputes each
 * touched order's contribution from its current row and applies only the
 * difference from what it contributed before (analytics_order_facts). So a
 * change applied twice, or out of order, still ends at the same totals.
 *
 * An order counts once paid, on its payment day (REPORT_TIMEZONE); refunds and
 * the cost they give back (in proportion to the amount refunded) count on that
 * same day. `rebuild` recomputes everything from the orders in set-based SQL.
 */
export const COUNTED_STATUSES = ['paid', 'paid_awaiting_stock', 'awaiting_group', 'fulfilling', 'delivered', 'partially_delivered', 'refunded', 'partially_refunded'] as const;
const UNPAID_STATUSES = new Set(['pending_payment', 'held_for_review', 'cancelled']);
/** One applier at a time (all instances): transaction-scoped advisory lock. */
const APPLY_LOCK = 7_240_019;

export interface LiveOrderEvent {
  id: string;
  status: 'paid' | 'delivered' | 'refunded';
  sku_id: string;
  sku_name: string;
  quantity: number;
  amount_fen: number;
  channel: string;
}

interface OrderNow {
  id: string;
  status: string;
  sku_id: string;
  sku_name: string;
  agent_id: string;
  channel: string;
  supplier_id: string;
  buyer_type: string;
  buyer_key: string;
  quantity: number;
  amount_fen: number;
  refunded_fen: number;
  sku_cost_fen: number;
  day: string | null;
  week: string | null;
  month: string | null;
  minute: string | null;
}

interface Fact {
  order_id: string;
  day: string;
  sku_id: string;
  agent_id: string;
  channel: string;
  supplier_id: string;
  units: number;
  gmv_fen: number;
  unit_cost_fen: number;
  cost_fen: number;
  refunds_fen: number;
}

/** Cost of goods still sold after refunds: the unit cost times the units, less the refunded share. Same formula as `factSelect`. */
export function netCost(unitCostFen: number, units: number, amountFen: number, refundedFen: number, status: string): number {
  if (amountFen > 0) return Math.floor((unitCostFen * units * (amountFen - refundedFen)) / amountFen);
  return status === 'refunded' ? 0 : unitCostFen * units;
}

/** The agent a sale counts for: the order's agent, else the buying agent (agents buy to resell), else ''. */
const SELLING_AGENT = `coalesce(o.agent_id, case when o.buyer_type = 'agent' then o.buyer_id end, '')`;
/** The primary supplier of a SKU (lowest priority number), '' when none. */
const PRIMARY_SUPPLIER = `coalesce((select ss.supplier_id from sku_suppliers ss where ss.sku_id = o.sku_id order by ss.priority, ss.supplier_id limit 1), '')`;

interface Delta {
  key: string[];
  orders: number;
  units: number;
  gmv: number;
  cost: number;
  refunds: number;
}
const MEASURES = ['orders', 'units', 'gmv_fen', 'cost_fen', 'refunds_fen'];
const monthOf = (day: string) => `${day.slice(0, 7)}-01`;
/** The rollup tables, their keys and each order's key in them (null: not counted there). */
const ROLLUPS: { table: string; keys: [string, 'date' | 'text'][]; key: (f: Fact) => string[] | null }[] = [
  { table: 'sales_daily', keys: [['day', 'date'], ['sku_id', 'text'], ['channel', 'text'], ['supplier_id', 'text']], key: (f) => [f.day, f.sku_id, f.channel, f.supplier_id] },
  { table: 'sales_monthly', keys: [['month', 'date'], ['sku_id', 'text'], ['channel', 'text'], ['supplier_id', 'text']], key: (f) => [monthOf(f.day), f.sku_id, f.channel, f.supplier_id] },
  { table: 'sales_days', keys: [['day', 'date']], key: (f) => [f.day] },
  { table: 'agent_sales_daily', keys: [['day', 'date'], ['agent_id', 'text']], key: (f) => (f.agent_id ? [f.day, f.agent_id] : null) },
  { table: 'agent_sales_monthly', keys: [['month', 'date'], ['agent_id', 'text']], key: (f) => (f.agent_id ? [monthOf(f.day), f.agent_id] : null) },
];

export function createRollups(p: Platform) {
  const tz = p.config.reportTimezone;

  /**
   * Applies up to `limit` queued changes in one transaction and returns the
   * live events they make, for the caller to publish once it has committed.
   * With `wait: false` it returns at once (null) if another applier is busy.
   */
  async function applyPending(opts: { limit?: number; wait?: boolean } = {}): Promise<{ applied: number; events: LiveOrderEvent[] } | null> {
    return p.db.transaction(async (tx) => {
      if (opts.wait === false) {
        const [got] = await queryRows<{ ok: boolean }>(tx, 'select pg_try_advisory_xact_lock($1) as ok', [APPLY_LOCK]);
        if (!got?.ok) return null;
      } else await queryRows(tx, 'select pg_advisory_xact_lock($1)', [APPLY_LOCK]);
      const changes = await queryRows<{ seq: string; order_id: string; old_status: string | null; new_status: string; refunded_delta_fen: number }>(
        tx,
        `delete from analytics_order_changes where seq in (select seq from analytics_order_changes order by seq limit $1)
         returning seq, order_id, old_status, new_status, refunded_delta_fen`,
        [opts.limit ?? 2000],
      );
      if (changes.length === 0) return { applied: 0, events: [] };
      changes.sort((a, b) => Number(a.seq) - Number(b.seq));
      const ids = [...new Set(changes.map((c) => c.order_id))];
      const orders = new Map((await loadOrders(tx, ids)).map((o) => [o.id, o]));
      const facts = new Map((await queryRows<Fact>(tx, 'select * from analytics_order_facts where order_id = any($1::text[])', [ids])).map((f) => [f.order_id, f]));
      await applyDifferences(tx, ids, orders, facts);
      return { applied: changes.length, events: liveEvents(changes, orders) };
    });
  }

  async function loadOrders(tx: Tx, ids: string[]): Promise<OrderNow[]> {
    return queryRows<OrderNow>(
      tx,
      `select o.id, o.status, o.sku_id, s.name as sku_name, ${SELLING_AGENT} as agent_id, o.channel, ${PRIMARY_SUPPLIER} as supplier_id,
              o.buyer_type, o.buyer_type || ':' || o.buyer_id as buyer_key, o.quantity, o.amount_fen, o.refunded_fen, s.cost_fen as sku_cost_fen,
              (o.paid_at at time zone $2)::date::text as day,
              date_trunc('week', o.paid_at at time zone $2)::date::text as week,
              date_trunc('month', o.paid_at at time zone $2)::date::text as month,
              date_trunc('minute', o.paid_at) as minute
       from orders o join skus s on s.id = o.sku_id where o.id = any($1::text[])`,
      [ids, tz],
    );
  }

  async function applyDifferences(tx: Tx, ids: string[], orders: Map<string, OrderNow>, facts: Map<string, Fact>) {
    const deltas = ROLLUPS.map(() => new Map<string, Delta>());
    const add = (f: Fact, sign: 1 | -1) => {
      ROLLUPS.forEach((r, i) => {
        const key = r.key(f);
        if (!key) return;
        const k = key.join('\u0000');
        const d = deltas[i]!.get(k) ?? { key, orders: 0, units: 0, gmv: 0, cost: 0, refunds: 0 };
        d.orders += sign;
        d.units += sign * f.units;
        d.gmv += sign * f.gmv_fen;
        d.cost += sign * f.cost_fen;
        d.refunds += sign * f.refunds_fen;
        deltas[i]!.set(k, d);
      });
    };
    const upserts: Fact[] = [];
    const removed: string[] = [];
    const buyers: OrderNow[] = [];
    const minutes = new Map<string, { orders: number; gmv: number }>();
    for (const id of ids) {
      const o = orders.get(id);
      const old = facts.get(id);
      const counted = o && o.day && (COUNTED_STATUSES as readonly string[]).includes(o.status);
      const unitCost = old?.unit_cost_fen ?? o?.sku_cost_fen ?? 0;
      const now: Fact | null = counted
        ? { order_id: id, day: o.day!, sku_id: o.sku_id, agent_id: o.agent_id, channel: o.channel, supplier_id: o.supplier_id, units: o.quantity, gmv_fen: o.amount_fen, unit_cost_fen: unitCost, cost_fen: netCost(unitCost, o.quantity, o.amount_fen, o.refunded_fen, o.status), refunds_fen: o.refunded_fen }
        : null;
      if (old) add(old, -1);
      if (now) {
        add(now, 1);
        upserts.push(now);
        buyers.push(o!);
        if (!old) {
          const m = minutes.get(o!.minute!) ?? { orders: 0, gmv: 0 };
          m.orders++;
          m.gmv += o!.amount_fen;
          minutes.set(o!.minute!, m);
        }
      } else if (old) removed.push(id);
    }
    for (const [i, r] of ROLLUPS.entries()) {
      const rows = [...deltas[i]!.values()].filter((d) => d.orders || d.units || d.gmv || d.cost || d.refunds);
      if (rows.length === 0) continue;
      const keys = r.keys.map(([name]) => name);
      const n = keys.length;
      await queryRows(
        tx,
        `insert into ${r.table} as t (${keys.join(', ')}, ${MEASURES.join(', ')})
         select * from unnest(${r.keys.map(([, type], j) => `$${j + 1}::${type}[]`).join(', ')}, $${n + 1}::int[], $${n + 2}::int[], $${n + 3}::bigint[], $${n + 4}::bigint[], $${n + 5}::bigint[])
         on conflict (${keys.join(', ')}) do update set ${MEASURES.map((m) => `${m} = t.${m} + excluded.${m}`).join(', ')}`,
        [...keys.map((_, j) => rows.map((d) => d.key[j])), rows.map((d) => d.orders), rows.map((d) => d.units), rows.map((d) => d.gmv), rows.map((d) => d.cost), rows.map((d) => d.refunds)],
      );
    }
    if (removed.length) await queryRows(tx, 'delete from analytics_order_facts where order_id = any($1::text[])', [removed]);
    if (upserts.length) {
      const c = <K extends keyof Fact>(k: K) => upserts.map((f) => f[k]);
      await queryRows(
        tx,
        `insert into analytics_order_facts (order_id, day, sku_id, agent_id, channel, supplier_id, units, gmv_fen, unit_cost_fen, cost_fen, refunds_fen)
         select * from unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[], $10::int[], $11::int[])
         on conflict (order_id) do update set day = excluded.day, sku_id = excluded.sku_id, agent_id = excluded.agent_id, channel = excluded.channel, supplier_id = excluded.supplier_id,
           units = excluded.units, gmv_fen = excluded.gmv_fen, unit_cost_fen = excluded.unit_cost_fen, cost_fen = excluded.cost_fen, refunds_fen = excluded.refunds_fen`,
        [c('order_id'), c('day'), c('sku_id'), c('agent_id'), c('channel'), c('supplier_id'), c('units'), c('gmv_fen'), c('unit_cost_fen'), c('cost_fen'), c('refunds_fen')],
      );
    }
    if (buyers.length) {
      const b = <K extends keyof OrderNow>(k: K) => buyers.map((o) => o[k]);
      // The touched customers leave the retention matrix and come back with their new first period and periods.
      const customers = [...new Set(buyers.filter((o) => o.buyer_type === 'customer').map((o) => o.buyer_key))];
      if (customers.length) await cohortContribution(tx, customers, -1);
      await queryRows(
        tx,
        `insert into analytics_buyer_first as t (buyer_key, buyer_type, first_day) select * from unnest($1::text[], $2::text[], $3::date[])
         on conflict (buyer_key) do update set first_day = least(t.first_day, excluded.first_day)`,
        dedupeFirst(buyers),
      );
      await queryRows(tx, 'insert into analytics_buyer_months (buyer_key, month) select * from unnest($1::text[], $2::date[]) on conflict do nothing', [b('buyer_key'), b('month')]);
      await queryRows(tx, 'insert into analytics_buyer_weeks (buyer_key, week) select * from unnest($1::text[], $2::date[]) on conflict do nothing', [b('buyer_key'), b('week')]);
      if (customers.length) await cohortContribution(tx, customers, 1);
    }
    if (minutes.size) {
      const m = [...minutes.entries()];
      await queryRows(
        tx,
        `insert into sales_minutely as t (minute, orders, gmv_fen) select * from unnest($1::timestamptz[], $2::int[], $3::bigint[])
         on conflict (minute) do update set orders = t.orders + excluded.orders, gmv_fen = t.gmv_fen + excluded.gmv_fen`,
        [m.map(([k]) => k), m.map(([, v]) => v.orders), m.map(([, v]) => v.gmv)],
      );
      await queryRows(tx, `delete from sales_minutely where minute < $1::timestamptz - interval '2 days'`, [p.clock.now().toISOString()]);
    }
  }

  /** Adds (+1) or removes (-1) customers' cells of the retention matrices (all customers when `buyerKeys` is null). */
  async function cohortContribution(tx: Tx, buyerKeys: string[] | null, sign: 1 | -1) {
    for (const [kind, table, col] of [['month', 'analytics_buyer_months', 'month'], ['week', 'analytics_buyer_weeks', 'week']] as const) {
      await queryRows(
        tx,
        `insert into analytics_cohorts as t (kind, cohort, period, customers)
         select '${kind}', date_trunc('${kind}', f.first_day)::date, m.${col}, $2::int * count(*) from analytics_buyer_first f join ${table} m on m.buyer_key = f.buyer_key
         where f.buyer_type = 'customer' and ($1::text[] is null or f.buyer_key = any($1::text[])) group by 2, 3
         on conflict (kind, cohort, period) do update set customers = t.customers + excluded.customers`,
        [buyerKeys, sign],
      );
    }
  }

  /** Everything recomputed from the orders, set-based (after a bulk load, or to repair). Changes queued before it are dropped. */
  async function rebuild(): Promise<void> {
    await p.db.transaction(async (tx) => {
      await queryRows(tx, 'select pg_advisory_xact_lock($1)', [APPLY_LOCK]);
      await queryRows(tx, 'delete from analytics_order_changes');
      for (const t of ['analytics_order_facts', ...ROLLUPS.map((r) => r.table), 'analytics_cohorts', 'analytics_buyer_first', 'analytics_buyer_months', 'analytics_buyer_weeks', 'sales_minutely']) await queryRows(tx, `delete from ${t}`);
      await queryRows(
        tx,
        `insert into analytics_order_facts (order_id, day, sku_id, agent_id, channel, supplier_id, units, gmv_fen, unit_cost_fen, cost_fen, refunds_fen)
         select o.id, (o.paid_at at time zone $1)::date, o.sku_id, ${SELLING_AGENT}, o.channel, coalesce(sp.supplier_id, ''), o.quantity, o.amount_fen, s.cost_fen,
                case when o.amount_fen > 0 then (s.cost_fen::bigint * o.quantity * (o.amount_fen - o.refunded_fen) / o.amount_fen)::int
                     when o.status = 'refunded' then 0 else s.cost_fen * o.quantity end,
                o.refunded_fen
         from orders o join skus s on s.id = o.sku_id
         left join (select distinct on (sku_id) sku_id, supplier_id from sku_suppliers order by sku_id, priority, supplier_id) sp on sp.sku_id = o.sku_id
         where o.paid_at is not null and o.status = any($2::text[])`,
        [tz, COUNTED_STATUSES],
      );
      for (const r of ROLLUPS) {
        const keys = r.keys.map(([name]) => name);
        const exprs = keys.map((k) => (k === 'month' ? `date_trunc('month', day)::date` : k));
        await queryRows(
          tx,
          `insert into ${r.table} (${keys.join(', ')}, ${MEASURES.join(', ')})
           select ${exprs.join(', ')}, count(*), sum(units), sum(gmv_fen), sum(cost_fen), sum(refunds_fen)
           from analytics_order_facts ${keys.includes('agent_id') ? `where agent_id <> ''` : ''} group by ${exprs.join(', ')}`,
        );
      }
      const paid = `from orders o where o.paid_at is not null and o.status = any($2::text[])`;
      await queryRows(tx, `insert into analytics_buyer_first (buyer_key, buyer_type, first_day) select o.buyer_type || ':' || o.buyer_id, min(o.buyer_type), min((o.paid_at at time zone $1)::date) ${paid} group by 1`, [tz, COUNTED_STATUSES]);
      await queryRows(tx, `insert into analytics_buyer_months (buyer_key, month) select distinct o.buyer_type || ':' || o.buyer_id, date_trunc('month', o.paid_at at time zone $1)::date ${paid}`, [tz, COUNTED_STATUSES]);
      await queryRows(tx, `insert into analytics_buyer_weeks (buyer_key, week) select distinct o.buyer_type || ':' || o.buyer_id, date_trunc('week', o.paid_at at time zone $1)::date ${paid}`, [tz, COUNTED_STATUSES]);
      await cohortContribution(tx, null, 1);
      await queryRows(
        tx,
        `insert into sales_minutely (minute, orders, gmv_fen) select date_trunc('minute', o.paid_at), count(*), sum(o.amount_fen) ${paid} and o.paid_at >= $1::timestamptz - interval '2 days' group by 1`,
        [p.clock.now().toISOString(), COUNTED_STATUSES],
      );
    });
  }

  /** Totals straight from the orders (the truth the rollups must equal), for tests and the benchmark. */
  async function rawTotals(): Promise<{ orders: number; units: number; gmv_fen: number; cost_fen: number; refunds_fen: number }> {
    const [r] = await queryRows<Record<string, string>>(
      p.db,
      `select count(*) as orders, coalesce(sum(o.quantity), 0) as units, coalesce(sum(o.amount_fen), 0) as gmv_fen, coalesce(sum(o.refunded_fen), 0) as refunds_fen,
              coalesce(sum(case when o.amount_fen > 0 then s.cost_fen::bigint * o.quantity * (o.amount_fen - o.refunded_fen) / o.amount_fen
                                when o.status = 'refunded' then 0 else s.cost_fen * o.quantity end), 0) as cost_fen
       from orders o join skus s on s.id = o.sku_id where o.paid_at is not null and o.status = any($1::text[])`,
      [COUNTED_STATUSES],
    );
    return { orders: Number(r!.orders), units: Number(r!.units), gmv_fen: Number(r!.gmv_fen), cost_fen: Number(r!.cost_fen), refunds_fen: Number(r!.refunds_fen) };
  }

  async function rollupTotals(): Promise<{ orders: number; units: number; gmv_fen: number; cost_fen: number; refunds_fen: number }> {
    const [r] = await queryRows<Record<string, string>>(
      p.db,
      `select coalesce(sum(orders), 0) as orders, coalesce(sum(units), 0) as units, coalesce(sum(gmv_fen), 0) as gmv_fen, coalesce(sum(cost_fen), 0) as cost_fen, coalesce(sum(refunds_fen), 0) as refunds_fen from sales_daily`,
    );
    return { orders: Number(r!.orders), units: Number(r!.units), gmv_fen: Number(r!.gmv_fen), cost_fen: Number(r!.cost_fen), refunds_fen: Number(r!.refunds_fen) };
  }

  return { applyPending, rebuild, rawTotals, rollupTotals };
}

/** Each buyer once per batch, with its earliest day (a batch may hold several of its orders). */
function dedupeFirst(buyers: OrderNow[]): [string[], string[], string[]] {
  const first = new Map<string, OrderNow>();
  for (const o of buyers) {
    const had = first.get(o.buyer_key);
    if (!had || o.day! < had.day!) first.set(o.buyer_key, o);
  }
  const list = [...first.values()];
  return [list.map((o) => o.buyer_key), list.map((o) => o.buyer_type), list.map((o) => o.day!)];
}

/** The dashboard's order events of a batch of changes: a first payment, a delivery, a refund. */
function liveEvents(changes: { order_id: string; old_status: string | null; new_status: string; refunded_delta_fen: number }[], orders: Map<string, OrderNow>): LiveOrderEvent[] {
  const out: LiveOrderEvent[] = [];
  for (const c of changes) {
    const o = orders.get(c.order_id);
    if (!o) continue;
    const base = { id: o.id, sku_id: o.sku_id, sku_name: o.sku_name, quantity: o.quantity, channel: o.channel };
    const paidNow = (c.old_status === null || UNPAID_STATUSES.has(c.old_status)) && (COUNTED_STATUSES as readonly string[]).includes(c.new_status);
    if (paidNow) out.push({ ...base, status: 'paid', amount_fen: o.amount_fen });
    if (c.new_status === 'delivered' && c.old_status !== 'delivered') out.push({ ...base, status: 'delivered', amount_fen: o.amount_fen });
    if (c.refunded_delta_fen > 0) out.push({ ...base, status: 'refunded', amount_fen: c.refunded_delta_fen });
  }
  return out;
}

export type Rollups = ReturnType<typeof createRollups>;
