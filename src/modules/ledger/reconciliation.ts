import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import type { CodeState } from '../vault/code-state.js';
import type { OrderStatus } from '../orders/order-state.js';
import { accounts } from './accounts.js';
import { createLedgerService } from './service.js';

/**
 * Stock, orders and ledger must tell one story. Each check is one set-based
 * statement (aggregates joined on keys, no per-row round trips) that returns
 * how many rows disagree and the first 100 of them, so it stays a matter of
 * seconds on millions of codes, orders and entries.
 *
 * The rules follow what the order and vault services do:
 * - selling a code (reserved -> sold) writes a code event whose ref is the
 *   order id and sets codes.order_id to it; a refund restocks unrevealed codes
 *   (sold/delivered -> available, order_id cleared) and voids revealed ones
 *   (order_id kept); delivered_quantity is never lowered by a refund;
 * - refunded_fen = unit price x codes given back (or the whole amount for an
 *   order refunded while it waited for stock);
 * - a paid order has exactly one `order_payment` ledger transaction (revenue
 *   +amount, cost of goods -cost, supplier payable +cost) and each refund a
 *   revenue reversal and, for restocked codes, a cost reversal (at the SKU
 *   cost of the day, so cost is checked against the payable, not against a
 *   unit cost that may have changed since the sale).
 *
 * Codes of reusable (shared-account) SKUs are sold by counting sales on the
 * code, without per-order history; they and their orders are left out of the
 * code-level checks (the money checks still cover their orders).
 */

export interface CheckResult {
  name: string;
  description: string;
  ok: boolean;
  /** Rows that disagree (exact for these checks; for the ledger's own checks, capped at 100 per kind). */
  count: number;
  /** Up to 100 offending rows, each naming its code, order, payment or account. */
  samples: Record<string, unknown>[];
  ms: number;
}

export interface Verification {
  ok: boolean;
  checks: CheckResult[];
}

export const SAMPLE_LIMIT = 100;

/** SQL literal list of known constants (state names), never of outside input. */
const list = (values: readonly string[]) => values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');

/** A code in one of these states is in the hands of the order that bought it. */
const liveStates: CodeState[] = ['sold', 'delivered', 'revealed', 'redeemed'];
/** Taken out of circulation but still attributed to the order it was sold to (refund after reveal, staff void, recycling). */
const retiredStates: CodeState[] = ['voided', 'recycled'];
/** Orders whose codes may be live. */
const deliveredStatuses: OrderStatus[] = ['delivered', 'partially_delivered', 'partially_refunded'];
/** Orders that may hold reservations: unpaid, or paid and being fulfilled (within the paying transaction). */
const reservingStatuses: OrderStatus[] = ['pending_payment', 'paid', 'fulfilling'];
/** Orders that were never paid (a cancelled order that is paid late moves to paid). */
const unpaidStatuses: OrderStatus[] = ['pending_payment', 'cancelled'];
/** Orders that can have sold no code yet. */
const undeliveredStatuses: OrderStatus[] = ['pending_payment', 'cancelled', 'paid', 'fulfilling', 'paid_awaiting_stock', 'awaiting_group', 'failed'];

/** A sale of a code to an order, and a refund putting it back in stock, as the code's history records them. */
const SELL = `e.from_state = 'reserved' and e.to_state = 'sold'`;
const RESTOCK = `e.from_state in ('sold', 'delivered') and e.to_state = 'available'`;
const PER_CODE = `join skus sk on sk.id = c.sku_id and not sk.reusable`;

interface CheckSpec {
  name: string;
  description: string;
  /** A query whose rows are the disagreements; its first column orders the samples. */
  sql: string;
  values?: unknown[];
}

const checks: CheckSpec[] = [
  {
    name: 'codes_sold_once_per_order',
    description: 'no code was sold twice to the same order (code history: at most one reserved->sold per code and order)',
    sql: `select e.code_id, e.ref as order_id, count(*)::int as sales
          from code_events e where ${SELL}
          group by e.code_id, e.ref having count(*) > 1`,
  },
  {
    name: 'code_history_matches_holder',
    description: "each code's sales minus restocks is 1 when it has a holder order and 0 when not, and the holder is an order it was sold to (no code delivered twice, no holder lost)",
    sql: `with h as (
            select e.code_id,
                   count(*) filter (where ${SELL})::int as sales,
                   count(*) filter (where ${RESTOCK})::int as restocks,
                   array_agg(e.ref) filter (where ${SELL}) as sold_to
            from code_events e where (${SELL}) or (${RESTOCK})
            group by e.code_id)
          select c.id as code_id, c.state, c.order_id, coalesce(h.sales, 0) as sales, coalesce(h.restocks, 0) as restocks, h.sold_to
          from codes c ${PER_CODE}
          left join h on h.code_id = c.id
          where (c.order_id is not null or h.code_id is not null)
            and (coalesce(h.sales, 0) - coalesce(h.restocks, 0) <> (case when c.order_id is null then 0 else 1 end)
                 or (c.order_id is not null and not coalesce(c.order_id = any(h.sold_to), false)))`,
  },
  {
    name: 'sold_codes_held_by_delivered_orders',
    description: `a ${liveStates.join('/')} code belongs to an existing order that is ${deliveredStatuses.join('/')}; a code with an order is live or ${retiredStates.join('/')}`,
    sql: `select c.id as code_id, c.state, c.order_id, o.status as order_status,
                 case when c.order_id is null then 'no holder order'
                      when o.id is null then 'holder order does not exist'
                      when c.state not in (${list([...liveStates, ...retiredStates])}) then 'has a holder order but is ' || c.state
                      else 'holder order is ' || o.status end as problem
          from codes c ${PER_CODE}
          left join orders o on o.id = c.order_id
          where (c.order_id is null and c.state in (${list(liveStates)}))
             or (c.order_id is not null and (o.id is null
                  or c.state not in (${list([...liveStates, ...retiredStates])})
                  or (c.state in (${list(liveStates)}) and o.status not in (${list(deliveredStatuses)}))
                  or (c.state in (${list(retiredStates)}) and o.status not in (${list([...deliveredStatuses, 'refunded'])}))))`,
  },
  {
    name: 'delivered_quantity_matches_codes_sold',
    description: "an order's delivered_quantity equals the codes its history shows sold to it (refunds do not lower it), never exceeds its quantity, is the quantity when delivered and 0 before delivery; no sale names a missing order",
    sql: `with sold as (select e.ref as order_id, count(*)::int as n from code_events e where ${SELL} group by e.ref)
          select o.id as order_id, o.status, o.quantity, o.delivered_quantity, coalesce(s.n, 0) as codes_sold
          from orders o join skus sk on sk.id = o.sku_id and not sk.reusable
          left join sold s on s.order_id = o.id
          where o.delivered_quantity <> coalesce(s.n, 0)
             or o.delivered_quantity > o.quantity
             or (o.status = 'delivered' and o.delivered_quantity <> o.quantity)
             or (o.status = 'partially_delivered' and (o.delivered_quantity = 0 or o.delivered_quantity >= o.quantity))
             or (o.status in (${list(undeliveredStatuses)}) and o.delivered_quantity <> 0)
          union all
          select s.order_id, null, null, null, s.n from sold s where not exists (select 1 from orders o where o.id = s.order_id)`,
  },
  {
    name: 'refunds_match_returned_codes',
    description:
      'refunded_fen = the amount paid for the codes given back (floor(amount_fen x units / quantity): with a coupon discount a unit costs less than the list price), units between the restocked codes (delivered_quantity - live - voided) and those plus the voided ones; an order refunded before delivery is refunded its whole amount; the status says refunded exactly when money went back',
    sql: `with held as (
            select c.order_id,
                   count(*) filter (where c.state in (${list(liveStates)}))::int as live,
                   count(*) filter (where c.state in (${list(retiredStates)}))::int as retired
            from codes c where c.order_id is not null group by c.order_id),
          judged as (
            select o.id as order_id, o.status, o.quantity, o.delivered_quantity, o.unit_price_fen, o.amount_fen, o.refunded_fen,
                   coalesce(h.live, 0) as live_codes, coalesce(h.retired, 0) as voided_codes,
                   case
                     when o.refunded_fen < 0 or o.refunded_fen > o.amount_fen then 'refunded_fen outside 0..amount_fen'
                     when o.status = 'refunded' and o.refunded_fen <> o.amount_fen then 'refunded order not refunded its whole amount'
                     when o.status = 'partially_refunded' and not (o.refunded_fen > 0 and o.refunded_fen < o.amount_fen) then 'partially refunded order without a partial refund'
                     when o.status not in ('refunded', 'partially_refunded') and o.refunded_fen <> 0 then 'money refunded on an order that is ' || o.status
                     when o.delivered_quantity = 0 and o.refunded_fen not in (0, o.amount_fen) then 'partial refund of an order that delivered nothing'
                     when o.delivered_quantity = 0 then null
                     when o.delivered_quantity - coalesce(h.live, 0) - coalesce(h.retired, 0) < 0 then 'more codes held than delivered'
                     when (o.amount_fen::bigint * u.units) / o.quantity <> o.refunded_fen then 'refunded_fen is not a whole number of units'
                     when u.units < o.delivered_quantity - coalesce(h.live, 0) - coalesce(h.retired, 0) then 'codes back in stock were not refunded'
                     when u.units > o.delivered_quantity - coalesce(h.live, 0) then 'refunded codes that are still live'
                   end as problem
            from orders o join skus sk on sk.id = o.sku_id and not sk.reusable
            left join held h on h.order_id = o.id
            -- the units a refund paid for: refunds are floor(amount x units / quantity), so the nearest whole number recovers them
            cross join lateral (select round(o.refunded_fen::numeric * o.quantity / o.amount_fen)::bigint as units) u
            where o.amount_fen > 0)
          select * from judged where problem is not null`,
  },
  {
    name: 'reservations_held_by_open_orders',
    description: `a reserved code is held by an existing order that is ${reservingStatuses.join('/')}, and no order reserves more codes than its quantity (anything else is stock leaked)`,
    sql: `select c.id as code_id, c.reserved_by as order_id, o.status as order_status,
                 case when c.reserved_by is null then 'reserved by nobody' when o.id is null then 'reserved by an order that does not exist'
                      else 'reserved by an order that is ' || o.status end as problem
          from codes c left join orders o on o.id = c.reserved_by
          where c.state = 'reserved' and (o.id is null or o.status not in (${list(reservingStatuses)}))
          union all
          select null, o.id, o.status, 'reserves ' || r.n || ' codes for a quantity of ' || o.quantity
          from (select c.reserved_by, count(*)::int as n from codes c where c.state = 'reserved' group by c.reserved_by) r
          join orders o on o.id = r.reserved_by
          where r.n > o.quantity and o.status in (${list(reservingStatuses)})`,
  },
  {
    name: 'revenue_matches_orders',
    description: 'per order, revenue entries of its ledger transactions sum to amount_fen - refunded_fen when paid and 0 when unpaid, from exactly one order_payment transaction when paid and none when not; no revenue names a missing order',
    sql: `with rev as (
            -- a sale transaction has one revenue entry: counting entries (not distinct transactions) keeps this a hash aggregate
            select t.ref_id as order_id, sum(e.amount_fen) as revenue, count(*) filter (where t.kind = 'order_payment')::int as sales
            from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
            where t.ref_type = 'order' and e.account_id = $1
            group by t.ref_id)
          select o.id as order_id, o.status, o.amount_fen, o.refunded_fen,
                 case when o.status in (${list(unpaidStatuses)}) then 0 else o.amount_fen - o.refunded_fen end as expected_revenue,
                 coalesce(r.revenue, 0) as revenue, coalesce(r.sales, 0) as sale_transactions
          from orders o left join rev r on r.order_id = o.id
          where coalesce(r.revenue, 0) <> case when o.status in (${list(unpaidStatuses)}) then 0 else o.amount_fen - o.refunded_fen end
             or coalesce(r.sales, 0) <> case when o.status in (${list(unpaidStatuses)}) then 0 else 1 end
          union all
          select r.order_id, null, null, null, null, r.revenue, r.sales from rev r where not exists (select 1 from orders o where o.id = r.order_id)`,
    values: [accounts.revenue.id],
  },
  {
    name: 'cost_of_goods_matches_supplier_payable',
    description: "per order, cost-of-goods and supplier-payable entries cancel out (the cost booked at sale and reversed on restock, at the SKU's cost of the day); a sale books a cost, never a gain; unpaid or missing orders have none",
    sql: `select t.ref_id as order_id, o.status,
                 coalesce(sum(e.amount_fen) filter (where e.account_id = $1), 0) as cost_of_goods,
                 coalesce(sum(e.amount_fen) filter (where e.account_id = $2), 0) as supplier_payable,
                 case when o.id is null then 'order does not exist'
                      when o.status in (${list(unpaidStatuses)}) then 'cost booked for an order that is ' || o.status
                      when coalesce(sum(e.amount_fen) filter (where e.account_id = $1 and t.kind = 'order_payment'), 0) > 0 then 'sale books a negative cost'
                      else 'cost and payable do not cancel out' end as problem
          from ledger_transactions t join ledger_entries e on e.transaction_id = t.id and e.account_id in ($1, $2)
          left join orders o on o.id = t.ref_id
          where t.ref_type = 'order'
          group by t.ref_id, o.id, o.status
          having o.id is null or o.status in (${list(unpaidStatuses)})
              or coalesce(sum(e.amount_fen) filter (where e.account_id = $1), 0) + coalesce(sum(e.amount_fen) filter (where e.account_id = $2), 0) <> 0
              or coalesce(sum(e.amount_fen) filter (where e.account_id = $1 and t.kind = 'order_payment'), 0) > 0`,
    values: [accounts.costOfGoods.id, accounts.supplierPayable.id],
  },
  {
    name: 'succeeded_payments_match_orders',
    description: 'a succeeded payment is for an existing, paid order (not pending_payment/cancelled) of the same amount, and no order has two succeeded payments (money taken twice)',
    sql: `with paid as (
            select order_id, count(*)::int as n, array_agg(id order by id) as payment_ids, min(amount_fen) as min_fen, max(amount_fen) as max_fen
            from payments where status = 'succeeded' group by order_id)
          select p.order_id, o.status, o.amount_fen, p.payment_ids, p.min_fen as paid_fen,
                 case when o.id is null then 'order does not exist'
                      when o.status in (${list(unpaidStatuses)}) then 'payment succeeded but the order is ' || o.status
                      when p.n > 1 then p.n || ' succeeded payments'
                      else 'paid amount differs from the order amount' end as problem
          from paid p left join orders o on o.id = p.order_id
          where o.id is null or o.status in (${list(unpaidStatuses)}) or p.n > 1 or p.min_fen <> o.amount_fen or p.max_fen <> o.amount_fen`,
  },
  {
    name: 'commission_reversals_consistent',
    description: "a commission's reversed_fen and clawback_due_fen are never negative and never add up to more than its amount; it is 'reversed' exactly when they cover its amount",
    sql: `select c.id as commission_id, c.agent_id, c.status, c.amount_fen, c.reversed_fen, c.clawback_due_fen,
                 case when c.reversed_fen < 0 or c.clawback_due_fen < 0 then 'negative reversal or clawback'
                      when c.reversed_fen + c.clawback_due_fen > c.amount_fen then 'reversed more than earned'
                      when c.status = 'reversed' then 'reversed but not wholly'
                      else 'wholly reversed but ' || c.status end as problem
          from commissions c
          where c.reversed_fen < 0 or c.clawback_due_fen < 0 or c.reversed_fen + c.clawback_due_fen > c.amount_fen
             or (c.status = 'reversed') <> (c.reversed_fen + c.clawback_due_fen >= c.amount_fen)`,
  },
  {
    name: 'provider_paid_orders_have_a_payment',
    description: 'an order paid other than from a balance or the promotion budget (payment_provider is not "balance" or "promotion") has a succeeded payment: its money came through a provider',
    sql: `select o.id as order_id, o.status, o.payment_provider, o.amount_fen
          from orders o
          where o.status not in (${list(unpaidStatuses)}) and o.payment_provider is distinct from 'balance' and o.payment_provider is distinct from 'promotion'
            and not exists (select 1 from payments p where p.order_id = o.id and p.status = 'succeeded')`,
  },
];

async function run(db: DbOrTx, spec: CheckSpec): Promise<CheckResult> {
  const started = performance.now();
  const [row] = await queryRows<{ n: number; samples: Record<string, unknown>[] | string }>(
    db,
    `with bad as (${spec.sql})
     select (select count(*) from bad)::int as n,
            coalesce((select json_agg(s) from (select * from bad order by 1 limit ${SAMPLE_LIMIT}) s), '[]'::json) as samples`,
    spec.values ?? [],
  );
  const count = Number(row?.n ?? 0);
  const samples = typeof row?.samples === 'string' ? (JSON.parse(row.samples) as Record<string, unknown>[]) : (row?.samples ?? []);
  return { name: spec.name, description: spec.description, ok: count === 0, count, samples, ms: Math.round(performance.now() - started) };
}

/**
 * Stock, orders, payments and ledger agree. Runs every check in one
 * read-only repeatable-read transaction, so they all see one snapshot even
 * while the platform keeps selling.
 */
export async function verifyStockOrdersLedger(db: DbOrTx): Promise<Verification> {
  const results = await db.transaction(
    async (tx) => {
      // The aggregates hash a row per code or order: give them memory instead of sorting through temp files.
      await queryRows(tx, `set local work_mem = '256MB'`);
      const out: CheckResult[] = [];
      for (const spec of checks) out.push(await run(tx, spec));
      return out;
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  return { ok: results.every((r) => r.ok), checks: results };
}

export const reconciliationCheckNames = checks.map((c) => c.name);

/** Everything `npm run ledger:verify` checks: the ledger's own integrity, then its agreement with stock, orders and payments. */
export async function verifyBooks(p: Platform): Promise<Verification & { transactions: number }> {
  const started = performance.now();
  const ledger = await createLedgerService(p).verify();
  const ms = Math.round(performance.now() - started);
  const ledgerChecks: CheckResult[] = [
    {
      name: 'ledger_transactions_balance',
      description: 'every ledger transaction has at least two entries and they sum to zero',
      samples: ledger.unbalancedTransactions.map((u) => ({ transaction_id: u.id, sum: Number.isNaN(u.sum) ? null : u.sum, problem: Number.isNaN(u.sum) ? 'fewer than two entries' : 'entries do not sum to zero' })),
    },
    {
      name: 'ledger_cached_balances_match_entries',
      description: "every guarded account's cached balance equals the sum of its entries",
      samples: ledger.cachedBalanceMismatches.map((m) => ({ account_id: m.account, cached: m.cached, entries: m.entries })),
    },
    {
      name: 'ledger_guarded_accounts_not_negative',
      description: 'no guarded (customer or agent) account is below zero',
      samples: ledger.negativeGuardedAccounts.map((n) => ({ account_id: n.account, balance: n.balance })),
    },
    // The ledger verifies its three rules together: each reports their common time.
  ].map((c) => ({ ...c, ok: c.samples.length === 0, count: c.samples.length, ms }));
  const rest = await verifyStockOrdersLedger(p.db);
  const all = [...ledgerChecks, ...rest.checks];
  return { ok: all.every((c) => c.ok), checks: all, transactions: ledger.transactions };
}

/** The sample's first id (its columns come in the check's order: the code, order, transaction or account it is about). */
function firstId(sample: Record<string, unknown> | undefined): string {
  const hit = Object.entries(sample ?? {}).find(([k, v]) => k.endsWith('_id') && v != null);
  return hit ? String(hit[1]) : '?';
}

/** Lines for people: one per check, the failing ones with their first offending rows. */
export function describeVerification(v: Verification, opts: { samplesShown?: number } = {}): { ok: string[]; failed: string[] } {
  const shown = opts.samplesShown ?? 5;
  const ok: string[] = [];
  const failed: string[] = [];
  for (const c of v.checks) {
    if (c.ok) {
      ok.push(`ok    ${c.name} (${c.ms} ms)`);
      continue;
    }
    failed.push(`FAIL  ${c.name}: ${c.count} row(s) disagree, e.g. ${firstId(c.samples[0])} (${c.description})`);
    for (const s of c.samples.slice(0, shown)) failed.push(`        ${JSON.stringify(s)}`);
    if (c.count > shown) failed.push(`        ... ${c.count - shown} more`);
  }
  return { ok, failed };
}
