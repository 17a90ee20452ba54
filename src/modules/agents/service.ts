import { desc, eq, like, type SQL } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import { randomInt } from 'node:crypto';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { agents } from './schema.js';

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

export function createAgentService(p: Platform) {
  async function create(input: { name: string; role: AgentRole; parentId?: string; customerId?: string }): Promise<AgentView> {
    let depth = 1;
    let pathPrefix = '';
    if (input.parentId) {
      const [parent] = await p.db.select().from(agents).where(eq(agents.id, input.parentId));
      if (!parent) throw notFound('upline agent', input.parentId);
      if (parent.status !== 'active') throw new AppError('UNPROCESSABLE', 'the upline agent is frozen');
      depth = parent.depth + 1;
      pathPrefix = `${parent.path}/`;
    }
    const id = newId('agt', p.clock.now());
    const [row] = await p.db
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

  async function byReferralCode(code: string): Promise<AgentView | null> {
    const [row] = await p.db.select().from(agents).where(eq(agents.referralCode, code.toUpperCase()));
    return row ? toView(row) : null;
  }

  return { create, get, list, byReferralCode };
}

function toView(a: typeof agents.$inferSelect): AgentView {
  return { id: a.id, name: a.name, role: a.role, parent_id: a.parentId, depth: a.depth, referral_code: a.referralCode, status: a.status, created_at: a.createdAt.toISOString() };
}

export type AgentService = ReturnType<typeof createAgentService>;
