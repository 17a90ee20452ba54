import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import type { AlertService } from '../alerts/service.js';

/**
 * Risk flags on agents, computed over all agents at once (set-based SQL) and
 * raised as 'risk' alerts for staff to review. Rules:
 *  - refund_rate: over the last 30 days, at least REFUND_MIN_ORDERS paid orders
 *    and more than 25% of their amount refunded;
 *  - sales_spike: the last 24 h above 5x the daily average of the 30 days
 *    before, and at least SPIKE_MIN_FEN (an agent without history is flagged
 *    from that amount on: a new agent moving a lot at once is the pattern);
 *  - self_referral: the agent's customer account is also its upline's.
 * An agent's orders are the ones it sold (orders.agent_id) and the ones it
 * bought on its balance (buyer agent), counted once when both.
 *
 * Not done: "many buyers sharing devices" needs device fingerprints on orders
 * or sessions, which the platform does not record yet.
 */
export const REFUND_RATE_WINDOW_DAYS = 30;
export const REFUND_MIN_ORDERS = 10;
/** Refunded share above which the rule fires, as a fraction REFUND_RATE_NUM / REFUND_RATE_DEN (25%). */
const REFUND_RATE_NUM = 1;
const REFUND_RATE_DEN = 4;
export const SPIKE_HISTORY_DAYS = 30;
export const SPIKE_FACTOR = 5;
export const SPIKE_MIN_FEN = 100_000;

export type AnomalyRule = 'refund_rate' | 'sales_spike' | 'self_referral';

export interface AgentAnomaly {
  agentId: string;
  rule: AnomalyRule;
  message: string;
  details: Record<string, number | string>;
}

interface SalesRow {
  agent_id: string;
  orders_30d: number;
  amount_30d: string;
  refunded_30d: string;
  amount_24h: string;
  amount_before: string;
}

/** Checks every active agent against the rules; raises (or refreshes) one alert per flagged agent naming each broken rule. */
export async function checkAgentAnomalies(p: Platform, deps: { alerts: Pick<AlertService, 'raise'> }): Promise<AgentAnomaly[]> {
  const now = p.clock.now();
  const day = 86_400_000;
  const refundFrom = new Date(now.getTime() - REFUND_RATE_WINDOW_DAYS * day).toISOString();
  const lastDayFrom = new Date(now.getTime() - day).toISOString();
  const historyFrom = new Date(now.getTime() - (SPIKE_HISTORY_DAYS + 1) * day).toISOString();
  const from = refundFrom < historyFrom ? refundFrom : historyFrom;

  // Frozen agents are already stopped and reviewed: flagging them again is noise.
  const sales = await queryRows<SalesRow>(
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
     select x.* from per_agent x join agents a on a.id = x.agent_id
      where a.status = 'active'
        and ((x.orders_30d >= $6 and x.refunded_30d * $8 > x.amount_30d * $7)
          or (x.amount_24h >= $9 and x.amount_24h * $10 > x.amount_before * $11))
      order by x.agent_id`,
    [from, refundFrom, lastDayFrom, now.toISOString(), historyFrom, REFUND_MIN_ORDERS, REFUND_RATE_NUM, REFUND_RATE_DEN, SPIKE_MIN_FEN, SPIKE_HISTORY_DAYS, SPIKE_FACTOR],
  );
  const selfReferrals = await queryRows<{ agent_id: string; parent_id: string; customer_id: string }>(
    p.db,
    `select a.id as agent_id, u.id as parent_id, a.customer_id from agents a join agents u on u.id = a.parent_id
      where a.status = 'active' and a.customer_id is not null and a.customer_id = u.customer_id order by a.id`,
  );

  const flags: AgentAnomaly[] = [];
  for (const r of sales) {
    const orders = Number(r.orders_30d);
    const amount = Number(r.amount_30d);
    const refunded = Number(r.refunded_30d);
    if (orders >= REFUND_MIN_ORDERS && refunded * REFUND_RATE_DEN > amount * REFUND_RATE_NUM) {
      const pct = amount > 0 ? Math.round((refunded * 1000) / amount) / 10 : 0;
      flags.push({
        agentId: r.agent_id,
        rule: 'refund_rate',
        message: `refund_rate: ${refunded} of ${amount} fen refunded (${pct}%, above 25%) over ${orders} orders in ${REFUND_RATE_WINDOW_DAYS} days`,
        details: { orders, amount_fen: amount, refunded_fen: refunded, refund_rate_pct: pct },
      });
    }
    const last24 = Number(r.amount_24h);
    const before = Number(r.amount_before);
    if (last24 >= SPIKE_MIN_FEN && last24 * SPIKE_HISTORY_DAYS > before * SPIKE_FACTOR) {
      const dailyAverage = Math.floor(before / SPIKE_HISTORY_DAYS);
      flags.push({
        agentId: r.agent_id,
        rule: 'sales_spike',
        message: `sales_spike: ${last24} fen in the last 24 h, above ${SPIKE_FACTOR}x the daily average of ${dailyAverage} fen over the previous ${SPIKE_HISTORY_DAYS} days`,
        details: { amount_24h_fen: last24, daily_average_fen: dailyAverage, history_fen: before },
      });
    }
  }
  for (const r of selfReferrals) {
    flags.push({
      agentId: r.agent_id,
      rule: 'self_referral',
      message: `self_referral: the agent shares customer ${r.customer_id} with its upline ${r.parent_id}`,
      details: { upline_id: r.parent_id, customer_id: r.customer_id },
    });
  }

  // Alerts are one per kind and subject: an agent breaking several rules gets one alert naming them all.
  const byAgent = new Map<string, AgentAnomaly[]>();
  for (const f of flags) byAgent.set(f.agentId, [...(byAgent.get(f.agentId) ?? []), f]);
  for (const [agentId, list] of byAgent) {
    await deps.alerts.raise({
      kind: 'risk',
      subjectType: 'agent',
      subjectId: agentId,
      severity: 'warning',
      message: `agent ${agentId} anomalies: ${list.map((f) => f.message).join('; ')}`,
      details: { rules: list.map((f) => f.rule), ...Object.fromEntries(list.map((f) => [f.rule, f.details])) },
    });
  }
  return flags;
}

export function createAgentAnomalyService(p: Platform, deps: { alerts: Pick<AlertService, 'raise'> }) {
  return { check: () => checkAgentAnomalies(p, deps) };
}

export type AgentAnomalyService = ReturnType<typeof createAgentAnomalyService>;
