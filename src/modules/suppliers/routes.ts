import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { SupplierService } from './service.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const Supplier = Type.Object({
  id: Type.String(),
  name: Type.String(),
  adapter: Type.String(),
  base_url: Type.String(),
  timeout_ms: Type.Integer(),
  status: Type.String(),
  balance_fen: Nullable(Type.Integer()),
  health: Type.String({ description: 'unknown | up | degraded (1 failed call) | down (3 in a row)' }),
  consecutive_failures: Type.Integer(),
  last_error: Nullable(Type.String()),
  last_checked_at: Nullable(Type.String()),
  last_synced_at: Nullable(Type.String()),
  created_at: Type.String(),
});
const SupplierProduct = Type.Object({
  id: Type.String(),
  supplier_id: Type.String(),
  external_sku: Type.String(),
  name: Type.String(),
  cost_fen: Type.Integer(),
  stock: Type.Integer(),
  available: Type.Boolean(),
  supplier_updated_at: Nullable(Type.String()),
  synced_at: Type.String(),
});
const SkuSupplier = Type.Object({
  sku_id: Type.String(),
  supplier_id: Type.String(),
  supplier_name: Type.String(),
  supplier_status: Type.String(),
  supplier_health: Type.String(),
  external_sku: Type.String(),
  priority: Type.Integer(),
  cost_fen: Nullable(Type.Integer()),
  stock: Nullable(Type.Integer()),
  available: Nullable(Type.Boolean()),
});
const SupplierOrder = Type.Object({
  id: Type.String(),
  purchase_id: Type.String(),
  supplier_id: Type.String(),
  sku_id: Type.String(),
  external_sku: Type.String(),
  external_ref: Type.String(),
  attempt: Type.Integer(),
  quantity: Type.Integer(),
  account: Nullable(Type.String()),
  status: Type.String({ description: 'placing | pending | unknown | importing | succeeded | failed' }),
  supplier_order_id: Nullable(Type.String()),
  unit_cost_fen: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  created_at: Type.String(),
  updated_at: Type.String(),
});
const Purchase = Type.Object({
  purchase_id: Type.String(),
  status: Type.String({ description: 'succeeded | pending | failed | unknown' }),
  supplier_id: Nullable(Type.String()),
  attempts: Type.Integer(),
  codes_imported: Nullable(Type.Integer()),
});

const Name = Type.String({ minLength: 1, maxLength: 64 });
const BaseUrl = Type.String({ minLength: 8, maxLength: 500, description: 'http(s) URL of the supplier API' });
const Secret = (what: string) => Type.String({ minLength: 8, maxLength: 512, description: `${what}; stored sealed, never shown again` });
const TimeoutMs = Type.Integer({ minimum: 100, maximum: 30_000 });
const ExternalSku = Type.String({ minLength: 1, maxLength: 128 });
const SupplierId = Type.String({ pattern: '^sup_[0-9A-HJKMNP-TV-Z]{26}$' });

export async function supplierRoutes(fastify: FastifyInstance, opts: { suppliers: SupplierService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { suppliers } = opts;
  const tags = ['admin: suppliers'];

  app.get(
    '/admin/suppliers',
    { config: { permission: 'catalog:read' }, schema: { tags, summary: 'Suppliers with balance and health (credentials are never shown)', querystring: PageQuery, response: { 200: Page(Supplier), ...errorResponses } } },
    async (request) => suppliers.listSuppliers(request.query),
  );

  app.post(
    '/admin/suppliers',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Register a supplier speaking the http_json protocol',
        body: Strict({ name: Name, base_url: BaseUrl, api_key: Secret('API key'), callback_secret: Secret('callback signing secret'), timeout_ms: Type.Optional(TimeoutMs) }),
        response: { 201: Supplier, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const view = await suppliers.createSupplier({ name: b.name, baseUrl: b.base_url, apiKey: b.api_key, callbackSecret: b.callback_secret, timeoutMs: b.timeout_ms }, staffOf(request));
      return reply.code(201).send(view);
    },
  );

  app.patch(
    '/admin/suppliers/:id',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Change a supplier, rotate its credentials, or disable it',
        params: IdParams('sup'),
        body: Strict(
          {
            name: Type.Optional(Name),
            base_url: Type.Optional(BaseUrl),
            api_key: Type.Optional(Secret('API key')),
            callback_secret: Type.Optional(Secret('callback signing secret')),
            timeout_ms: Type.Optional(TimeoutMs),
            status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
          },
          { minProperties: 1 },
        ),
        response: { 200: Supplier, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return suppliers.updateSupplier(request.params.id, { name: b.name, baseUrl: b.base_url, apiKey: b.api_key, callbackSecret: b.callback_secret, timeoutMs: b.timeout_ms, status: b.status }, staffOf(request));
    },
  );

  app.post(
    '/admin/suppliers/:id/sync',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Sync the items that changed at this supplier since the last sync',
        params: IdParams('sup'),
        response: { 200: Type.Object({ supplier_id: Type.String(), changed: Type.Integer(), price_changes: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => {
      const r = await suppliers.syncSupplier(request.params.id);
      return { supplier_id: r.supplierId, changed: r.changed, price_changes: r.priceChanges };
    },
  );

  app.get(
    '/admin/suppliers/:id/products',
    {
      config: { permission: 'catalog:read' },
      schema: { tags, summary: 'What a supplier sells, as last synced', params: IdParams('sup'), querystring: PageQuery, response: { 200: Page(SupplierProduct), ...errorResponses } },
    },
    async (request) => suppliers.listSupplierProducts(request.params.id, request.query),
  );

  app.get(
    '/admin/skus/:id/suppliers',
    { config: { permission: 'catalog:read' }, schema: { tags, summary: 'The suppliers that fill a SKU, by priority', params: IdParams('sku'), response: { 200: Type.Object({ data: Type.Array(SkuSupplier) }), ...errorResponses } } },
    async (request) => ({ data: await suppliers.listSkuSuppliers(request.params.id) }),
  );

  app.put(
    '/admin/skus/:id/suppliers',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Set the suppliers of a SKU; the order of the list is the priority (first is tried first)',
        params: IdParams('sku'),
        body: Strict({ suppliers: Type.Array(Strict({ supplier_id: SupplierId, external_sku: ExternalSku }), { maxItems: 20 }) }),
        response: { 200: Type.Object({ data: Type.Array(SkuSupplier) }), ...errorResponses },
      },
    },
    async (request) => ({
      data: await suppliers.setSkuSuppliers(
        request.params.id,
        request.body.suppliers.map((s) => ({ supplierId: s.supplier_id, externalSku: s.external_sku })),
        staffOf(request),
      ),
    }),
  );

  app.get(
    '/admin/supplier-orders',
    {
      config: { permission: 'catalog:read' },
      schema: {
        tags,
        summary: 'Orders placed at suppliers (one row per try), newest first',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^spo_[0-9A-HJKMNP-TV-Z]{26}$' })),
          status: Type.Optional(Type.Union(['placing', 'pending', 'unknown', 'importing', 'succeeded', 'failed'].map((s) => Type.Literal(s)))),
          purchase_id: Type.Optional(Type.String({ maxLength: 64 })),
          supplier_id: Type.Optional(SupplierId),
        }),
        response: { 200: Page(SupplierOrder), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return suppliers.listOrders({ limit: q.limit, cursor: q.cursor, status: q.status, purchaseId: q.purchase_id, supplierId: q.supplier_id });
    },
  );

  app.post(
    '/admin/supplier-purchases',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Buy from the SKU’s suppliers with failover; idempotent on purchase_id',
        body: Strict({
          purchase_id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
          sku_id: Type.String({ pattern: '^sku_[0-9A-HJKMNP-TV-Z]{26}$' }),
          quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
          account: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'top-up target account' })),
        }),
        response: { 200: Purchase, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const r = await suppliers.purchase({ purchaseId: b.purchase_id, skuId: b.sku_id, quantity: b.quantity, account: b.account });
      return { purchase_id: r.purchaseId, status: r.status, supplier_id: r.supplierId ?? null, attempts: r.attempts, codes_imported: r.codesImported ?? null };
    },
  );

  // ---- supplier callbacks: public, authenticated by the supplier's signature ----
  app.post(
    '/callbacks/suppliers/:id',
    {
      config: { public: true },
      schema: {
        tags: ['callbacks'],
        summary: 'Order result pushed by a supplier (X-Supplier-Timestamp, X-Supplier-Signature)',
        params: IdParams('sup'),
        response: { 200: Type.Object({ ok: Type.Boolean(), outcome: Type.String() }), ...errorResponses },
      },
    },
    async (request) => {
      const { outcome } = await suppliers.handleCallback(request.params.id, request.headers, request.rawBody ?? '');
      return { ok: true, outcome };
    },
  );
}
