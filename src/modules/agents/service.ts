import { and, desc, eq, inArray, like, type SQL } from 'drizzle-orm';
import { queryRows, type Statement } from '../../db/raw.js';
import type { AuditService } from '../audit/service.js';
import { pageFilter } from '../../db/paging.js';
import { randomInt } from 'node:crypto';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { agents } from './schema.js';
import { createReferralBindings } from './bindings.js';
import { outOfScopeAgent, type ChainScopeRow } from './product-scope.js';

export const agentRoles = ['distributor', 'sub_agent', 'group_leader'] as const;
export type AgentRole = (typeof agentRoles)[number];

export interface AgentView {
  id: string;
  name: string;
  role: string;
  parent_id: string | null;
  depth: number;
  referral_code: string;
  status: string;
  created_at: string;
}

// No 0/O/1/I: referral codes are read aloud and typed in chats.
const REFERRAL_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function newReferralCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += REFERRAL_ALPHABET[randomInt(REFERRAL_ALPHABET.length)];
  return s;
}

/** An agent as selling sees it (see sellerStatement). */
export interface SellerInfo {
  id: string;
  depth: number;
  status: string;
  /** ids from the root, '/'-separated, ending with the agent itself */
  path: string;
  scopes: ChainScopeRow[];
}

export function createAgentService(p: Platform, deps: { audit: AuditService }) {
  /** `db`: the caller's transaction, when the agent comes with something else (an approved join application). */
  async function create(input: { name: string; role: AgentRole; parentId?: string; customerId?: string }, db: DbOrTx = p.db): Promise<AgentView> {
    let depth = 1;
    let pathPrefix = '';
    if (input.parentId) {
      const [parent] = await db.select().from(agents).where(eq(agents.id, input.parentId));
      if (!parent) throw notFound('upline agent', input.parentId);
      if (parent.status !== 'active') throw new AppError('UNPROCESSABLE', 'the upline agent is frozen');
      depth = parent.depth + 1;
      pathPrefix = `${parent.path}/`;
    }
    const id = newId('agt', p.clock.now());
    const [row] = await db
      .insert(agents)
      .values({ id, name: input.name, role: input.role, parentId: input.parentId ?? null, depth, path: `${pathPrefix}${id}`, referralCode: newReferralCode(), customerId: input.customerId ?? null, createdAt: p.clock.now() })
      .returning();
    return toView(row!);
  }

  async function list(q: { limit: number; cursor?: string; underAgentId?: string }): Promise<PageResult<AgentView>> {
    let downline: SQL | undefined;
    if (q.underAgentId) {
      const [root] = await p.db.select().from(agents).where(eq(agents.id, q.underAgentId));
      if (!root) throw notFound('agent', q.underAgentId);
      downline = like(agents.path, `${root.path}/%`);
    }
    const rows = await p.db.select().from(agents).where(pageFilter(agents.id, q.cursor, downline)).orderBy(desc(agents.id)).limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  async function get(id: string, db: DbOrTx = p.db): Promise<AgentView> {
    const [row] = await db.select().from(agents).where(eq(agents.id, id));
    if (!row) throw notFound('agent', id);
    return toView(row);
  }

  /** The agent whose account is this customer (agents.customer_id: the join flow, or a chat link); the active one first. */
  async function ofCustomer(customerId: string, db: DbOrTx = p.db): Promise<AgentView | null> {
    const rows = await db.select().from(agents).where(eq(agents.customerId, customerId)).orderBy(agents.id);
    const row = rows.find((r) => r.status === 'active') ?? rows[0];
    return row ? toView(row) : null;
  }

  /** Links an agent to a customer account (the chat bots' /link command); the customer's earlier agent link is dropped. */
  async function linkCustomer(agentId: string, customerId: string, db: DbOrTx = p.db): Promise<void> {
    await db.update(agents).set({ customerId: null }).where(eq(agents.customerId, customerId));
    const done = await db.update(agents).set({ customerId }).where(eq(agents.id, agentId)).returning({ id: agents.id });
    if (!done.length) throw notFound('agent', agentId);
  }

  async function byReferralCode(code: string): Promise<AgentView | null> {
    const [row] = await p.db.select().from(agents).where(eq(agents.referralCode, code.toUpperCase()));
    return row ? toView(row) : null;
  }

  /**
   * What selling needs to know of an agent buyer or seller, as a statement to run with the order's first read:
   * its level (depth), status, chain (path, root first, itself last) and the product scopes of that chain.
   */
  function sellerStatement(id: string): Statement {
    return {
      text: `select a.id, a.depth, a.status, a.path,
                    (select coalesce(json_agg(json_build_object('agentId', s.agent_id, 'type', s.scope_type, 'ref', s.ref_id)), '[]'::json)
                       from agent_product_scopes s where s.agent_id = any(string_to_array(a.path, '/'))) as scopes
             from agents a where a.id = $1`,
      values: [id],
    };
  }

  /** The same read on its own (inside a transaction, pass it). */
  async function seller(id: string, db: DbOrTx = p.db): Promise<SellerInfo> {
    const st = sellerStatement(id);
    const [row] = await queryRows<SellerInfo>(db, st.text, st.values);
    if (!row) throw notFound('agent', id);
    return row;
  }

  /**
   * Freezes an agent: from the next request its purchases, sales and payouts
   * are refused (orders and withdrawals check its status in their own
   * transactions). Its downline keeps working but is reported, for staff to
   * decide about each. Audited.
   */
  async function freeze(id: string, reason: string, actor: { id: string; ip?: string }) {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.select().from(agents).where(eq(agents.id, id)).for('update');
      if (!row) throw notFound('agent', id);
      if (row.status === 'frozen') throw new AppError('CONFLICT', 'the agent is already frozen');
      const [frozen] = await tx.update(agents).set({ status: 'frozen' }).where(eq(agents.id, id)).returning();
      const downline = await tx.select().from(agents).where(like(agents.path, `${row.path}/%`)).orderBy(agents.depth, agents.id).limit(101);
      const [count] = await queryRows<{ n: number }>(tx, 'select count(*)::int as n from agents where path like $1', [`${row.path}/%`]);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'agent.freeze', targetType: 'agent', targetId: id, ip: actor.ip, details: { reason, downline: Number(count?.n ?? 0) } }, tx);
      return { agent: toView(frozen!), downline: { count: Number(count?.n ?? 0), agents: downline.slice(0, 100).map(toView), truncated: downline.length > 100 } };
    });
  }

  async function unfreeze(id: string, reason: string, actor: { id: string; ip?: string }) {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.update(agents).set({ status: 'active' }).where(and(eq(agents.id, id), eq(agents.status, 'frozen'))).returning();
      if (!row) throw new AppError('CONFLICT', 'the agent is not frozen (or does not exist)');
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'agent.unfreeze', targetType: 'agent', targetId: id, ip: actor.ip, details: { reason } }, tx);
      return toView(row);
    });
  }

  /** The agent and its uplines, nearest first (level 1 is the agent itself). */
  async function chainOf(id: string, db: DbOrTx = p.db): Promise<(AgentView & { level: number })[]> {
    const [row] = await db.select().from(agents).where(eq(agents.id, id));
    if (!row) return [];
    const ids = row.path.split('/').reverse();
    const rows = await db.select().from(agents).where(inArray(agents.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((x) => (byId.has(x) ? [toView(byId.get(x)!)] : [])).map((v, i) => ({ ...v, level: i + 1 }));
  }

  /** Refuses (403, field sku_id) a sale of a SKU outside the product scope of the agent's chain. */
  function assertInScope(seller: Pick<SellerInfo, 'id' | 'scopes'>, sku: { id: string; category: string }) {
    const blocking = outOfScopeAgent(seller.scopes ?? [], sku);
    if (blocking) {
      const whose = blocking === seller.id ? 'this agent' : 'its upline';
      throw new AppError('FORBIDDEN', `sku_id: outside this agent's product scope (${whose})`, [{ field: 'sku_id', message: "outside this agent's product scope" }]);
    }
  }

  return { create, get, list, byReferralCode, ofCustomer, linkCustomer, sellerStatement, seller, assertInScope, freeze, unfreeze, chainOf, ...createReferralBindings(p) };
}

function toView(a: typeof agents.$inferSelect): AgentView {
  return { id: a.id, name: a.name, role: a.role, parent_id: a.parentId, depth: a.depth, referral_code: a.referralCode, status: a.status, created_at: a.createdAt.toISOString() };
}

export type AgentService = ReturnType<typeof createAgentService>;
