import { and, desc, eq, inArray } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import type { Platform } from '../../platform.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { queryRows } from '../../db/raw.js';
import type { AuditService } from '../audit/service.js';
import type { AuthService } from '../auth/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { VaultService } from '../vault/service.js';
import { merchantProducts, merchants, redemptions, storeStaff, stores } from './schema.js';
import { createRedeemer, type CodeOwnerLookup } from './redeem.js';
import { createStaffLockout } from './lockout.js';
import type { AlertService } from '../alerts/service.js';

export interface Actor {
  id: string;
  ip?: string;
}

export interface MerchantView {
  id: string;
  name: string;
  status: string;
  product_ids: string[];
  created_at: string;
}
export interface StoreView {
  id: string;
  merchant_id: string;
  name: string;
  address: string | null;
  status: string;
  created_at: string;
}
export interface StaffView {
  id: string;
  store_id: string;
  merchant_id: string;
  name: string;
  api_key_id: string;
  disabled: boolean;
  created_at: string;
}

/** The store staff behind a signed request, with its store and merchant (both active). */
export interface StoreStaffPrincipal {
  staffId: string;
  storeId: string;
  merchantId: string;
}

const storeView = (s: typeof stores.$inferSelect): StoreView => ({ id: s.id, merchant_id: s.merchantId, name: s.name, address: s.address, status: s.status, created_at: s.createdAt.toISOString() });
const staffView = (s: typeof storeStaff.$inferSelect): StaffView => ({ id: s.id, store_id: s.storeId, merchant_id: s.merchantId, name: s.name, api_key_id: s.apiKeyId, disabled: s.disabled, created_at: s.createdAt.toISOString() });

const MAX_REPORT_DAYS = 366;

/**
 * Offline redemption (O2O, 核销): operations set up merchants (with the
 * products whose codes they accept), their stores and the stores' staff; a
 * staff member signs requests with an API key of owner_type 'store_staff'.
 * Redeeming itself is in redeem.ts.
 */
export function createRedemptionService(p: Platform, deps: { audit: AuditService; alerts: AlertService; auth: AuthService; catalog: CatalogService; vault: VaultService; ownerOfCode: CodeOwnerLookup }) {
  async function checkProducts(productIds: string[]) {
    for (const id of productIds) {
      try {
        await deps.catalog.getProduct(id);
      } catch {
        throw new AppError('VALIDATION_FAILED', `product_ids: product ${id} not found`, [{ field: 'product_ids', message: `product ${id} not found` }]);
      }
    }
  }

  async function productsOf(merchantIds: string[]): Promise<Map<string, string[]>> {
    const rows = merchantIds.length ? await p.db.select().from(merchantProducts).where(inArray(merchantProducts.merchantId, merchantIds)) : [];
    const out = new Map<string, string[]>(merchantIds.map((id) => [id, []]));
    for (const r of rows) out.get(r.merchantId)!.push(r.productId);
    return out;
  }

  async function getMerchant(id: string): Promise<MerchantView> {
    const [m] = await p.db.select().from(merchants).where(eq(merchants.id, id));
    if (!m) throw notFound('merchant', id);
    return { id: m.id, name: m.name, status: m.status, product_ids: (await productsOf([id])).get(id)!.sort(), created_at: m.createdAt.toISOString() };
  }

  async function createMerchant(input: { name: string; productIds: string[] }, actor: Actor): Promise<MerchantView> {
    const productIds = [...new Set(input.productIds)];
    await checkProducts(productIds);
    const id = newId('mch', p.clock.now());
    await p.db.transaction(async (tx) => {
      await tx.insert(merchants).values({ id, name: input.name, createdBy: actor.id, createdAt: p.clock.now() });
      if (productIds.length) await tx.insert(merchantProducts).values(productIds.map((productId) => ({ merchantId: id, productId, createdAt: p.clock.now() })));
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'merchant.create', targetType: 'merchant', targetId: id, ip: actor.ip, details: { name: input.name, product_ids: productIds } }, tx);
    });
    return getMerchant(id);
  }

  /** Replaces the list of products whose codes the merchant accepts. */
  async function setMerchantProducts(merchantId: string, productIds: string[], actor: Actor): Promise<MerchantView> {
    const unique = [...new Set(productIds)];
    await getMerchant(merchantId);
    await checkProducts(unique);
    await p.db.transaction(async (tx) => {
      await tx.delete(merchantProducts).where(eq(merchantProducts.merchantId, merchantId));
      if (unique.length) await tx.insert(merchantProducts).values(unique.map((productId) => ({ merchantId, productId, createdAt: p.clock.now() })));
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'merchant.products', targetType: 'merchant', targetId: merchantId, ip: actor.ip, details: { product_ids: unique } }, tx);
    });
    return getMerchant(merchantId);
  }

  async function listMerchants(q: { limit: number; cursor?: string }): Promise<PageResult<MerchantView>> {
    const rows = await p.db.select().from(merchants).where(pageFilter(merchants.id, q.cursor)).orderBy(desc(merchants.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    const products = await productsOf(page.data.map((m) => m.id));
    return { ...page, data: page.data.map((m) => ({ id: m.id, name: m.name, status: m.status, product_ids: products.get(m.id)!.sort(), created_at: m.createdAt.toISOString() })) };
  }

  async function createStore(input: { merchantId: string; name: string; address?: string }, actor: Actor): Promise<StoreView> {
    await getMerchant(input.merchantId);
    const id = newId('sto', p.clock.now());
    return p.db.transaction(async (tx) => {
      const [s] = await tx.insert(stores).values({ id, merchantId: input.merchantId, name: input.name, address: input.address ?? null, createdAt: p.clock.now() }).returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'store.create', targetType: 'store', targetId: id, ip: actor.ip, details: { merchant_id: input.merchantId } }, tx);
      return storeView(s!);
    });
  }

  async function listStores(q: { limit: number; cursor?: string; merchantId?: string }): Promise<PageResult<StoreView>> {
    const rows = await p.db
      .select()
      .from(stores)
      .where(pageFilter(stores.id, q.cursor, q.merchantId ? eq(stores.merchantId, q.merchantId) : undefined))
      .orderBy(desc(stores.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(storeView) };
  }

  /**
   * A staff account and its signing key (the secret is in this answer only).
   * The key is written first (by the auth module, in its own transaction): a
   * failure after it leaves a key whose owner does not exist, which every
   * redemption route refuses.
   */
  async function createStaff(input: { storeId: string; name: string }, actor: Actor): Promise<{ staff: StaffView; api_key: { id: string; secret: string } }> {
    const [store] = await p.db.select().from(stores).where(eq(stores.id, input.storeId));
    if (!store) throw notFound('store', input.storeId);
    const id = newId('sst', p.clock.now());
    const key = await deps.auth.createApiKey({ ownerType: 'store_staff', ownerId: id, name: `${store.name}: ${input.name}`.slice(0, 64) }, actor);
    const row = await p.db.transaction(async (tx) => {
      const [s] = await tx.insert(storeStaff).values({ id, storeId: store.id, merchantId: store.merchantId, name: input.name, apiKeyId: key.id, createdAt: p.clock.now() }).returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'store_staff.create', targetType: 'store_staff', targetId: id, ip: actor.ip, details: { store_id: store.id, api_key_id: key.id } }, tx);
      return s!;
    });
    return { staff: staffView(row), api_key: { id: key.id, secret: key.secret } };
  }

  async function listStaff(q: { storeId: string; limit: number; cursor?: string }): Promise<PageResult<StaffView>> {
    const rows = await p.db.select().from(storeStaff).where(pageFilter(storeStaff.id, q.cursor, eq(storeStaff.storeId, q.storeId))).orderBy(desc(storeStaff.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(staffView) };
  }

  /** The staff member an API key belongs to; refused unless the key is a store staff key and staff, store and merchant are active. */
  async function principalOf(key: { ownerType: string; ownerId: string; keyId: string }): Promise<StoreStaffPrincipal> {
    if (key.ownerType !== 'store_staff') throw new AppError('FORBIDDEN', `redemptions need a store staff key; this key belongs to a ${key.ownerType}`);
    const [row] = await p.db
      .select({ staff: storeStaff, storeStatus: stores.status, merchantStatus: merchants.status })
      .from(storeStaff)
      .innerJoin(stores, eq(stores.id, storeStaff.storeId))
      .innerJoin(merchants, eq(merchants.id, storeStaff.merchantId))
      .where(and(eq(storeStaff.id, key.ownerId), eq(storeStaff.apiKeyId, key.keyId)));
    if (!row || row.staff.disabled) throw new AppError('FORBIDDEN', 'this store staff account is unknown or disabled');
    if (row.storeStatus !== 'active' || row.merchantStatus !== 'active') throw new AppError('FORBIDDEN', 'this store or its merchant is not active');
    return { staffId: row.staff.id, storeId: row.staff.storeId, merchantId: row.staff.merchantId };
  }

  /** Redemptions per day (UTC) and SKU at one store (or all stores of a merchant) in [from, to). */
  async function report(q: { storeId?: string; merchantId?: string; from: Date; to: Date }) {
    if (!(q.from < q.to)) throw new AppError('VALIDATION_FAILED', 'to: must be after from', [{ field: 'to', message: 'must be after from' }]);
    if (q.to.getTime() - q.from.getTime() > MAX_REPORT_DAYS * 86_400_000) throw new AppError('VALIDATION_FAILED', `to: at most ${MAX_REPORT_DAYS} days after from`, [{ field: 'to', message: `at most ${MAX_REPORT_DAYS} days after from` }]);
    const rows = await queryRows<{ day: string; sku_id: string; count: number; face_value_fen: string }>(
      p.db,
      `select to_char(redeemed_at at time zone 'UTC', 'YYYY-MM-DD') as day, sku_id, count(*)::int as count, sum(face_value_fen)::bigint as face_value_fen
         from redemptions
        where redeemed_at >= $1::timestamptz and redeemed_at < $2::timestamptz
          and ($3::text is null or store_id = $3) and ($4::text is null or merchant_id = $4)
        group by 1, 2 order by 1, 2`,
      [q.from.toISOString(), q.to.toISOString(), q.storeId ?? null, q.merchantId ?? null],
    );
    const data = rows.map((r) => ({ day: r.day, sku_id: r.sku_id, count: Number(r.count), face_value_fen: Number(r.face_value_fen) }));
    return {
      store_id: q.storeId ?? null,
      merchant_id: q.merchantId ?? null,
      from: q.from.toISOString(),
      to: q.to.toISOString(),
      rows: data,
      total: { count: data.reduce((s, r) => s + r.count, 0), face_value_fen: data.reduce((s, r) => s + r.face_value_fen, 0) },
    };
  }

  async function listRedemptions(q: { limit: number; cursor?: string; storeId?: string }) {
    const rows = await p.db
      .select()
      .from(redemptions)
      .where(pageFilter(redemptions.id, q.cursor, q.storeId ? eq(redemptions.storeId, q.storeId) : undefined))
      .orderBy(desc(redemptions.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(redemptionView) };
  }

  /** Of these SKUs, those whose codes a store can redeem now (an active merchant with an active store accepts the product). */
  async function storeRedeemableSkus(skuIds: string[]): Promise<Set<string>> {
    const skus = await deps.catalog.listSkus([...new Set(skuIds)]);
    const productIds = [...new Set(skus.map((s) => s.product_id))];
    if (productIds.length === 0) return new Set();
    const rows = await p.db
      .selectDistinct({ productId: merchantProducts.productId })
      .from(merchantProducts)
      .innerJoin(merchants, eq(merchants.id, merchantProducts.merchantId))
      .innerJoin(stores, and(eq(stores.merchantId, merchants.id), eq(stores.status, 'active')))
      .where(and(eq(merchants.status, 'active'), inArray(merchantProducts.productId, productIds)));
    const accepted = new Set(rows.map((r) => r.productId));
    return new Set(skus.filter((s) => accepted.has(s.product_id)).map((s) => s.id));
  }

  const redeemer = createRedeemer(p, { vault: deps.vault, catalog: deps.catalog, ownerOfCode: deps.ownerOfCode });
  const lockout = createStaffLockout(p, { alerts: deps.alerts }, { failuresPerStaff: p.config.staffVerifyLockoutFailures, failuresPerStore: p.config.staffVerifyLockoutStoreFailures, windowSeconds: p.config.staffVerifyLockoutWindowSeconds });

  /** Verify under the failed-lookup limit: an answer that this merchant does not accept the product counts like an unknown code. */
  const verify = (staff: StoreStaffPrincipal, input: string) => lockout.guard(staff, () => redeemer.verify(staff, input), (r) => (r.reason === 'NOT_ACCEPTED_HERE' ? r.reason : null));
  const redeem = (staff: StoreStaffPrincipal, input: string, idempotencyKey: string) => lockout.guard(staff, () => redeemer.redeem(staff, input, idempotencyKey), () => null);

  return { createMerchant, setMerchantProducts, getMerchant, listMerchants, createStore, listStores, createStaff, listStaff, principalOf, report, listRedemptions, storeRedeemableSkus, issueQrToken: redeemer.issueQrToken, verify, redeem };
}

export function redemptionView(r: typeof redemptions.$inferSelect) {
  return {
    id: r.id,
    code_id: r.codeId,
    sku_id: r.skuId,
    product_id: r.productId,
    merchant_id: r.merchantId,
    store_id: r.storeId,
    staff_id: r.staffId,
    face_value_fen: r.faceValueFen,
    via: r.via,
    redeemed_at: r.redeemedAt.toISOString(),
  };
}

export type RedemptionService = ReturnType<typeof createRedemptionService>;
