import { and, desc, eq, inArray } from 'drizzle-orm';
import { queryRows, type Statement } from '../../db/raw.js';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { AlertService } from '../alerts/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { VaultService } from '../vault/service.js';
import { stockAllocations } from './schema.js';

export const holderTypes = ['channel', 'agent', 'campaign'] as const;
export type HolderType = (typeof holderTypes)[number];

interface Actor {
  id: string;
  ip?: string;
}

/**
 * Global stock per SKU with allocations to channels, agents and campaigns,
 * and the low-stock watch. The codes themselves live in the vault; this
 * module decides how the pool is divided and when to shout.
 */
export function createInventoryService(p: Platform, deps: { audit: AuditService; alerts: AlertService; catalog: CatalogService; vault: VaultService }) {
  async function allocate(input: { skuId: string; holderType: HolderType; holderId: string; quantity: number; lowStockThreshold?: number }, actor: Actor) {
    await deps.catalog.getSku(input.skuId);
    const id = newId('alc', p.clock.now());
    return p.db.transaction(async (tx) => {
      await tx.insert(stockAllocations).values({ id, skuId: input.skuId, holderType: input.holderType, holderId: input.holderId, lowStockThreshold: input.lowStockThreshold ?? 0, createdBy: actor.id, createdAt: p.clock.now() });
      const moved = await deps.vault.moveToAllocation(input.skuId, id, input.quantity, tx);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'stock.allocate', targetType: 'allocation', targetId: id, ip: actor.ip, details: { sku_id: input.skuId, holder: `${input.holderType}:${input.holderId}`, quantity: moved } }, tx);
      return get(id, tx);
    });
  }

  /** Tops up (positive) or gives back (negative) part of an allocation. */
  async function adjust(id: string, delta: number, actor: Actor) {
    if (!Number.isInteger(delta) || delta === 0) throw new AppError('VALIDATION_FAILED', 'delta: must be a non-zero integer', [{ field: 'delta', message: 'must be a non-zero integer' }]);
    return p.db.transaction(async (tx) => {
      const [a] = await tx.select().from(stockAllocations).where(eq(stockAllocations.id, id)).for('update');
      if (!a || a.status !== 'active') throw notFound('active allocation', id);
      if (delta > 0) await deps.vault.moveToAllocation(a.skuId, id, delta, tx);
      else await deps.vault.returnFromAllocation(id, -delta, tx);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'stock.allocation_adjust', targetType: 'allocation', targetId: id, ip: actor.ip, details: { delta } }, tx);
      return get(id, tx);
    });
  }

  async function release(id: string, actor: Actor) {
    return p.db.transaction(async (tx) => {
      const [a] = await tx.update(stockAllocations).set({ status: 'released', releasedAt: p.clock.now() }).where(and(eq(stockAllocations.id, id), eq(stockAllocations.status, 'active'))).returning();
      if (!a) throw notFound('active allocation', id);
      const returned = await deps.vault.returnFromAllocation(id, 'all', tx);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'stock.allocation_release', targetType: 'allocation', targetId: id, ip: actor.ip, details: { returned } }, tx);
      return { id, returned };
    });
  }

  // Inside a transaction, pass it: on the embedded database a second connection would wait for it forever.
  async function get(id: string, db: DbOrTx = p.db) {
    const [a] = await db.select().from(stockAllocations).where(eq(stockAllocations.id, id));
    if (!a) throw notFound('allocation', id);
    return toView(a, await deps.vault.availableIn(a.skuId, a.id, db));
  }

  /** The active allocation a holder sells from, if it has one for this SKU. */
  async function allocationFor(skuId: string, holderType: HolderType, holderId: string): Promise<string | null> {
    const [a] = await p.db
      .select({ id: stockAllocations.id })
      .from(stockAllocations)
      .where(and(eq(stockAllocations.skuId, skuId), eq(stockAllocations.holderType, holderType), eq(stockAllocations.holderId, holderId), eq(stockAllocations.status, 'active')));
    return a?.id ?? null;
  }

  /** The active agent allocations (quotas) of a SKU, as a statement to run with the order's first read. */
  function agentAllocationsStatement(skuId: string): Statement {
    return { text: `select id, holder_id as "holderId" from stock_allocations where sku_id = $1 and holder_type = 'agent' and status = 'active'`, values: [skuId] };
  }

  /** The same read on its own, and the quota an agent of this chain claims from (inside a transaction, pass it). */
  async function agentAllocationFor(skuId: string, chainPath: string, db: DbOrTx = p.db): Promise<string | null> {
    const st = agentAllocationsStatement(skuId);
    return agentAllocationOf(await queryRows<AgentAllocationRow>(db, st.text, st.values), chainPath);
  }

  /**
   * For each SKU, what an agent of this chain can buy: its quota (the allocation it would claim from first, see
   * agentAllocationOf) with what is left in it, and the free pool. Other agents' quotas are in neither.
   */
  async function agentStock(skuIds: string[], chainPath: string): Promise<Map<string, { allocationId: string | null; holderId: string | null; quota: number; free: number }>> {
    const out = new Map<string, { allocationId: string | null; holderId: string | null; quota: number; free: number }>();
    if (skuIds.length === 0) return out;
    const rows = await p.db
      .select({ id: stockAllocations.id, holderId: stockAllocations.holderId, skuId: stockAllocations.skuId })
      .from(stockAllocations)
      .where(and(inArray(stockAllocations.skuId, skuIds), eq(stockAllocations.holderType, 'agent'), eq(stockAllocations.status, 'active'), inArray(stockAllocations.holderId, chainPath.split('/'))));
    const figures = await deps.vault.stockFigures(skuIds);
    for (const f of figures) {
      const allocationId = agentAllocationOf(rows.filter((r) => r.skuId === f.sku_id), chainPath);
      out.set(f.sku_id, {
        allocationId,
        holderId: rows.find((r) => r.id === allocationId)?.holderId ?? null,
        quota: allocationId ? await deps.vault.availableIn(f.sku_id, allocationId) : 0,
        free: f.available_free,
      });
    }
    return out;
  }

  async function list(q: { limit: number; cursor?: string; skuId?: string }) {
    const where = pageFilter(stockAllocations.id, q.cursor, eq(stockAllocations.status, 'active'), q.skuId ? eq(stockAllocations.skuId, q.skuId) : undefined);
    const rows = await p.db.select().from(stockAllocations).where(where).orderBy(desc(stockAllocations.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const data = [];
    for (const a of page.data) data.push(toView(a, await deps.vault.availableIn(a.skuId, a.id)));
    return { ...page, data };
  }

  /**
   * Raises a low-stock alert per SKU (free pool + allocations under the SKU's
   * threshold) and per allocation (under its own threshold), and clears
   * alerts whose stock came back.
   */
  async function checkLowStock(): Promise<{ raised: number; cleared: number }> {
    let raised = 0;
    let cleared = 0;
    const skus = (await deps.catalog.listSkus()).filter((s) => s.on_sale || s.off_sale_reason);
    const figures = await deps.vault.stockFigures(skus.map((s) => s.id));
    for (const sku of skus) {
      const f = figures.find((x) => x.sku_id === sku.id)!;
      if (sku.low_stock_threshold > 0 && f.available < sku.low_stock_threshold) {
        const r = await deps.alerts.raise({ kind: 'low_stock', subjectType: 'sku', subjectId: sku.id, severity: f.available === 0 ? 'critical' : 'warning', message: `${sku.name}: ${f.available} codes left (threshold ${sku.low_stock_threshold})`, details: { available: f.available, threshold: sku.low_stock_threshold } });
        if (r.opened) raised++;
      } else if (await deps.alerts.clear('low_stock', sku.id)) cleared++;
    }
    const allocations = await p.db.select().from(stockAllocations).where(eq(stockAllocations.status, 'active'));
    for (const a of allocations) {
      const left = await deps.vault.availableIn(a.skuId, a.id);
      if (a.lowStockThreshold > 0 && left < a.lowStockThreshold) {
        const r = await deps.alerts.raise({ kind: 'low_stock', subjectType: 'allocation', subjectId: a.id, severity: left === 0 ? 'critical' : 'warning', message: `allocation ${a.holderType}:${a.holderId}: ${left} codes left (threshold ${a.lowStockThreshold})`, details: { available: left, threshold: a.lowStockThreshold, sku_id: a.skuId } });
        if (r.opened) raised++;
      } else if (await deps.alerts.clear('low_stock', a.id)) cleared++;
    }
    return { raised, cleared };
  }

  /** Codes expiring within `days`: one alert per SKU, cleared when none are left. */
  async function checkExpiring(days = 7): Promise<number> {
    const soon = await deps.vault.expiringSoon(days);
    for (const s of soon) {
      await deps.alerts.raise({ kind: 'codes_expiring', subjectType: 'sku', subjectId: s.skuId, severity: 'warning', message: `${s.count} unsold codes expire within ${days} days (first ${s.first})`, details: { count: s.count, first: s.first, days } });
    }
    const open = await deps.alerts.list({ limit: 100, open: true, kind: 'codes_expiring' });
    for (const a of open.data) if (!soon.some((s) => s.skuId === a.subject_id)) await deps.alerts.clear('codes_expiring', a.subject_id);
    return soon.length;
  }

  return { allocate, adjust, release, get, allocationFor, agentAllocationsStatement, agentAllocationFor, agentAllocationOf, agentStock, list, checkLowStock, checkExpiring };
}

export interface AgentAllocationRow {
  id: string;
  holderId: string;
}

/**
 * The allocation an agent claims from first: its own, else that of its nearest upline that has one (the chain path
 * runs from the root to the agent itself). Several of one holder: the oldest. None on the chain: null (free pool only).
 */
export function agentAllocationOf(rows: readonly AgentAllocationRow[], chainPath: string): string | null {
  const chain = chainPath.split('/').reverse();
  for (const agentId of chain) {
    const own = rows.filter((r) => r.holderId === agentId).sort((a, b) => a.id.localeCompare(b.id));
    if (own.length) return own[0]!.id;
  }
  return null;
}

function toView(a: typeof stockAllocations.$inferSelect, available: number) {
  return {
    id: a.id,
    sku_id: a.skuId,
    holder_type: a.holderType,
    holder_id: a.holderId,
    available,
    low_stock_threshold: a.lowStockThreshold,
    status: a.status,
    created_at: a.createdAt.toISOString(),
  };
}

export type InventoryService = ReturnType<typeof createInventoryService>;
