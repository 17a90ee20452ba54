import { desc, eq, inArray, lt } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { assertFen } from '../../lib/money.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { products, skus } from './schema.js';

export const productKinds = ['code', 'topup', 'cdk'] as const;
export type ProductKind = (typeof productKinds)[number];

export interface NewSku {
  name: string;
  faceValueFen: number;
  costFen: number;
  retailPriceFen: number;
  usageInstructions?: string;
}

export interface SkuView {
  id: string;
  name: string;
  face_value_fen: number;
  cost_fen: number;
  retail_price_fen: number;
  usage_instructions: string;
  on_sale: boolean;
}

export interface ProductView {
  id: string;
  name: string;
  brand: string;
  category: string;
  kind: string;
  description: string;
  created_at: string;
  skus: SkuView[];
}

export function createCatalogService(p: Platform) {
  async function createProduct(input: { name: string; brand: string; category: string; kind: ProductKind; description?: string; skus: NewSku[] }): Promise<ProductView> {
    if (input.skus.length === 0) throw new AppError('VALIDATION_FAILED', 'skus: a product needs at least one SKU', [{ field: 'skus', message: 'at least one' }]);
    input.skus.forEach((s, i) => {
      for (const f of ['faceValueFen', 'costFen', 'retailPriceFen'] as const) {
        assertFen(s[f], `skus.${i}.${f}`);
        if (s[f] < 0) throw new AppError('VALIDATION_FAILED', `skus.${i}.${f}: must not be negative`, [{ field: `skus.${i}.${f}`, message: 'must not be negative' }]);
      }
    });
    const now = p.clock.now();
    const productId = newId('prd', now);
    await p.db.transaction(async (tx) => {
      await tx.insert(products).values({ id: productId, name: input.name, brand: input.brand, category: input.category, kind: input.kind, description: input.description ?? '', createdAt: now });
      await tx.insert(skus).values(
        input.skus.map((s) => ({
          id: newId('sku', now),
          productId,
          name: s.name,
          faceValueFen: s.faceValueFen,
          costFen: s.costFen,
          retailPriceFen: s.retailPriceFen,
          usageInstructions: s.usageInstructions ?? '',
          createdAt: now,
        })),
      );
    });
    return getProduct(productId);
  }

  async function getProduct(id: string): Promise<ProductView> {
    const [prod] = await p.db.select().from(products).where(eq(products.id, id));
    if (!prod) throw notFound('product', id);
    const rows = await p.db.select().from(skus).where(eq(skus.productId, id));
    return toView(prod, rows);
  }

  async function listProducts(q: { limit: number; cursor?: string }): Promise<PageResult<ProductView>> {
    const rows = await p.db
      .select()
      .from(products)
      .where(q.cursor ? lt(products.id, q.cursor) : undefined)
      .orderBy(desc(products.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const skuRows = page.data.length ? await p.db.select().from(skus).where(inArray(skus.productId, page.data.map((r) => r.id))) : [];
    return { ...page, data: page.data.map((prod) => toView(prod, skuRows.filter((s) => s.productId === prod.id))) };
  }

  async function getSku(id: string) {
    const [s] = await p.db.select().from(skus).where(eq(skus.id, id));
    if (!s) throw notFound('SKU', id);
    return s;
  }

  return { createProduct, getProduct, listProducts, getSku };
}

function toView(prod: typeof products.$inferSelect, rows: (typeof skus.$inferSelect)[]): ProductView {
  return {
    id: prod.id,
    name: prod.name,
    brand: prod.brand,
    category: prod.category,
    kind: prod.kind,
    description: prod.description,
    created_at: prod.createdAt.toISOString(),
    skus: rows
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((s) => ({
        id: s.id,
        name: s.name,
        face_value_fen: s.faceValueFen,
        cost_fen: s.costFen,
        retail_price_fen: s.retailPriceFen,
        usage_instructions: s.usageInstructions,
        on_sale: s.onSale,
      })),
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
