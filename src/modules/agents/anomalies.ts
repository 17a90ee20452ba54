import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import type { AlertService } from '../alerts/service.js';
import type { OrderReports } from '../orders/reports.js';
import type { DeviceSharing } from '../risk/device-sharing.js';

/**
 * Risk flags on agents, computed over all agents at once (set-based SQL) and
 * raised as 'risk' alerts for staff to review. Rules:
 *  - refund_rate: over the last 30 days, at least REFUND_MIN_ORDERS paid orders
 *    and more than 25% of their amount refunded;
 *  - sales_spike: the last 24 h above 5x the daily average of the 30 days
 *    before, and at least SPIKE_MIN_FEN (an agent without history is flagged
 *    from that amount on: a new agent moving a lot at once is the pattern);
 *  - self_referral: the agent's customer account is also its upline's;
 *  - shared_devices: over 30 days, SHARED_DEVICE_MIN_BUYERS or more of the
 *    agent's distinct buyers were seen by the risk gate on one device (a
 *    farm of fake customers inflating an agent's sales or commissions).
 * An agent's orders are the ones it sold (orders.agent_id) and the ones it
 * bought on its balance (buyer agent), counted once when both.
 */
export const REFUND_RATE_WINDOW_DAYS = 30;
export const REFUND_MIN_ORDERS = 10;
/** Refunded share above which the rule fires, as a fraction REFUND_RATE_NUM / REFUND_RATE_DEN (25%). */
const REFUND_RATE_NUM = 1;
const REFUND_RATE_DEN = 4;
export const SPIKE_HISTORY_DAYS = 30;
export const SPIKE_FACTOR = 5;
export const SPIKE_MIN_FEN = 100_000;

export const SHARED_DEVICE_MIN_BUYERS = 3;

export type AnomalyRule = 'refund_rate' | 'sales_spike' | 'self_referral' | 'shared_devices';

export interface AgentAnomaly {
  agentId: string;
  rule: AnomalyRule;
  message: string;
  details: Record<string, number | string>;
}

type AnomalyDeps = { alerts: Pick<AlertService, 'raise'>; orderReports: Pick<OrderReports, 'agentSalesWindows' | 'buyersOfAgentsSince'>; deviceSharing: Pick<DeviceSharing, 'sharedDevices'> };

/** Checks every active agent against the rules; raises (or refreshes) one alert per flagged agent naming each broken rule. */
export async function checkAgentAnomalies(p: Platform, deps: AnomalyDeps): Promise<AgentAnomaly[]> {
  const now = p.clock.now();
  const day = 86_400_000;
  const refundFrom = new Date(now.getTime() - REFUND_RATE_WINDOW_DAYS * day).toISOString();
  const lastDayFrom = new Date(now.getTime() - day).toISOString();
  const historyFrom = new Date(now.getTime() - (SPIKE_HISTORY_DAYS + 1) * day).toISOString();

  const windows = await deps.orderReports.agentSalesWindows({
    from: new Date(Math.min(Date.parse(refundFrom), Date.parse(historyFrom))),
    refundFrom: new Date(refundFrom),
    lastDayFrom: new Date(lastDayFrom),
    now,
    historyFrom: new Date(historyFrom),
    refundMinOrders: REFUND_MIN_ORDERS,
    refundRateNum: REFUND_RATE_NUM,
    refundRateDen: REFUND_RATE_DEN,
    spikeMinFen: SPIKE_MIN_FEN,
    spikeHistoryDays: SPIKE_HISTORY_DAYS,
    spikeFactor: SPIKE_FACTOR,
  });
  // Frozen agents are already stopped and reviewed: flagging them again is noise.
  const buyers = await deps.orderReports.buyersOfAgentsSince(new Date(refundFrom));
  const candidates = [...new Set([...windows.map((w) => w.agent_id), ...buyers.map((b) => b.agent_id)])];
  const active = new Set(
    candidates.length === 0 ? [] : (await queryRows<{ id: string }>(p.db, `select id from agents where id = any($1::text[]) and status = 'active'`, [candidates])).map((r) => r.id),
  );
  const sales = windows.filter((w) => active.has(w.agent_id));
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

  const shared = await deps.deviceSharing.sharedDevices(buyers.filter((b) => active.has(b.agent_id)).map((b) => ({ groupId: b.agent_id, account: b.account })), SHARED_DEVICE_MIN_BUYERS);
  const worstDevice = new Map<string, { device_id: string; accounts: number; devices: number }>();
  for (const r of shared) {
    const seen = worstDevice.get(r.group_id);
    if (seen) seen.devices += 1;
    else worstDevice.set(r.group_id, { device_id: r.device_id, accounts: r.accounts, devices: 1 });
  }
  for (const [agentId, d] of worstDevice) {
    flags.push({
      agentId,
      rule: 'shared_devices',
      message: `shared_devices: ${d.accounts} of its buyers in ${REFUND_RATE_WINDOW_DAYS} days used one device (${d.devices} such device${d.devices > 1 ? 's' : ''})`,
      details: { device_id: d.device_id, buyers_on_device: d.accounts, devices: d.devices },
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

export function createAgentAnomalyService(p: Platform, deps: AnomalyDeps) {
  return { check: () => checkAgentAnomalies(p, deps) };
}

export type AgentAnomalyService = ReturnType<typeof createAgentAnomalyService>;
