import { and, asc, eq } from 'drizzle-orm';
import { formatFen } from '../../lib/money.js';
import type { SupplierContext } from './context.js';
import { skuSuppliers, supplierProducts, suppliers } from './schema.js';

export type MarginDecision = 'suspended' | 'resumed' | 'ok' | 'no_supplier';

export const MARGIN_GUARD_REASON = 'margin guard';

/**
 * Keeps a SKU's catalogue cost equal to what its best supplier charges now,
 * and takes it off sale while that cost is above the retail price (selling
 * would lose money on every unit). The best supplier is the first by
 * priority that is active and has the item available and in stock.
 */
export function createMarginGuard(ctx: SupplierContext) {
  const { p, deps } = ctx;

  async function evaluateSku(skuId: string): Promise<MarginDecision> {
    const rows = await p.db
      .select({ mapping: skuSuppliers, supplierStatus: suppliers.status, product: supplierProducts })
      .from(skuSuppliers)
      .innerJoin(suppliers, eq(suppliers.id, skuSuppliers.supplierId))
      .leftJoin(supplierProducts, and(eq(supplierProducts.supplierId, skuSuppliers.supplierId), eq(supplierProducts.externalSku, skuSuppliers.externalSku)))
      .where(eq(skuSuppliers.skuId, skuId))
      .orderBy(asc(skuSuppliers.priority));
    const best = rows.find((r) => r.supplierStatus === 'active' && r.product && r.product.available && r.product.stock > 0);
    // No supplier can fill it: nothing to compare; sale state is left as it is.
    if (!best?.product) return 'no_supplier';

    const sku = await deps.catalog.getSku(skuId);
    const cost = best.product.costFen;
    if (sku.costFen !== cost) await deps.catalog.setCost(skuId, cost);

    if (cost > sku.retailPriceFen) {
      const reason = `${MARGIN_GUARD_REASON}: supplier cost ${formatFen(cost)} above price ${formatFen(sku.retailPriceFen)}`;
      await deps.catalog.suspendSale(skuId, reason);
      await deps.alerts.raise({
        kind: 'margin_guard',
        subjectType: 'sku',
        subjectId: skuId,
        severity: 'critical',
        message: `SKU ${sku.name} taken off sale: ${reason}`,
        details: { sku_id: skuId, supplier_id: best.mapping.supplierId, external_sku: best.mapping.externalSku, cost_fen: cost, retail_price_fen: sku.retailPriceFen },
      });
      return 'suspended';
    }
    // Only a suspension of our own is lifted; a SKU taken off sale by hand stays off.
    const resumed = await deps.catalog.resumeSale(skuId, MARGIN_GUARD_REASON);
    await deps.alerts.clear('margin_guard', skuId);
    return resumed ? 'resumed' : 'ok';
  }

  /** Re-evaluates every SKU one supplier can fill (after a sync or a status change). */
  async function evaluateSupplierSkus(supplierId: string): Promise<Map<string, MarginDecision>> {
    const mapped = await p.db.selectDistinct({ skuId: skuSuppliers.skuId }).from(skuSuppliers).where(eq(skuSuppliers.supplierId, supplierId));
    const out = new Map<string, MarginDecision>();
    for (const { skuId } of mapped) {
      try {
        out.set(skuId, await evaluateSku(skuId));
      } catch (err) {
        p.logger.error({ err, sku: skuId }, 'margin guard could not evaluate SKU');
      }
    }
    return out;
  }

  return { evaluateSku, evaluateSupplierSkus };
}

export type MarginGuard = ReturnType<typeof createMarginGuard>;
