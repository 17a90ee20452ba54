import { eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { agents, referralBindings } from './schema.js';
import { bindingExpiry, decideBinding, isActiveBinding, type BindReason } from './binding-rules.js';

export interface BindingResult {
  agent_id: string;
  bound: boolean;
  reason: BindReason;
  expires_at: string | null;
}

export interface BindingView {
  customer_id: string;
  agent_id: string;
  agent_name: string;
  agent_status: string;
  source: string;
  bound_at: string;
  expires_at: string | null;
  /** counts for attribution now: not expired and the agent active */
  active: boolean;
}

/**
 * Referral bindings: which agent a customer belongs to, by the rules of
 * binding-rules.ts (REFERRAL_BINDING_MODE, REFERRAL_BINDING_DAYS). Part of
 * the agents service (see createAgentService), which owns the table.
 */
export function createReferralBindings(p: Platform) {
  const byCode = async (code: string, db: DbOrTx = p.db) => {
    const [row] = await db.select({ id: agents.id, status: agents.status }).from(agents).where(eq(agents.referralCode, code.toUpperCase()));
    return row ?? null;
  };

  /**
   * A customer touched an agent's link or code: binds the customer to that
   * agent, or keeps the binding it has, by the configured rule. The binding
   * row is locked, so two touches at once decide one after the other.
   * Answers the agent the customer is bound to afterwards. `db`: the
   * caller's transaction, when the binding comes with something else (a
   * referral code's rewards); it then runs as a savepoint inside it.
   */
  async function bindCustomer(customerId: string, referralCode: string, source: string, db?: Tx): Promise<BindingResult> {
    const agent = await byCode(referralCode, db);
    if (!agent) throw new AppError('NOT_FOUND', `referral_code: no agent has the code ${referralCode}`, [{ field: 'referral_code', message: 'unknown code' }]);
    if (agent.status !== 'active') throw new AppError('UNPROCESSABLE', "referral_code: the code's agent is frozen and takes no customers", [{ field: 'referral_code', message: 'agent frozen' }]);
    try {
      return await (db ?? p.db).transaction(async (tx) => {
        const now = p.clock.now();
        const expiresAt = bindingExpiry(now, p.config.referralBindingDays);
        const iso = expiresAt?.toISOString() ?? null;
        const inserted = await tx
          .insert(referralBindings)
          .values({ id: newId('rfb', now), customerId, agentId: agent.id, source, boundAt: now, expiresAt })
          .onConflictDoNothing({ target: referralBindings.customerId })
          .returning({ id: referralBindings.id });
        if (inserted.length) return { agent_id: agent.id, bound: true, reason: 'new' as const, expires_at: iso };
        const [current] = await tx.select().from(referralBindings).where(eq(referralBindings.customerId, customerId)).for('update');
        const [holder] = await tx.select({ status: agents.status }).from(agents).where(eq(agents.id, current!.agentId));
        const decision = decideBinding({ agentId: current!.agentId, expiresAt: current!.expiresAt, agentActive: holder?.status === 'active' }, agent.id, now, p.config.referralBindingMode);
        if (!decision.bind) return { agent_id: current!.agentId, bound: false, reason: decision.reason, expires_at: current!.expiresAt?.toISOString() ?? null };
        await tx.update(referralBindings).set({ agentId: agent.id, source, boundAt: now, expiresAt }).where(eq(referralBindings.id, current!.id));
        return { agent_id: agent.id, bound: true, reason: decision.reason, expires_at: iso };
      });
    } catch (err) {
      if (pgErrorCode(err) === '23503') throw notFound('customer', customerId);
      throw err;
    }
  }

  /** The agent a customer's orders are attributed to: its binding's while the binding lasts and the agent is active; else null. */
  async function boundAgentOf(customerId: string, db: DbOrTx = p.db): Promise<string | null> {
    const [row] = await db
      .select({ agentId: referralBindings.agentId, expiresAt: referralBindings.expiresAt, status: agents.status })
      .from(referralBindings)
      .innerJoin(agents, eq(agents.id, referralBindings.agentId))
      .where(eq(referralBindings.customerId, customerId));
    if (!row) return null;
    return isActiveBinding({ agentId: row.agentId, expiresAt: row.expiresAt, agentActive: row.status === 'active' }, p.clock.now()) ? row.agentId : null;
  }

  /** The customer's binding as it stands (expired or not), for staff; null without one. */
  async function bindingOf(customerId: string): Promise<BindingView | null> {
    const [row] = await p.db
      .select({ agentId: referralBindings.agentId, agentName: agents.name, agentStatus: agents.status, source: referralBindings.source, boundAt: referralBindings.boundAt, expiresAt: referralBindings.expiresAt })
      .from(referralBindings)
      .innerJoin(agents, eq(agents.id, referralBindings.agentId))
      .where(eq(referralBindings.customerId, customerId));
    if (!row) return null;
    return {
      customer_id: customerId,
      agent_id: row.agentId,
      agent_name: row.agentName,
      agent_status: row.agentStatus,
      source: row.source,
      bound_at: row.boundAt.toISOString(),
      expires_at: row.expiresAt?.toISOString() ?? null,
      active: isActiveBinding({ agentId: row.agentId, expiresAt: row.expiresAt, agentActive: row.agentStatus === 'active' }, p.clock.now()),
    };
  }

  return { bindCustomer, boundAgentOf, bindingOf };
}

/** The SQLSTATE of a database error, through the driver's and drizzle's wrappers. */
export function pgErrorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
