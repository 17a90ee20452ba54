import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { pageFilter } from '../../db/paging.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { Credentials, SupplierContext } from './context.js';
import type { MarginGuard } from './margin-guard.js';
import { skuSuppliers, supplierOrders, supplierProducts, suppliers } from './schema.js';
import { assertSupplierUrl } from './url-policy.js';
import { assertWebhookUrl } from '../webhooks/url-guard.js';
import { skuSupplierView, supplierOrderView, supplierProductView, supplierView, type SkuSupplierView, type SupplierOrderView, type SupplierProductView, type SupplierView } from './views.js';

export interface NewSupplier {
  name: string;
  baseUrl: string;
  apiKey: string;
  callbackSecret: string;
  timeoutMs?: number;
}

export type SupplierPatch = Partial<NewSupplier & { status: 'active' | 'disabled' }>;

export interface Actor {
  id: string;
  ip?: string;
}

export const supplierStatuses = ['active', 'disabled'] as const;

function checkTimeout(ms: number | undefined) {
  if (ms !== undefined && (!Number.isInteger(ms) || ms < 100 || ms > 30_000)) throw new AppError('VALIDATION_FAILED', 'timeout_ms: must be 100-30000', [{ field: 'timeout_ms', message: 'must be 100-30000' }]);
}
function checkSecret(field: string, value: string | undefined) {
  if (value !== undefined && (value.length < 8 || value.length > 512)) throw new AppError('VALIDATION_FAILED', `${field}: must be 8-512 characters`, [{ field, message: 'must be 8-512 characters' }]);
}

/** Suppliers, their SKU routing and the admin lists. Credentials go in sealed and never come out in a view. */
export function createRegistry(ctx: SupplierContext, guard: MarginGuard) {
  const { p, deps } = ctx;

  /** Server-side request forgery: a base URL must not reach our own network unless its host was allow-listed by name. */
  async function checkedBaseUrl(raw: string): Promise<string> {
    const url = assertSupplierUrl(raw, ctx.options.allowedHosts);
    if (ctx.options.allowPrivateNetworks ?? true) return url.toString();
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (ctx.options.allowedHosts?.some((e) => e.trim().toLowerCase() === host)) return url.toString();
    try {
      await assertWebhookUrl(url.toString(), { allowPrivateNetworks: false });
    } catch (err) {
      const message = err instanceof AppError ? err.message.replace(/^url: /, '') : 'is not reachable';
      throw new AppError('VALIDATION_FAILED', `base_url: ${message}`, [{ field: 'base_url', message }]);
    }
    return url.toString();
  }

  const seal = (supplierId: string, c: Credentials) => p.keyRing.wrap(Buffer.from(JSON.stringify(c), 'utf8'), supplierId);

  async function createSupplier(input: NewSupplier, actor: Actor): Promise<SupplierView> {
    const baseUrl = await checkedBaseUrl(input.baseUrl);
    checkTimeout(input.timeoutMs);
    checkSecret('api_key', input.apiKey);
    checkSecret('callback_secret', input.callbackSecret);
    const now = p.clock.now();
    const id = newId('sup', now);
    const sealed = seal(id, { apiKey: input.apiKey, callbackSecret: input.callbackSecret });
    const row = await p.db.transaction(async (tx) => {
      const [r] = await tx
        .insert(suppliers)
        .values({ id, name: input.name, adapter: 'http_json', baseUrl, credentialsSealed: sealed.sealed, credentialsKeyId: sealed.keyId, timeoutMs: input.timeoutMs ?? 5000, createdAt: now })
        .returning();
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'supplier.create', targetType: 'supplier', targetId: id, ip: actor.ip, details: { name: input.name, base_url: baseUrl } }, tx);
      return r!;
    });
    return supplierView(row);
  }

  async function updateSupplier(id: string, patch: SupplierPatch, actor: Actor): Promise<SupplierView> {
    const current = await ctx.getSupplier(id);
    const set: Partial<typeof suppliers.$inferInsert> = {};
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.baseUrl !== undefined) set.baseUrl = await checkedBaseUrl(patch.baseUrl);
    if (patch.timeoutMs !== undefined) {
      checkTimeout(patch.timeoutMs);
      set.timeoutMs = patch.timeoutMs;
    }
    if (patch.status !== undefined) set.status = patch.status;
    checkSecret('api_key', patch.apiKey);
    checkSecret('callback_secret', patch.callbackSecret);
    if (patch.apiKey !== undefined || patch.callbackSecret !== undefined) {
      const old = ctx.credentialsOf(current);
      const sealed = seal(id, { apiKey: patch.apiKey ?? old.apiKey, callbackSecret: patch.callbackSecret ?? old.callbackSecret });
      set.credentialsSealed = sealed.sealed;
      set.credentialsKeyId = sealed.keyId;
    }
    // The audit names what changed; secrets only as "changed".
    const details: Record<string, unknown> = { ...(set.name ? { name: set.name } : {}), ...(set.baseUrl ? { base_url: set.baseUrl } : {}), ...(set.timeoutMs ? { timeout_ms: set.timeoutMs } : {}), ...(set.status ? { status: set.status } : {}) };
    if (patch.apiKey !== undefined) details.api_key_changed = true;
    if (patch.callbackSecret !== undefined) details.callback_secret_changed = true;
    const row = await p.db.transaction(async (tx) => {
      const [r] = Object.keys(set).length ? await tx.update(suppliers).set(set).where(eq(suppliers.id, id)).returning() : [current];
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: patch.status === 'disabled' ? 'supplier.disable' : 'supplier.update', targetType: 'supplier', targetId: id, ip: actor.ip, details }, tx);
      return r!;
    });
    // Another supplier may now be the best (or the only) one for its SKUs.
    if (patch.status !== undefined && patch.status !== current.status) await guard.evaluateSupplierSkus(id);
    return supplierView(row);
  }

  const disableSupplier = (id: string, actor: Actor) => updateSupplier(id, { status: 'disabled' }, actor);

  async function getSupplierView(id: string): Promise<SupplierView> {
    return supplierView(await ctx.getSupplier(id));
  }

  async function listSuppliers(q: { limit: number; cursor?: string }): Promise<PageResult<SupplierView>> {
    const rows = await p.db
      .select()
      .from(suppliers)
      .where(pageFilter(suppliers.id, q.cursor))
      .orderBy(desc(suppliers.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(supplierView) };
  }

  /** Replaces a SKU's supplier list; the order given is the priority (first is tried first). */
  async function setSkuSuppliers(skuId: string, list: { supplierId: string; externalSku: string }[], actor: Actor): Promise<SkuSupplierView[]> {
    await deps.catalog.getSku(skuId);
    const ids = list.map((l) => l.supplierId);
    if (new Set(ids).size !== ids.length) throw new AppError('VALIDATION_FAILED', 'suppliers: a supplier appears twice', [{ field: 'suppliers', message: 'duplicate supplier' }]);
    const known = ids.length ? await p.db.select({ id: suppliers.id }).from(suppliers).where(inArray(suppliers.id, ids)) : [];
    const missing = ids.filter((id) => !known.some((k) => k.id === id));
    if (missing.length) throw new AppError('VALIDATION_FAILED', `suppliers: unknown supplier ${missing[0]}`, missing.map((m) => ({ field: 'suppliers', message: `unknown supplier ${m}` })));
    await p.db.transaction(async (tx) => {
      await tx.delete(skuSuppliers).where(eq(skuSuppliers.skuId, skuId));
      if (list.length) await tx.insert(skuSuppliers).values(list.map((l, i) => ({ skuId, supplierId: l.supplierId, externalSku: l.externalSku, priority: i + 1 })));
      await deps.audit.record(
        { actorType: 'staff', actorId: actor.id, action: 'supplier.route_sku', targetType: 'sku', targetId: skuId, ip: actor.ip, details: { suppliers: list.map((l, i) => ({ supplier_id: l.supplierId, external_sku: l.externalSku, priority: i + 1 })) } },
        tx,
      );
    });
    await guard.evaluateSku(skuId);
    return listSkuSuppliers(skuId);
  }

  async function listSkuSuppliers(skuId: string): Promise<SkuSupplierView[]> {
    const rows = await p.db
      .select({ mapping: skuSuppliers, supplier: { name: suppliers.name, status: suppliers.status, health: suppliers.health }, product: supplierProducts })
      .from(skuSuppliers)
      .innerJoin(suppliers, eq(suppliers.id, skuSuppliers.supplierId))
      .leftJoin(supplierProducts, and(eq(supplierProducts.supplierId, skuSuppliers.supplierId), eq(supplierProducts.externalSku, skuSuppliers.externalSku)))
      .where(eq(skuSuppliers.skuId, skuId))
      .orderBy(asc(skuSuppliers.priority));
    return rows.map((r) => skuSupplierView(r.mapping, r.supplier, r.product));
  }

  async function listSupplierProducts(supplierId: string, q: { limit: number; cursor?: string }): Promise<PageResult<SupplierProductView>> {
    await ctx.getSupplier(supplierId);
    const rows = await p.db.select().from(supplierProducts).where(pageFilter(supplierProducts.id, q.cursor, eq(supplierProducts.supplierId, supplierId))).orderBy(desc(supplierProducts.id)).limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(supplierProductView) };
  }

  async function listOrders(q: { limit: number; cursor?: string; status?: string; purchaseId?: string; supplierId?: string }): Promise<PageResult<SupplierOrderView>> {
    const where = pageFilter(
      supplierOrders.id,
      q.cursor,
      q.status ? eq(supplierOrders.status, q.status) : undefined,
      q.purchaseId ? eq(supplierOrders.purchaseId, q.purchaseId) : undefined,
      q.supplierId ? eq(supplierOrders.supplierId, q.supplierId) : undefined,
    );
    const rows = await p.db
      .select()
      .from(supplierOrders)
      .where(where)
      .orderBy(desc(supplierOrders.id))
      .limit(q.limit + 1);
    const page = toPage(rows, q.limit);
    return { ...page, data: page.data.map(supplierOrderView) };
  }

  return { createSupplier, updateSupplier, disableSupplier, getSupplier: getSupplierView, listSuppliers, setSkuSuppliers, listSkuSuppliers, listSupplierProducts, listOrders };
}
