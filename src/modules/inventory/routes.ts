import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { VaultService } from '../vault/service.js';
import { holderTypes, type InventoryService } from './service.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Allocation = Type.Object({
  id: Type.String(),
  sku_id: Type.String(),
  holder_type: Type.String(),
  holder_id: Type.String(),
  available: Type.Integer(),
  low_stock_threshold: Type.Integer(),
  status: Type.String(),
  created_at: Type.String(),
});
const Figures = Type.Object({
  sku_id: Type.String(),
  available: Type.Integer(),
  available_free: Type.Integer(),
  available_allocated: Type.Integer(),
  reserved: Type.Integer(),
  sold: Type.Integer(),
  delivered: Type.Integer(),
  revealed: Type.Integer(),
  redeemed: Type.Integer(),
  expired: Type.Integer(),
  voided: Type.Integer(),
  expiring_soon: Type.Integer(),
});
const tags = ['admin: stock'];

export async function inventoryRoutes(fastify: FastifyInstance, opts: { inventory: InventoryService; vault: VaultService; expiringWithinDays: number }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { inventory } = opts;

  app.get(
    '/admin/stock',
    {
      config: { permission: 'catalog:read' },
      schema: {
        tags,
        summary: 'Stock figures per SKU, counted from the codes themselves',
        querystring: Strict({ sku_id: Type.Union([Id('sku'), Type.Array(Id('sku'), { maxItems: 100 })]) }),
        response: { 200: Type.Object({ data: Type.Array(Figures) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await opts.vault.stockFigures([request.query.sku_id].flat(), opts.expiringWithinDays) }),
  );

  app.get(
    '/admin/stock/allocations',
    {
      config: { permission: 'catalog:read' },
      schema: { tags, summary: 'Active allocations with what is left in each', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('alc')), sku_id: Type.Optional(Id('sku')) }), response: { 200: Page(Allocation), ...errorResponses } },
    },
    async (request) => inventory.list({ limit: request.query.limit, cursor: request.query.cursor, skuId: request.query.sku_id }),
  );

  app.post(
    '/admin/stock/allocations',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Set aside part of a SKU\'s free pool for a channel, agent or campaign',
        body: Strict({
          sku_id: Id('sku'),
          holder_type: Type.Union(holderTypes.map((h) => Type.Literal(h))),
          holder_id: Type.String({ minLength: 1, maxLength: 64 }),
          quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          low_stock_threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
        }),
        response: { 201: Allocation, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await inventory.allocate({ skuId: b.sku_id, holderType: b.holder_type, holderId: b.holder_id, quantity: b.quantity, lowStockThreshold: b.low_stock_threshold }, staffOf(request)));
    },
  );

  app.post(
    '/admin/stock/allocations/:id/adjust',
    {
      config: { permission: 'catalog:write' },
      schema: { tags, summary: 'Add codes to (delta > 0) or return codes from (delta < 0) an allocation', params: IdParams('alc'), body: Strict({ delta: Type.Integer({ minimum: -1_000_000, maximum: 1_000_000 }) }), response: { 200: Allocation, ...errorResponses } },
    },
    async (request) => inventory.adjust(request.params.id, request.body.delta, staffOf(request)),
  );

  app.delete(
    '/admin/stock/allocations/:id',
    { config: { permission: 'catalog:write' }, schema: { tags, summary: 'Release an allocation: its unsold codes return to the free pool', params: IdParams('alc'), response: { 200: Type.Object({ id: Type.String(), returned: Type.Integer() }), ...errorResponses } } },
    async (request) => inventory.release(request.params.id, staffOf(request)),
  );
}
