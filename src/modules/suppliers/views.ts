import type { skuSuppliers, supplierOrders, supplierProducts } from './schema.js';
import type { SupplierRow } from './context.js';

/** What admins see of a supplier: never its API key or callback secret. */
export interface SupplierView {
  id: string;
  name: string;
  adapter: string;
  base_url: string;
  timeout_ms: number;
  status: string;
  balance_fen: number | null;
  health: string;
  consecutive_failures: number;
  last_error: string | null;
  last_checked_at: string | null;
  last_synced_at: string | null;
  created_at: string;
}

export interface SupplierProductView {
  id: string;
  supplier_id: string;
  external_sku: string;
  name: string;
  cost_fen: number;
  stock: number;
  available: boolean;
  supplier_updated_at: string | null;
  synced_at: string;
}

export interface SkuSupplierView {
  sku_id: string;
  supplier_id: string;
  supplier_name: string;
  supplier_status: string;
  supplier_health: string;
  external_sku: string;
  priority: number;
  /** As last synced; null before the first sync that saw the item. */
  cost_fen: number | null;
  stock: number | null;
  available: boolean | null;
}

/** One try of a purchase at one supplier. `result` holds the import outcome, never codes. */
export interface SupplierOrderView {
  id: string;
  purchase_id: string;
  supplier_id: string;
  sku_id: string;
  external_sku: string;
  external_ref: string;
  attempt: number;
  quantity: number;
  account: string | null;
  status: string;
  supplier_order_id: string | null;
  unit_cost_fen: number | null;
  error: string | null;
  result: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
}

export type PurchaseStatus = 'succeeded' | 'pending' | 'failed' | 'unknown';

export interface PurchaseResult {
  purchaseId: string;
  status: PurchaseStatus;
  /** The supplier of the try that decides the status (the last one). */
  supplierId?: string;
  attempts: number;
  codesImported?: number;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function supplierView(r: SupplierRow): SupplierView {
  return {
    id: r.id,
    name: r.name,
    adapter: r.adapter,
    base_url: r.baseUrl,
    timeout_ms: r.timeoutMs,
    status: r.status,
    balance_fen: r.balanceFen,
    health: r.health,
    consecutive_failures: r.consecutiveFailures,
    last_error: r.lastError,
    last_checked_at: iso(r.lastCheckedAt),
    last_synced_at: iso(r.lastSyncedAt),
    created_at: r.createdAt.toISOString(),
  };
}

export function supplierProductView(r: typeof supplierProducts.$inferSelect): SupplierProductView {
  return {
    id: r.id,
    supplier_id: r.supplierId,
    external_sku: r.externalSku,
    name: r.name,
    cost_fen: r.costFen,
    stock: r.stock,
    available: r.available,
    supplier_updated_at: r.supplierUpdatedAt,
    synced_at: r.syncedAt.toISOString(),
  };
}

export function skuSupplierView(
  m: typeof skuSuppliers.$inferSelect,
  s: Pick<SupplierRow, 'name' | 'status' | 'health'>,
  prod: Pick<typeof supplierProducts.$inferSelect, 'costFen' | 'stock' | 'available'> | null,
): SkuSupplierView {
  return {
    sku_id: m.skuId,
    supplier_id: m.supplierId,
    supplier_name: s.name,
    supplier_status: s.status,
    supplier_health: s.health,
    external_sku: m.externalSku,
    priority: m.priority,
    cost_fen: prod?.costFen ?? null,
    stock: prod?.stock ?? null,
    available: prod?.available ?? null,
  };
}

export function supplierOrderView(r: typeof supplierOrders.$inferSelect): SupplierOrderView {
  return {
    id: r.id,
    purchase_id: r.purchaseId,
    supplier_id: r.supplierId,
    sku_id: r.skuId,
    external_sku: r.externalSku,
    external_ref: r.externalRef,
    attempt: r.attempt,
    quantity: r.quantity,
    account: r.account,
    status: r.status,
    supplier_order_id: r.supplierOrderId,
    unit_cost_fen: r.costFen,
    error: r.error,
    result: r.result ?? null,
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
  };
}

/**
 * The state of a purchase from its tries: a success anywhere wins; an open
 * try (being placed, pending, importing) makes it pending; an unresolved one
 * unknown; only when every try failed has the purchase failed.
 */
export function summarisePurchase(purchaseId: string, tries: (typeof supplierOrders.$inferSelect)[]): PurchaseResult {
  const sorted = [...tries].sort((a, b) => a.attempt - b.attempt);
  const won = sorted.find((t) => t.status === 'succeeded');
  const last = sorted.at(-1);
  const base = { purchaseId, attempts: sorted.length };
  if (won) {
    const imported = won.result?.codes_imported;
    return { ...base, status: 'succeeded', supplierId: won.supplierId, ...(typeof imported === 'number' ? { codesImported: imported } : {}) };
  }
  const open = sorted.find((t) => t.status === 'placing' || t.status === 'pending' || t.status === 'importing');
  if (open) return { ...base, status: 'pending', supplierId: open.supplierId };
  const unknown = sorted.find((t) => t.status === 'unknown');
  if (unknown) return { ...base, status: 'unknown', supplierId: unknown.supplierId };
  return { ...base, status: 'failed', ...(last ? { supplierId: last.supplierId } : {}) };
}
