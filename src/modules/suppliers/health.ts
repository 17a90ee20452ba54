import { eq } from 'drizzle-orm';
import { formatFen } from '../../lib/money.js';
import type { SupplierContext } from './context.js';
import { suppliers } from './schema.js';

export const DEFAULT_BALANCE_LOW_FEN = 100_000; // ¥1,000

export interface HealthResult {
  supplierId: string;
  health: string;
  balanceFen: number | null;
  error?: string;
}

/**
 * Asks every active supplier for its balance. The call itself moves the
 * supplier's health (context.call); this turns health and balance into
 * supplier_down and supplier_balance_low alerts, raised and cleared.
 */
export function createHealthCheck(ctx: SupplierContext) {
  const { p, deps } = ctx;

  async function checkHealth(o: { balanceLowFen?: number } = {}): Promise<HealthResult[]> {
    const threshold = o.balanceLowFen ?? DEFAULT_BALANCE_LOW_FEN;
    const active = await p.db.select().from(suppliers).where(eq(suppliers.status, 'active'));
    const results: HealthResult[] = [];
    for (const supplier of active) {
      let balanceFen: number | null = null;
      let error: string | undefined;
      try {
        balanceFen = (await ctx.call(supplier, (a) => a.balance())).balanceFen;
        await p.db.update(suppliers).set({ balanceFen }).where(eq(suppliers.id, supplier.id));
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      const now = await ctx.getSupplier(supplier.id);
      if (now.health === 'down') {
        await deps.alerts.raise({
          kind: 'supplier_down',
          subjectType: 'supplier',
          subjectId: supplier.id,
          severity: 'critical',
          message: `supplier ${supplier.name} is down (${now.consecutiveFailures} failed calls in a row): ${(now.lastError ?? '').slice(0, 200)}`,
          details: { supplier_id: supplier.id, consecutive_failures: now.consecutiveFailures, last_error: now.lastError },
        });
      } else if (now.health === 'up') {
        await deps.alerts.clear('supplier_down', supplier.id);
      }
      if (balanceFen !== null) {
        if (balanceFen < threshold) {
          await deps.alerts.raise({
            kind: 'supplier_balance_low',
            subjectType: 'supplier',
            subjectId: supplier.id,
            severity: 'warning',
            message: `balance at ${supplier.name} is ${formatFen(balanceFen)}, below ${formatFen(threshold)}`,
            details: { supplier_id: supplier.id, balance_fen: balanceFen, threshold_fen: threshold },
          });
        } else {
          await deps.alerts.clear('supplier_balance_low', supplier.id);
        }
      }
      results.push({ supplierId: supplier.id, health: now.health, balanceFen, ...(error ? { error } : {}) });
    }
    return results;
  }

  return { checkHealth };
}
