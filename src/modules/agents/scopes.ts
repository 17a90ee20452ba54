import { eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { agentProductScopes } from './schema.js';
import { entryWithin, scopesByAgent, type ScopeEntry, type ScopeType } from './product-scope.js';
import type { AgentService } from './service.js';

export interface ScopeView {
  agent_id: string;
  /** false: no rows of its own, the agent inherits its upline's scope */
  restricted: boolean;
  entries: { scope_type: ScopeType; ref_id: string }[];
}

export const MAX_SCOPE_ENTRIES = 500;

/**
 * Product scopes of agents: staff set any agent's (admin), an upline sets
 * its direct children's within its own chain's scope (agent API). A set
 * replaces the whole list; an empty list removes the agent's own scope (it
 * inherits again). Audited. Selling checks the chain (see product-scope.ts).
 */
export function createAgentScopeService(p: Platform, deps: { audit: AuditService; agents: AgentService; catalog: CatalogService }) {
  async function get(agentId: string): Promise<ScopeView> {
    await deps.agents.get(agentId);
    const rows = await p.db.select().from(agentProductScopes).where(eq(agentProductScopes.agentId, agentId)).orderBy(agentProductScopes.scopeType, agentProductScopes.refId);
    return { agent_id: agentId, restricted: rows.length > 0, entries: rows.map((r) => ({ scope_type: r.scopeType as ScopeType, ref_id: r.refId })) };
  }

  /** An upline's view of a direct child's scope; anyone else's child is "not found". */
  async function getForUpline(uplineId: string, childId: string): Promise<ScopeView> {
    await childOf(uplineId, childId);
    return get(childId);
  }

  async function childOf(uplineId: string, childId: string) {
    const child = await deps.agents.get(childId).catch(() => null);
    if (!child || child.parent_id !== uplineId) throw notFound('agent', childId);
    return child;
  }

  /** Staff replace an agent's scope. */
  async function set(agentId: string, entries: ScopeEntry[], actor: { id: string; ip?: string }): Promise<ScopeView> {
    await deps.agents.get(agentId);
    return replace(agentId, await checked(entries, []), { actorType: 'staff', actorId: actor.id, ip: actor.ip });
  }

  /** An upline replaces a direct child's scope, within the scopes of its own chain. */
  async function setByUpline(uplineId: string, childId: string, entries: ScopeEntry[], ip?: string): Promise<ScopeView> {
    const upline = await deps.agents.seller(uplineId);
    if (upline.status !== 'active') throw new AppError('FORBIDDEN', 'this agent is frozen: it cannot change its team');
    await childOf(uplineId, childId);
    return replace(childId, await checked(entries, [...scopesByAgent(upline.scopes).values()]), { actorType: 'agent', actorId: uplineId, ip });
  }

  /** Entries deduplicated, each naming a real SKU or category, and within the given scopes (an upline chain's). */
  async function checked(entries: ScopeEntry[], within: ScopeEntry[][]): Promise<ScopeEntry[]> {
    if (entries.length > MAX_SCOPE_ENTRIES) throw new AppError('VALIDATION_FAILED', `entries: at most ${MAX_SCOPE_ENTRIES}`, [{ field: 'entries', message: `at most ${MAX_SCOPE_ENTRIES}` }]);
    const unique = [...new Map(entries.map((e) => [`${e.type}:${e.ref}`, e])).values()];
    const skuCategories = await deps.catalog.skuCategories(unique.filter((e) => e.type === 'sku').map((e) => e.ref));
    const categories = await deps.catalog.knownCategories(unique.filter((e) => e.type === 'category').map((e) => e.ref));
    unique.forEach((e) => {
      const field = `entries.${entries.findIndex((x) => x.type === e.type && x.ref === e.ref)}.ref_id`;
      if (e.type === 'sku' && !skuCategories.has(e.ref)) throw new AppError('VALIDATION_FAILED', `${field}: no SKU ${e.ref}`, [{ field, message: 'unknown SKU' }]);
      if (e.type === 'category' && !categories.has(e.ref)) throw new AppError('VALIDATION_FAILED', `${field}: no product is in the category ${e.ref}`, [{ field, message: 'unknown category' }]);
      if (!entryWithin(e, skuCategories.get(e.ref), within)) throw new AppError('FORBIDDEN', `${field}: outside this agent's product scope`, [{ field, message: "outside this agent's product scope" }]);
    });
    return unique;
  }

  async function replace(agentId: string, entries: ScopeEntry[], actor: { actorType: 'staff' | 'agent'; actorId: string; ip?: string }): Promise<ScopeView> {
    const before = await get(agentId);
    await p.db.transaction(async (tx) => {
      await tx.delete(agentProductScopes).where(eq(agentProductScopes.agentId, agentId));
      if (entries.length) await tx.insert(agentProductScopes).values(entries.map((e) => ({ agentId, scopeType: e.type, refId: e.ref })));
      await deps.audit.record(
        {
          actorType: actor.actorType,
          actorId: actor.actorId,
          action: 'agent.scope_set',
          targetType: 'agent',
          targetId: agentId,
          ip: actor.ip,
          details: { before: before.entries, after: entries.map((e) => ({ scope_type: e.type, ref_id: e.ref })) },
        },
        tx,
      );
    });
    return get(agentId);
  }

  return { get, getForUpline, set, setByUpline };
}

export type AgentScopeService = ReturnType<typeof createAgentScopeService>;
