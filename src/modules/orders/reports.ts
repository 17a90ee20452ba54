import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { queryRows, type Statement } from '../../db/raw.js';

/**
 * Read-only reports over the orders table for other modules (commissions,
 * the agent back office, agent anomalies), so they call the orders module
 * instead of reading its table. Each function is the SQL its caller used to
 * run, unchanged. Kept apart from service.ts (the selling paths) and free
 * of service dependencies, so modules created before the order service
 * (commissions) can be given it.
 */

// An agent sells when it is the order's agent or when it buys on its own prepaid balance (and resells).
const SELLER = `(o.agent_id = $1 or (o.buyer_type = 'agent' and o.buyer_id = $1))`;
// Period labels in China time, computed by the database so grouping and labels agree.
const chinaLabel = (column: string, period: 'day' | 'month') => `to_char((${column} at time zone 'UTC') + interval '8 hours', '${period === 'day' ? 'YYYY-MM-DD' : 'YYYY-MM'}')`;

/** The fields of an order that commission accrual needs. */
export interface OrderForAccrual {
  id: string;
  sku_id: string;
  quantity: number;
  unit_price_fen: number;
  amount_fen: number;
  refunded_fen: number;
  agent_id: string | null;
  buyer_type: string;
  buyer_id: string;
}

/** What one campaign's orders brought (see campaignSales); sums come back as numbers or numeric strings. */
export interface CampaignSalesRow {
  campaign_id: string;
  orders: number;
  units: number;
  revenue_fen: string | number;
  discount_fen: string | number;
  markdown_fen: string | number;
  commission_fen: string | number;
  new_customers: number;
}

/** One agent's paid orders over the anomaly windows (see agents/anomalies.ts). */
export interface AgentSalesWindowRow {
  agent_id: string;
  orders_30d: number;
  amount_30d: string;
  refunded_30d: string;
  amount_24h: string;
  amount_before: string;
}

export function createOrderReports(p: Platform) {
  /**
   * An agent's net sales (amount less refunds) of orders in `statuses`
   * delivered in [from, to], counting orders it sold or bought as an agent,
   * leaving out `exceptOrderId`.
   */
  async function deliveredSalesOfAgent(db: DbOrTx, agentId: string, q: { statuses: string[]; from: Date; to: Date; exceptOrderId: string | null }): Promise<number> {
    const [row] = await queryRows<{ v: string | null }>(
      db,
      `select coalesce(sum(amount_fen - refunded_fen), 0)::text as v from orders
       where coalesce(agent_id, case when buyer_type = 'agent' then buyer_id end) = $1
         and status = any($2::text[]) and delivered_at >= $3::timestamptz and delivered_at <= $4::timestamptz and ($5::text is null or id <> $5)`,
      [agentId, q.statuses, q.from.toISOString(), q.to.toISOString(), q.exceptOrderId],
    );
    return Number(row?.v ?? 0);
  }

  /**
   * Orders delivered since `since` (with at least one code delivered) that
   * the commission accrual job has not marked yet, oldest delivery first.
   * The anti-join on commission_accruals (the commissions module's marker
   * table) stays in this one statement so the job's scan stays in the
   * database instead of pulling every delivered order of the hold window.
   */
  async function deliveredAwaitingAccrual(since: Date, limit: number): Promise<string[]> {
    const rows = await queryRows<{ id: string }>(
      p.db,
      `select o.id from orders o
       where o.delivered_at >= $1::timestamptz and o.delivered_quantity > 0
         -- goods given from the promotion budget (points, CDKs, after-sales replacements) brought no money to share
         and o.payment_provider is distinct from 'promotion'
         and not exists (select 1 from commission_accruals a where a.order_id = o.id)
       order by o.delivered_at limit $2`,
      [since.toISOString(), limit],
    );
    return rows.map((r) => r.id);
  }

  /** Locks an order (FOR UPDATE, in the caller's transaction) and returns what accrual needs; null when it does not exist. */
  async function lockForAccrual(tx: Tx, orderId: string): Promise<OrderForAccrual | null> {
    const [o] = await queryRows<OrderForAccrual>(tx, 'select id, sku_id, quantity, unit_price_fen, amount_fen, refunded_fen, agent_id, buyer_type, buyer_id from orders where id = $1 for update', [orderId]);
    return o ?? null;
  }

  /** An agent's sold orders today and this month (by creation time): counts, units delivered, net amount. */
  async function agentSalesFigures(agentId: string, q: { statuses: string[]; todayStart: Date; monthStart: Date; now: Date }): Promise<Record<string, unknown> | undefined> {
    const [sales] = await queryRows<Record<string, unknown>>(
      p.db,
      `select count(*) filter (where o.created_at >= $3)::int as today_orders,
              coalesce(sum(o.delivered_quantity) filter (where o.created_at >= $3), 0)::text as today_units,
              coalesce(sum(o.amount_fen - o.refunded_fen) filter (where o.created_at >= $3), 0)::text as today_amount,
              count(*)::int as month_orders,
              coalesce(sum(o.delivered_quantity), 0)::text as month_units,
              coalesce(sum(o.amount_fen - o.refunded_fen), 0)::text as month_amount
       from orders o where ${SELLER} and o.status = any($2::text[]) and o.created_at >= $4 and o.created_at <= $5`,
      [agentId, q.statuses, q.todayStart.toISOString(), q.monthStart.toISOString(), q.now.toISOString()],
    );
    return sales;
  }

  /** An agent's sold orders per China day or month (by creation time) in [from, end). */
  async function agentSalesByPeriod(agentId: string, q: { statuses: string[]; period: 'day' | 'month'; from: Date; end: Date }) {
    return queryRows<{ period: string; orders: number; units: string; amount: string; refunded: string }>(
      p.db,
      `select ${chinaLabel('o.created_at', q.period)} as period, count(*)::int as orders, coalesce(sum(o.delivered_quantity), 0)::text as units,
              coalesce(sum(o.amount_fen), 0)::text as amount, coalesce(sum(o.refunded_fen), 0)::text as refunded
       from orders o where ${SELLER} and o.status = any($2::text[]) and o.created_at >= $3 and o.created_at < $4
       group by 1`,
      [agentId, q.statuses, q.from.toISOString(), q.end.toISOString()],
    );
  }

  /** Net sales (amount less refunds) of each agent's sold orders created since `since`; agents without sales are absent. */
  async function netSalesOfAgentsSince(agentIds: string[], q: { statuses: string[]; since: Date }): Promise<Map<string, number>> {
    if (agentIds.length === 0) return new Map();
    const rows = await queryRows<{ agent_id: string; s: string }>(
      p.db,
      `select a.id as agent_id,
              (select coalesce(sum(o.amount_fen - o.refunded_fen), 0) from orders o
                where (o.agent_id = a.id or (o.buyer_type = 'agent' and o.buyer_id = a.id)) and o.status = any($2::text[]) and o.created_at >= $3)::text as s
       from unnest($1::text[]) as a(id)`,
      [agentIds, q.statuses, q.since.toISOString()],
    );
    return new Map(rows.map((r) => [r.agent_id, Number(r.s)]));
  }

  /**
   * Per agent, its paid orders (sold, or bought on its balance; counted once
   * when both) over the anomaly windows, only agents that break the refund
   * rate or the sales spike rule; the caller drops agents that are not active.
   */
  async function agentSalesWindows(q: {
    from: Date;
    refundFrom: Date;
    lastDayFrom: Date;
    now: Date;
    historyFrom: Date;
    refundMinOrders: number;
    refundRateNum: number;
    refundRateDen: number;
    spikeMinFen: number;
    spikeHistoryDays: number;
    spikeFactor: number;
  }): Promise<AgentSalesWindowRow[]> {
    return queryRows<AgentSalesWindowRow>(
      p.db,
      `with sales as (
         select o.agent_id as agent, o.amount_fen, o.refunded_fen, o.paid_at from orders o
          where o.agent_id is not null and o.paid_at is not null and o.paid_at > $1::timestamptz and o.paid_at <= $4::timestamptz
         union all
         select o.buyer_id, o.amount_fen, o.refunded_fen, o.paid_at from orders o
          where o.buyer_type = 'agent' and o.agent_id is distinct from o.buyer_id and o.paid_at is not null and o.paid_at > $1::timestamptz and o.paid_at <= $4::timestamptz
       ), per_agent as (
         select s.agent as agent_id,
                count(*) filter (where s.paid_at > $2::timestamptz)::int as orders_30d,
                coalesce(sum(s.amount_fen) filter (where s.paid_at > $2::timestamptz), 0)::bigint as amount_30d,
                coalesce(sum(s.refunded_fen) filter (where s.paid_at > $2::timestamptz), 0)::bigint as refunded_30d,
                coalesce(sum(s.amount_fen) filter (where s.paid_at > $3::timestamptz), 0)::bigint as amount_24h,
                coalesce(sum(s.amount_fen) filter (where s.paid_at <= $3::timestamptz and s.paid_at > $5::timestamptz), 0)::bigint as amount_before
           from sales s group by s.agent
       )
       select x.* from per_agent x
        where ((x.orders_30d >= $6 and x.refunded_30d * $8 > x.amount_30d * $7)
            or (x.amount_24h >= $9 and x.amount_24h * $10 > x.amount_before * $11))
        order by x.agent_id`,
      [q.from.toISOString(), q.refundFrom.toISOString(), q.lastDayFrom.toISOString(), q.now.toISOString(), q.historyFrom.toISOString(), q.refundMinOrders, q.refundRateNum, q.refundRateDen, q.spikeMinFen, q.spikeHistoryDays, q.spikeFactor],
    );
  }

  /** The distinct buyers ("customer:cus_…", "agent:agt_…") of each agent's orders since a time: who bought through whom. */
  async function buyersOfAgentsSince(since: Date): Promise<Array<{ agent_id: string; account: string }>> {
    return queryRows<{ agent_id: string; account: string }>(
      p.db,
      `select distinct o.agent_id, o.buyer_type || ':' || o.buyer_id as account from orders o
        where o.agent_id is not null and o.created_at >= $1::timestamptz and o.paid_at is not null`,
      [since.toISOString()],
    );
  }

  /**
   * Sales that marketing campaigns brought, per campaign: paid orders and
   * units, net revenue (promotion-paid orders excluded: their money came
   * from the promotion budget), coupon discounts, the markdown of offers
   * below the SKU's list price, commissions still owed on them (this reads
   * the commissions table in the same query, like the accrual scan), and
   * customers whose first order came through the campaign.
   */
  async function campaignSales(campaignIds: string[], db: DbOrTx = p.db): Promise<CampaignSalesRow[]> {
    if (!campaignIds.length) return [];
    return queryRows<CampaignSalesRow>(
      db,
      `with paid as (
         select o.* from orders o
         where o.campaign_id = any($1::text[]) and o.status not in ('held_for_review', 'pending_payment', 'cancelled')),
       firsts as (
         select distinct on (o.buyer_type, o.buyer_id) o.buyer_type, o.buyer_id, o.campaign_id
         from orders o
         where (o.buyer_type, o.buyer_id) in (select buyer_type, buyer_id from paid) and o.status not in ('held_for_review', 'pending_payment', 'cancelled')
         order by o.buyer_type, o.buyer_id, o.created_at, o.id)
       select c.id as campaign_id,
              count(p.id)::int as orders,
              coalesce(sum(p.quantity), 0)::int as units,
              coalesce(sum(p.amount_fen - p.refunded_fen) filter (where p.payment_provider is distinct from 'promotion'), 0)::bigint as revenue_fen,
              -- discounts and markdowns count for the part of the order not refunded
              coalesce(sum(floor(p.discount_fen::numeric * (p.amount_fen - p.refunded_fen) / p.amount_fen)), 0)::bigint as discount_fen,
              coalesce(sum(floor(greatest(s.retail_price_fen - p.unit_price_fen, 0)::numeric * p.quantity * (p.amount_fen - p.refunded_fen) / p.amount_fen))
                         filter (where p.offer_kind is not null and p.payment_provider is distinct from 'promotion'), 0)::bigint as markdown_fen,
              coalesce((select sum(k.amount_fen - k.reversed_fen) from commissions k join paid q on q.id = k.order_id where q.campaign_id = c.id), 0)::bigint as commission_fen,
              (select count(*)::int from firsts f where f.campaign_id = c.id) as new_customers
       from unnest($1::text[]) as c(id)
       left join paid p on p.campaign_id = c.id
       left join skus s on s.id = p.sku_id
       group by c.id`,
      [campaignIds],
    );
  }

  /**
   * Delivered customer orders that can earn loyalty points and have not yet
   * (the points module's marker table is read in the same query, as the
   * commission scan does with its own): paid by the customer, not by the
   * promotion budget (points exchanges, CDK products).
   */
  async function customerOrdersAwaitingPoints(since: Date, limit: number): Promise<{ id: string; promo_paid_fen: number }[]> {
    return queryRows(
      p.db,
      `select o.id, o.promo_paid_fen from orders o
       where o.delivered_at >= $1::timestamptz and o.delivered_quantity > 0 and o.buyer_type = 'customer'
         and coalesce(o.offer_kind, '') not in ('points', 'cdk') and coalesce(o.payment_provider, '') <> 'promotion'
         and not exists (select 1 from points_order_awards a where a.order_id = o.id)
       order by o.delivered_at limit $2`,
      [since.toISOString(), limit],
    );
  }

  /** Orders that earned points and were refunded (more) since the points module last looked. */
  async function pointsOrdersRefundedSince(limit: number): Promise<string[]> {
    const rows = await queryRows<{ order_id: string }>(p.db, `select a.order_id from points_order_awards a join orders o on o.id = a.order_id where o.refunded_fen > a.refunded_fen_seen order by a.order_id limit $1`, [limit]);
    return rows.map((r) => r.order_id);
  }

  /** Units of one marketing offer in orders that are not cancelled, optionally of one buyer (flash-sale limits and reconciliation). */
  function offerUnitsStatement(offer: { kind: string; id: string }, buyer?: { type: string; id: string }): Statement {
    return {
      text: `select coalesce(sum(quantity), 0)::int as n from orders where offer_kind = $1 and offer_id = $2 and status <> 'cancelled'${buyer ? ' and buyer_type = $3 and buyer_id = $4' : ''}`,
      values: buyer ? [offer.kind, offer.id, buyer.type, buyer.id] : [offer.kind, offer.id],
    };
  }
  async function offerUnits(db: DbOrTx, offer: { kind: string; id: string }, buyer?: { type: string; id: string }): Promise<number> {
    const st = offerUnitsStatement(offer, buyer);
    const [row] = await queryRows<{ n: number }>(db, st.text, st.values);
    return Number(row?.n ?? 0);
  }

  /** Which of these orders are not cancelled. */
  async function notCancelled(db: DbOrTx, orderIds: string[]): Promise<Set<string>> {
    if (!orderIds.length) return new Set();
    const rows = await queryRows<{ id: string }>(db, `select id from orders where id = any($1::text[]) and status <> 'cancelled'`, [orderIds]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Delivered orders placed from a chat (delivery_target names a channel)
   * whose codes have not yet been sent there by the bots' outbound queue (its
   * message table is read in the same query, as the commission scan does).
   * Balance orders delivered in the transaction that created them are left
   * out: the conversation showed their codes already.
   */
  async function chatOrdersAwaitingDelivery(since: Date, limit: number): Promise<{ id: string; sku_id: string; delivered_quantity: number; delivery_target: unknown }[]> {
    return queryRows(
      p.db,
      `select o.id, o.sku_id, o.delivered_quantity, o.delivery_target from orders o
       where o.delivered_at >= $1::timestamptz and o.delivered_quantity > 0 and o.delivery_target ->> 'channel' is not null
         and (o.payment_provider is distinct from 'balance' or o.delivered_at > o.created_at)
         and not exists (select 1 from bot_outbound_messages m where m.dedupe_key = 'order.delivered:' || o.id)
       order by o.delivered_at limit $2`,
      [since.toISOString(), limit],
    );
  }

  /** Where a customer's latest order placed from a chat said to deliver (its delivery_target), if any. */
  async function latestDeliveryTargetOf(customerId: string): Promise<unknown> {
    const [row] = await queryRows<{ delivery_target: unknown }>(
      p.db,
      `select delivery_target from orders where buyer_type = 'customer' and buyer_id = $1 and delivery_target is not null order by created_at desc limit 1`,
      [customerId],
    );
    return row?.delivery_target;
  }

  return { latestDeliveryTargetOf, chatOrdersAwaitingDelivery, customerOrdersAwaitingPoints, pointsOrdersRefundedSince, offerUnits, offerUnitsStatement, notCancelled, campaignSales, buyersOfAgentsSince, deliveredSalesOfAgent, deliveredAwaitingAccrual, lockForAccrual, agentSalesFigures, agentSalesByPeriod, netSalesOfAgentsSince, agentSalesWindows };
}

export type OrderReports = ReturnType<typeof createOrderReports>;
