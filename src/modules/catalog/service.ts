import { queryRows, type Statement } from '../../db/raw.js';
import { and, desc, eq, inArray, like } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { AuditService } from '../audit/service.js';
import type { DbOrTx } from '../../db/client.js';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { assertFen } from '../../lib/money.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { products, skus } from './schema.js';
import { levelPrice, type LevelRule } from './level-pricing.js';
import { createLevelRules } from './level-rules.js';

export const productKinds = ['code', 'topup', 'cdk'] as const;
export type ProductKind = (typeof productKinds)[number];

export interface NewSku {
  name: string;
  faceValueFen: number;
  costFen: number;
  retailPriceFen: number;
  usageInstructions?: string;
  /** https URL where the brand redeems a code; `{code}` is replaced by the code (wallet one-tap activation). */
  redeemUrl?: string | null;
  agentPrices?: Record<string, number>;
  /** Lowest resale price agents may set (price control); null or absent: none. */
  minResalePriceFen?: number | null;
  regions?: string[];
  validityDays?: number | null;
  minPerOrder?: number;
  maxPerOrder?: number;
  reusable?: boolean;
  maxSalesPerCode?: number;
  lowStockThreshold?: number;
}

export type SkuPatch = Partial<NewSku & { onSale: boolean }>;

export interface SkuView {
  id: string;
  product_id: string;
  name: string;
  face_value_fen: number;
  cost_fen: number;
  retail_price_fen: number;
  agent_prices: Record<string, number>;
  min_resale_price_fen: number | null;
  regions: string[];
  validity_days: number | null;
  min_per_order: number;
  max_per_order: number;
  reusable: boolean;
  max_sales_per_code: number;
  low_stock_threshold: number;
  usage_instructions: string;
  redeem_url: string | null;
  on_sale: boolean;
  off_sale_reason: string | null;
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

function fieldError(field: string, message: string) {
  return new AppError('VALIDATION_FAILED', `${field}: ${message}`, [{ field, message }]);
}

/** Rules a SKU must keep whatever edits it: money in whole fen, sane limits. */
function checkSku(s: NewSku, prefix: string) {
  for (const f of ['faceValueFen', 'costFen', 'retailPriceFen'] as const) {
    assertFen(s[f], `${prefix}${f}`);
    if (s[f] < 0) throw fieldError(`${prefix}${f}`, 'must not be negative');
  }
  for (const [level, price] of Object.entries(s.agentPrices ?? {})) {
    if (!/^[1-9]\d?$/.test(level)) throw fieldError(`${prefix}agentPrices.${level}`, 'agent level must be 1-99');
    if (!Number.isSafeInteger(price) || price < 0) throw fieldError(`${prefix}agentPrices.${level}`, 'must be a whole number of fen');
  }
  // Agent level prices are what agents pay (wholesale) and may sit below the minimum; only the retail price may not.
  if (s.minResalePriceFen !== undefined && s.minResalePriceFen !== null) {
    assertFen(s.minResalePriceFen, `${prefix}minResalePriceFen`);
    if (s.minResalePriceFen < 0) throw fieldError(`${prefix}minResalePriceFen`, 'must not be negative');
    if (s.minResalePriceFen > s.retailPriceFen) throw fieldError(`${prefix}minResalePriceFen`, `must not exceed the retail price (${s.retailPriceFen} fen)`);
  }
  const min = s.minPerOrder ?? 1;
  const max = s.maxPerOrder ?? 10;
  if (min < 1 || max < min) throw fieldError(`${prefix}maxPerOrder`, 'must be at least minPerOrder (>= 1)');
  if ((s.maxSalesPerCode ?? 1) < 1) throw fieldError(`${prefix}maxSalesPerCode`, 'must be at least 1');
  if (!s.reusable && (s.maxSalesPerCode ?? 1) > 1) throw fieldError(`${prefix}maxSalesPerCode`, 'only reusable SKUs may sell a code more than once');
}

export interface SaleInfo {
  id: string;
  productId: string;
  onSale: boolean;
  offSaleReason: string | null;
  kind: string;
  minPerOrder: number;
  maxPerOrder: number;
  retailPriceFen: number;
  agentPrices: Record<string, number>;
  costFen: number;
  usageInstructions: string;
  /** The product's category (commission and product-scope checks). */
  category: string;
  /** The level price rules that may apply to this SKU (global and its category's), read with it. */
  levelRules: LevelRule[];
}

/** What pricing a SKU for an agent level needs; without levelRules (and costFen) only explicit level prices apply. */
export interface PricedSku {
  agentPrices: Record<string, number>;
  retailPriceFen: number;
  costFen?: number;
  category?: string;
  levelRules?: readonly LevelRule[];
}

export function createCatalogService(p: Platform, deps: { audit: AuditService }) {
  const levelRules = createLevelRules(p, deps);
  async function createProduct(input: { name: string; brand: string; category: string; kind: ProductKind; description?: string; skus: NewSku[] }): Promise<ProductView> {
    if (input.skus.length === 0) throw new AppError('VALIDATION_FAILED', 'skus: a product needs at least one SKU', [{ field: 'skus', message: 'at least one' }]);
    input.skus.forEach((s, i) => checkSku(s, `skus.${i}.`));
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
          redeemUrl: s.redeemUrl ?? null,
          agentPrices: s.agentPrices ?? {},
          minResalePriceFen: s.minResalePriceFen ?? null,
          regions: s.regions ?? ['CN'],
          validityDays: s.validityDays ?? null,
          minPerOrder: s.minPerOrder ?? 1,
          maxPerOrder: s.maxPerOrder ?? 10,
          reusable: s.reusable ?? false,
          maxSalesPerCode: s.reusable ? (s.maxSalesPerCode ?? 1) : 1,
          lowStockThreshold: s.lowStockThreshold ?? 10,
          createdAt: now,
        })),
      );
    });
    return getProduct(productId);
  }

  async function getProduct(id: string, db: DbOrTx = p.db): Promise<ProductView> {
    const [prod] = await db.select().from(products).where(eq(products.id, id));
    if (!prod) throw notFound('product', id);
    const rows = await db.select().from(skus).where(eq(skus.productId, id));
    return toView(prod, rows);
  }

  async function listProducts(q: { limit: number; cursor?: string }): Promise<PageResult<ProductView>> {
    const rows = await p.db
      .select()
      .from(products)
      .where(pageFilter(products.id, q.cursor))
      .orderBy(desc(products.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const skuRows = page.data.length ? await p.db.select().from(skus).where(inArray(skus.productId, page.data.map((r) => r.id))) : [];
    return { ...page, data: page.data.map((prod) => toView(prod, skuRows.filter((s) => s.productId === prod.id))) };
  }

  /** Inside a transaction pass it: the embedded database has one connection. */
  async function getSku(id: string, db: DbOrTx = p.db) {
    const [s] = await db.select().from(skus).where(eq(skus.id, id));
    if (!s) throw notFound('SKU', id);
    return s;
  }

  /** A SKU with its product's kind, in one query (the order path reads it on every sale). */
  /** What selling a SKU needs to know, read on every order (hand-written: the hot path). */
  async function saleInfo(id: string, db: DbOrTx = p.db): Promise<SaleInfo> {
    const st = saleInfoStatement(id);
    return saleInfoFrom(await queryRows<SaleInfo>(db, st.text, st.values), id);
  }

  /** The same read as a statement, to run together with another (see runTogether). */
  function saleInfoStatement(id: string): Statement {
    return {
      text: `select s.id, s.product_id as "productId", s.on_sale as "onSale", s.off_sale_reason as "offSaleReason", p.kind, s.min_per_order as "minPerOrder", s.max_per_order as "maxPerOrder",
                    s.retail_price_fen as "retailPriceFen", s.agent_prices as "agentPrices", s.cost_fen as "costFen", s.usage_instructions as "usageInstructions", p.category,
                    (select coalesce(json_agg(json_build_object('level', r.level, 'categoryId', r.category_id, 'markupBps', r.markup_bps, 'markupFen', r.markup_fen)), '[]'::json)
                       from level_price_rules r where r.category_id is null or r.category_id = p.category) as "levelRules"
             from skus s join products p on p.id = s.product_id where s.id = $1`,
      values: [id],
    };
  }

  function saleInfoFrom(rows: unknown[], id: string): SaleInfo {
    const row = rows[0] as SaleInfo | undefined;
    if (!row) throw notFound('SKU', id);
    return row;
  }

  async function updateSku(id: string, patch: SkuPatch, actor: { id: string; ip?: string }): Promise<SkuView> {
    const current = await getSku(id);
    const merged: NewSku = {
      name: patch.name ?? current.name,
      faceValueFen: patch.faceValueFen ?? current.faceValueFen,
      costFen: patch.costFen ?? current.costFen,
      retailPriceFen: patch.retailPriceFen ?? current.retailPriceFen,
      agentPrices: patch.agentPrices ?? current.agentPrices,
      minResalePriceFen: patch.minResalePriceFen !== undefined ? patch.minResalePriceFen : current.minResalePriceFen,
      minPerOrder: patch.minPerOrder ?? current.minPerOrder,
      maxPerOrder: patch.maxPerOrder ?? current.maxPerOrder,
      reusable: patch.reusable ?? current.reusable,
      maxSalesPerCode: patch.maxSalesPerCode ?? current.maxSalesPerCode,
    };
    checkSku(merged, '');
    const set: Partial<typeof skus.$inferInsert> = { updatedAt: p.clock.now() };
    for (const [k, v] of Object.entries(patch)) if (v !== undefined) (set as Record<string, unknown>)[k] = v;
    // Putting a SKU back on sale by hand clears the platform's reason for taking it off.
    if (patch.onSale === true) set.offSaleReason = null;
    return p.db.transaction(async (tx) => {
      const [row] = await tx.update(skus).set(set).where(eq(skus.id, id)).returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'catalog.sku_update', targetType: 'sku', targetId: id, ip: actor.ip, details: patch as Record<string, unknown> }, tx);
      return toSkuView(row!);
    });
  }

  /** The platform takes a SKU off sale and says why (margin guard, supplier gone...). */
  async function suspendSale(id: string, reason: string): Promise<boolean> {
    const rows = await p.db.update(skus).set({ onSale: false, offSaleReason: reason, updatedAt: p.clock.now() }).where(and(eq(skus.id, id), eq(skus.onSale, true))).returning({ id: skus.id });
    return rows.length > 0;
  }

  /** Puts a SKU back on sale only if the platform took it off for a reason starting with `reasonPrefix`. */
  async function resumeSale(id: string, reasonPrefix: string): Promise<boolean> {
    const rows = await p.db
      .update(skus)
      .set({ onSale: true, offSaleReason: null, updatedAt: p.clock.now() })
      .where(and(eq(skus.id, id), eq(skus.onSale, false), like(skus.offSaleReason, `${reasonPrefix}%`)))
      .returning({ id: skus.id });
    return rows.length > 0;
  }

  async function setCost(id: string, costFen: number): Promise<void> {
    assertFen(costFen, 'costFen');
    await p.db.update(skus).set({ costFen, updatedAt: p.clock.now() }).where(eq(skus.id, id));
  }

  async function listSkus(ids?: string[]) {
    const rows = ids ? (ids.length ? await p.db.select().from(skus).where(inArray(skus.id, ids)) : []) : await p.db.select().from(skus);
    return rows.map(toSkuView);
  }

  /** The SKUs of every product in a category (the commission rules' scope check). */
  async function listSkusOfCategory(category: string, db: DbOrTx = p.db) {
    const rows = await db.select({ sku: skus }).from(skus).innerJoin(products, eq(products.id, skus.productId)).where(eq(products.category, category));
    return rows.map((r) => toSkuView(r.sku));
  }

  /** The category of each SKU (ids not found are left out). */
  async function skuCategories(ids: string[], db: DbOrTx = p.db): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await db.select({ id: skus.id, category: products.category }).from(skus).innerJoin(products, eq(products.id, skus.productId)).where(inArray(skus.id, ids));
    return new Map(rows.map((r) => [r.id, r.category]));
  }

  /** The categories of those given that some product is in. */
  async function knownCategories(categories: string[], db: DbOrTx = p.db): Promise<Set<string>> {
    if (categories.length === 0) return new Set();
    const rows = await db.selectDistinct({ category: products.category }).from(products).where(inArray(products.category, categories));
    return new Set(rows.map((r) => r.category));
  }

  /**
   * Unit price for a buyer: for an agent level, its explicit price, else its markup rule over the level above
   * (when the SKU comes with its rules, as saleInfo reads it), else retail; never above retail (see level-pricing.ts).
   */
  function priceFor(sku: PricedSku, agentLevel?: number): number {
    const rules = sku.costFen !== undefined ? (sku.levelRules ?? []) : [];
    return levelPrice({ agentPrices: sku.agentPrices, retailPriceFen: sku.retailPriceFen, costFen: sku.costFen ?? 0 }, rules, sku.category ?? null, agentLevel).priceFen;
  }

  return {
    listLevelRules: levelRules.list,
    putLevelRule: levelRules.put,
    deleteLevelRule: levelRules.remove,
    levelPricesOf: levelRules.preview,
    levelRules: levelRules.rules,
    skuCategories,
    knownCategories,
    createProduct, getProduct, listProducts, getSku, saleInfo, saleInfoStatement, saleInfoFrom, updateSku, suspendSale, resumeSale, setCost, listSkus, listSkusOfCategory, priceFor };
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
    skus: rows.sort((a, b) => a.id.localeCompare(b.id)).map(toSkuView),
  };
}

export function toSkuView(s: typeof skus.$inferSelect): SkuView {
  return {
    id: s.id,
    product_id: s.productId,
    name: s.name,
    face_value_fen: s.faceValueFen,
    cost_fen: s.costFen,
    retail_price_fen: s.retailPriceFen,
    agent_prices: s.agentPrices,
    min_resale_price_fen: s.minResalePriceFen,
    regions: s.regions,
    validity_days: s.validityDays,
    min_per_order: s.minPerOrder,
    max_per_order: s.maxPerOrder,
    reusable: s.reusable,
    max_sales_per_code: s.maxSalesPerCode,
    low_stock_threshold: s.lowStockThreshold,
    usage_instructions: s.usageInstructions,
    redeem_url: s.redeemUrl,
    on_sale: s.onSale,
    off_sale_reason: s.offSaleReason,
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;
