import { and, asc, eq, gt, lt, type SQL } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { AppError, notFound } from '../../lib/errors.js';
import { assertFen } from '../../lib/money.js';
import type { PageResult } from '../../lib/pagination.js';
import { agents } from '../agents/schema.js';
import { agentResalePrices, skus } from './schema.js';

/**
 * Price control (against 窜货 price dumping): each agent states the price it
 * resells a SKU at, never below the SKU's min_resale_price_fen. Raising the
 * minimum does not rewrite agents' prices: the ones left below it are listed
 * as violations for staff to follow up.
 */
export interface ResalePriceView {
  agent_id: string;
  sku_id: string;
  price_fen: number;
  min_resale_price_fen: number | null;
  updated_at: string;
}

export interface ResaleViolationView {
  agent_id: string;
  agent_name: string;
  agent_status: string;
  price_fen: number;
  min_resale_price_fen: number;
  updated_at: string;
}

/** A page keyed by one id column (ascending), cursor = the last key of the page. */
function keyedPage<T>(rows: T[], limit: number, key: (r: T) => string): PageResult<T> {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  const last = data.at(-1);
  return { data, has_more: hasMore, next_cursor: hasMore && last ? key(last) : null };
}

export function createResalePriceService(p: Platform) {
  async function setResalePrice(agentId: string, skuId: string, priceFen: number): Promise<ResalePriceView> {
    assertFen(priceFen, 'price_fen');
    if (priceFen < 0) throw new AppError('VALIDATION_FAILED', 'price_fen: must not be negative', [{ field: 'price_fen', message: 'must not be negative' }]);
    const [agent] = await p.db.select({ id: agents.id, status: agents.status }).from(agents).where(eq(agents.id, agentId));
    if (!agent) throw notFound('agent', agentId);
    if (agent.status !== 'active') throw new AppError('FORBIDDEN', 'this agent is frozen: its prices cannot change');
    const [sku] = await p.db.select({ id: skus.id, min: skus.minResalePriceFen }).from(skus).where(eq(skus.id, skuId));
    if (!sku) throw notFound('SKU', skuId);
    if (sku.min !== null && priceFen < sku.min) {
      const message = `must be at least the SKU's minimum resale price of ${sku.min} fen`;
      throw new AppError('UNPROCESSABLE', `price_fen: ${message}`, [{ field: 'price_fen', message, minimum_fen: sku.min }]);
    }
    // The check and the write are two statements: a minimum raised in between leaves this price as a listed violation, not a silent hole.
    const now = p.clock.now();
    const [row] = await p.db
      .insert(agentResalePrices)
      .values({ agentId, skuId, priceFen, updatedAt: now })
      .onConflictDoUpdate({ target: [agentResalePrices.agentId, agentResalePrices.skuId], set: { priceFen, updatedAt: now } })
      .returning();
    return toView(row!, sku.min);
  }

  async function resalePrice(agentId: string, skuId: string, db: DbOrTx = p.db): Promise<ResalePriceView | null> {
    const [row] = await db
      .select({ r: agentResalePrices, min: skus.minResalePriceFen })
      .from(agentResalePrices)
      .innerJoin(skus, eq(skus.id, agentResalePrices.skuId))
      .where(and(eq(agentResalePrices.agentId, agentId), eq(agentResalePrices.skuId, skuId)));
    return row ? toView(row.r, row.min) : null;
  }

  /**
   * What a customer pays when buying through an agent (its link, bot or shop): the agent's own resale price, never below
   * the SKU's current minimum (a minimum raised after the agent set its price wins); null when the agent set none.
   */
  async function customerPriceThrough(agentId: string, skuId: string, db: DbOrTx = p.db): Promise<number | null> {
    const view = await resalePrice(agentId, skuId, db);
    return view ? Math.max(view.price_fen, view.min_resale_price_fen ?? 0) : null;
  }

  /** An agent's resale prices by SKU id (ascending), paginated. */
  async function listForAgent(agentId: string, q: { limit: number; cursor?: string }): Promise<PageResult<ResalePriceView>> {
    const where: SQL[] = [eq(agentResalePrices.agentId, agentId)];
    if (q.cursor) where.push(gt(agentResalePrices.skuId, q.cursor));
    const rows = await p.db
      .select({ r: agentResalePrices, min: skus.minResalePriceFen })
      .from(agentResalePrices)
      .innerJoin(skus, eq(skus.id, agentResalePrices.skuId))
      .where(and(...where))
      .orderBy(asc(agentResalePrices.skuId))
      .limit(q.limit + 1);
    return keyedPage(
      rows.map((x) => toView(x.r, x.min)),
      q.limit,
      (v) => v.sku_id,
    );
  }

  /** Agents whose resale price of a SKU is below its current minimum, by agent id (ascending), paginated. */
  async function violations(skuId: string, q: { limit: number; cursor?: string }): Promise<PageResult<ResaleViolationView>> {
    const [sku] = await p.db.select({ min: skus.minResalePriceFen }).from(skus).where(eq(skus.id, skuId));
    if (!sku) throw notFound('SKU', skuId);
    const min = sku.min;
    if (min === null) return { data: [], has_more: false, next_cursor: null };
    const where: SQL[] = [eq(agentResalePrices.skuId, skuId), lt(agentResalePrices.priceFen, min)];
    if (q.cursor) where.push(gt(agentResalePrices.agentId, q.cursor));
    const rows = await p.db
      .select({ r: agentResalePrices, name: agents.name, status: agents.status })
      .from(agentResalePrices)
      .innerJoin(agents, eq(agents.id, agentResalePrices.agentId))
      .where(and(...where))
      .orderBy(asc(agentResalePrices.agentId))
      .limit(q.limit + 1);
    return keyedPage(
      rows.map((x) => ({ agent_id: x.r.agentId, agent_name: x.name, agent_status: x.status, price_fen: x.r.priceFen, min_resale_price_fen: min, updated_at: x.r.updatedAt.toISOString() })),
      q.limit,
      (v) => v.agent_id,
    );
  }

  return { setResalePrice, resalePrice, customerPriceThrough, listForAgent, violations };
}

function toView(r: typeof agentResalePrices.$inferSelect, min: number | null): ResalePriceView {
  return { agent_id: r.agentId, sku_id: r.skuId, price_fen: r.priceFen, min_resale_price_fen: min, updated_at: r.updatedAt.toISOString() };
}

export type ResalePriceService = ReturnType<typeof createResalePriceService>;
