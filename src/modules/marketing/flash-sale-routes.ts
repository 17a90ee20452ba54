import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders } from '../customers/service.js';
import { gateInputOf } from '../risk/gate-http.js';
import type { FlashSaleService } from './flash-sale-service.js';
import type { FlashPurchase } from './flash-sale-purchase.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const SaleStatus = Type.Union([Type.Literal('upcoming'), Type.Literal('active'), Type.Literal('ended'), Type.Literal('cancelled')]);
const FlashSale = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sku_id: Type.String(),
  campaign_id: Nullable(Type.String()),
  price_fen: Type.Integer(),
  units: Type.Integer(),
  per_user_limit: Type.Integer(),
  starts_at: Type.String(),
  ends_at: Type.String(),
  status: SaleStatus,
  remaining: Nullable(Type.Integer({ description: 'units left as the gate counts them' })),
  created_at: Type.String(),
});
const FlashSaleDetail = Type.Object({
  ...FlashSale.properties,
  sold: Type.Integer({ description: 'units in the sale\'s orders that are not cancelled (the truth)' }),
  counter_sold: Type.Integer({ description: 'units the database\'s counter has taken (caps the sale whatever the gate says); equals sold unless something is wrong' }),
  gate_sold: Nullable(Type.Integer()),
  reconciled_at: Nullable(Type.String()),
  reconcile_difference: Nullable(Type.Integer({ description: 'at the last reconciliation: gate minus orders' })),
});
const Reconciled = Type.Object({ sale_id: Type.String(), gate_sold: Nullable(Type.Integer()), orders_sold: Type.Integer(), counter_sold: Type.Integer({ description: 'the database\'s counter; should equal orders_sold' }), difference: Type.Integer(), repaired: Type.Boolean() });
const Order = Type.Object({
  id: Type.String(),
  buyer_type: Type.String(),
  buyer_id: Type.String(),
  sku_id: Type.String(),
  quantity: Type.Integer(),
  unit_price_fen: Type.Integer(),
  amount_fen: Type.Integer(),
  status: Type.String(),
  payment_provider: Nullable(Type.String()),
  created_at: Type.String(),
  delivered_at: Nullable(Type.String()),
});
const Code = Type.Object({ code_id: Type.String(), card_number: Nullable(Type.String()), secret: Type.String() });
const Purchase = Type.Object({ order: Order, codes: Type.Array(Code), usage_instructions: Type.String(), review: Type.Optional(Type.Object({ decision_id: Type.String() })) });
const IdempotencyHeader = Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' });
const Cursor = Type.Optional(Type.String({ pattern: '^fls_[0-9A-HJKMNP-TV-Z]{26}$' }));

export async function flashSaleRoutes(fastify: FastifyInstance, opts: { flashSales: FlashSaleService; purchase: FlashPurchase }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { flashSales } = opts;
  const tags = ['admin: marketing'];

  app.post(
    '/admin/marketing/flash-sales',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Create a flash sale (Idempotency-Key required): units of one SKU at a flash price, in a window, with a per-buyer limit. Its units are loaded into the gate at once.',
        headers: Type.Object({ 'idempotency-key': IdempotencyHeader }),
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 120 }),
          sku_id: Type.String({ pattern: '^sku_[0-9A-HJKMNP-TV-Z]{26}$' }),
          price_fen: Type.Integer({ minimum: 1, maximum: 100_000_000 }),
          units: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
          per_user_limit: Type.Integer({ minimum: 1, maximum: 1000 }),
          starts_at: Type.String({ format: 'date-time' }),
          ends_at: Type.String({ format: 'date-time' }),
          campaign_id: Type.Optional(Type.String({ pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' })),
        }),
        response: { 201: FlashSaleDetail, 200: FlashSaleDetail, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const actor = staffOf(request);
      const done = await flashSales.create(
        { name: b.name, skuId: b.sku_id, priceFen: b.price_fen, units: b.units, perUserLimit: b.per_user_limit, startsAt: new Date(b.starts_at), endsAt: new Date(b.ends_at), campaignId: b.campaign_id ?? null },
        { id: actor.id, ip: actor.ip },
        request.headers['idempotency-key'],
      );
      return reply.code(done.status).send(done.sale);
    },
  );

  app.get(
    '/admin/marketing/flash-sales',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Flash sales, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Cursor, status: Type.Optional(SaleStatus) }), response: { 200: Page(FlashSale), ...errorResponses } },
    },
    async (request) => flashSales.list(request.query),
  );

  app.get(
    '/admin/marketing/flash-sales/:id',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One flash sale with units sold (orders) and left (gate)', params: IdParams('fls'), response: { 200: FlashSaleDetail, ...errorResponses } } },
    async (request) => flashSales.get(request.params.id),
  );

  app.post(
    '/admin/marketing/flash-sales/:id/cancel',
    {
      config: { permission: 'marketing:manage' },
      schema: { tags, summary: 'Cancel a flash sale that has not ended: every further attempt is refused; orders already placed stand. Repeating it is harmless.', params: IdParams('fls'), response: { 200: FlashSaleDetail, ...errorResponses } },
    },
    async (request) => {
      const actor = staffOf(request);
      return flashSales.cancel(request.params.id, { id: actor.id, ip: actor.ip });
    },
  );

  app.post(
    '/admin/marketing/flash-sales/:id/reconcile',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Reconcile an ended flash sale: compare the gate\'s count with the orders (the truth), make the gate say what the orders say and record the difference (the job does it by itself after every sale). Repeating it is harmless.',
        params: IdParams('fls'),
        response: { 200: Reconciled, ...errorResponses },
      },
    },
    async (request) => {
      const actor = staffOf(request);
      return flashSales.reconcile(request.params.id, { id: actor.id, ip: actor.ip });
    },
  );

  // ---- open API ----
  app.get(
    '/open/v1/flash-sales',
    {
      config: { signed: true },
      schema: { tags: ['open api'], summary: 'Flash sales that are on or coming (not ended, not cancelled), newest first, with units left', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Cursor }), response: { 200: Page(FlashSale), ...errorResponses } },
    },
    async (request) => flashSales.listOpen(request.query),
  );

  app.post(
    '/open/v1/flash-sales/:id/orders',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary:
          'Buy in a flash sale (Idempotency-Key required), paid from the prepaid balance; the codes are in the response. An agent key buys for itself, a partner names the customer. Refused at once, without touching anything: sold out (409 OUT_OF_STOCK), over the per-buyer limit (409 CONFLICT), not started / ended / cancelled (422); details.reason says which. An attempt let through whose order then fails (balance short, out of stock, risk) gives its place back (details.flash_sale.released). A retry with the same key answers with the same order.',
        params: IdParams('fls'),
        headers: Type.Object({ 'idempotency-key': IdempotencyHeader, 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({
          quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
          customer: Type.Optional(Strict({ provider: Type.Union(identityProviders.map((p) => Type.Literal(p))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'for partners: the end customer who buys' })),
        }),
        response: { 201: Purchase, 200: Purchase, 202: Purchase, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.apiKey!;
      const b = request.body;
      let buyer: Parameters<FlashPurchase['purchase']>[0]['buyer'];
      if (key.ownerType === 'agent') buyer = { type: 'agent', agentId: key.ownerId };
      else if (b.customer) buyer = { type: 'customer', provider: b.customer.provider, externalId: b.customer.external_id };
      else throw new AppError('VALIDATION_FAILED', 'customer: required for partner purchases', [{ field: 'customer', message: 'required' }]);
      const done = await opts.purchase.purchase({ saleId: request.params.id, apiKeyOwner: `${key.ownerType}:${key.ownerId}`, buyer, quantity: b.quantity ?? 1, idempotencyKey: request.headers['idempotency-key'], client: gateInputOf(request) });
      return reply.code(done.status).send({ order: done.order, codes: done.codes, usage_instructions: done.usageInstructions, ...(done.review ? { review: done.review } : {}) });
    },
  );
}
