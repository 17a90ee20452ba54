import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import { newId } from '../../lib/ids.js';
import type { AgentService } from '../agents/service.js';
import type { AlertService } from '../alerts/service.js';
import type { AuditService } from '../audit/service.js';
import type { OrderService } from '../orders/service.js';
import type { VaultService } from '../vault/service.js';

/** Leaks from one seller within this many days that raise a risk alert on it. */
export const REPEAT_LEAK_THRESHOLD = 3;
export const REPEAT_LEAK_WINDOW_DAYS = 30;

export interface TracedCode {
  input: string;
  found: boolean;
  code?: { id: string; sku_id: string; state: string; last4: string };
  order?: { id: string; status: string; channel: string; buyer_type: string; buyer_id: string; created_at: string; delivered_at: string | null } | null;
  chain: { level: number; agent_id: string; name: string; role: string; status: string }[];
  /** Leaks reported from this code's seller in the last 30 days, this report included. */
  seller_leaks_30d: number;
}

/**
 * 窜货 tracing: staff paste codes found on an open marketplace (or their
 * last characters and SKU) and get, per code, the order that bought it, the
 * buyer and the agent chain that sold it. Every report is kept and audited;
 * a seller whose codes keep turning up is flagged for risk.
 */
export function createTracingService(p: Platform, deps: { vault: VaultService; orders: OrderService; agents: AgentService; alerts: AlertService; audit: AuditService }) {
  async function trace(input: { secrets?: string[]; tails?: { skuId: string; last4: string }[]; source?: string }, actor: { id: string; ip?: string }): Promise<{ codes: TracedCode[]; flagged_agents: string[] }> {
    const found = await deps.vault.findLeaked(input);
    const out: TracedCode[] = [];
    const now = p.clock.now();
    const reportedSellers = new Set<string>();
    for (const f of found) {
      if (f.matches.length === 0) out.push({ input: f.input, found: false, chain: [], seller_leaks_30d: 0 });
      for (const m of f.matches) {
        const order = m.orderId ? await deps.orders.get(m.orderId).catch(() => null) : null;
        const sellerId = order ? (order.agent_id ?? (order.buyer_type === 'agent' ? order.buyer_id : null)) : null;
        const chain = sellerId ? await deps.agents.chainOf(sellerId) : [];
        await queryRows(p.db, 'insert into leak_reports (id, code_id, order_id, seller_agent_id, chain, source, reported_by, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)', [
          newId('lkr', now),
          m.id,
          order?.id ?? null,
          sellerId,
          chain.map((c) => c.id).join('>'),
          input.source ?? null,
          actor.id,
          now.toISOString(),
        ]);
        if (sellerId) reportedSellers.add(sellerId);
        out.push({
          input: f.input,
          found: true,
          code: { id: m.id, sku_id: m.skuId, state: m.state, last4: m.last4 },
          order: order && { id: order.id, status: order.status, channel: order.channel, buyer_type: order.buyer_type, buyer_id: order.buyer_id, created_at: order.created_at, delivered_at: order.delivered_at },
          chain: chain.map((c) => ({ level: c.level, agent_id: c.id, name: c.name, role: c.role, status: c.status })),
          seller_leaks_30d: 0,
        });
      }
    }
    // Repeat offenders: counted over the window, this report included.
    const since = new Date(now.getTime() - REPEAT_LEAK_WINDOW_DAYS * 86_400_000).toISOString();
    const counts = new Map<string, number>();
    if (reportedSellers.size) {
      const rows = await queryRows<{ seller_agent_id: string; n: number }>(p.db, 'select seller_agent_id, count(distinct code_id)::int as n from leak_reports where seller_agent_id = any($1::text[]) and created_at >= $2::timestamptz group by seller_agent_id', [[...reportedSellers], since]);
      for (const r of rows) counts.set(r.seller_agent_id, Number(r.n));
    }
    const flagged: string[] = [];
    for (const [agentId, n] of counts) {
      if (n < REPEAT_LEAK_THRESHOLD) continue;
      flagged.push(agentId);
      await deps.alerts.raise({ kind: 'risk', subjectType: 'agent', subjectId: agentId, severity: 'warning', message: `${n} codes sold through agent ${agentId} were found outside in ${REPEAT_LEAK_WINDOW_DAYS} days`, details: { leaks: n, window_days: REPEAT_LEAK_WINDOW_DAYS } });
    }
    for (const c of out) {
      const seller = c.chain[0]?.agent_id;
      if (seller) c.seller_leaks_30d = counts.get(seller) ?? 0;
    }
    await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'tracing.leak_report', targetType: 'codes', targetId: `${out.length}`, ip: actor.ip, details: { found: out.filter((c) => c.found).map((c) => c.code!.id), not_found: out.filter((c) => !c.found).length, flagged, source: input.source ?? null } });
    return { codes: out, flagged_agents: flagged };
  }

  return { trace };
}

export type TracingService = ReturnType<typeof createTracingService>;
