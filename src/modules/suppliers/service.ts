import type { Platform } from '../../platform.js';
import { createSupplierContext, type SupplierDeps, type SupplierServiceOptions } from './context.js';
import { createHealthCheck } from './health.js';
import { createMarginGuard } from './margin-guard.js';
import { createProcurement } from './procurement.js';
import { createRegistry } from './registry.js';
import { createSync } from './sync.js';

export type { SupplierDeps, SupplierServiceOptions, PurchasedCodesImport, SupplierRow } from './context.js';
export type { PurchaseInput, CallbackOutcome } from './procurement.js';
export type { NewSupplier, SupplierPatch, Actor } from './registry.js';
export type { PurchaseResult, PurchaseStatus, SupplierView, SupplierOrderView, SupplierProductView, SkuSupplierView } from './views.js';

/**
 * Procurement from upstream suppliers: registering them (credentials sealed),
 * routing SKUs to them by priority, incremental catalogue sync with price
 * alerts and a margin guard, purchasing with failover that never buys twice,
 * signed callbacks applied exactly once, polling of unfinished orders, and
 * health and balance checks.
 */
export function createSupplierService(p: Platform, deps: SupplierDeps, options: SupplierServiceOptions = {}) {
  const ctx = createSupplierContext(p, deps, options);
  const guard = createMarginGuard(ctx);
  const registry = createRegistry(ctx, guard);
  const sync = createSync(ctx, guard);
  const procurement = createProcurement(ctx);
  const health = createHealthCheck(ctx);

  return {
    ...registry,
    syncSupplier: sync.syncSupplier,
    syncAll: sync.syncAll,
    evaluateMargin: guard.evaluateSku,
    purchase: procurement.purchase,
    handleCallback: procurement.handleCallback,
    pollOpenOrders: procurement.pollOpenOrders,
    /** Resolves when failover work started by callbacks has finished. */
    idle: procurement.idle,
    checkHealth: health.checkHealth,
  };
}

export type SupplierService = ReturnType<typeof createSupplierService>;
