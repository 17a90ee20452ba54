import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders, type CustomerService } from '../customers/service.js';
import type { PointsService } from './points.js';
import type { PointsExchange } from './points-exchange.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
export const CustomerIdentity = Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the end customer' });
export const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });

const Entry = Type.Object({
  id: Type.String(),
  kind: Type.String({ description: 'earn | spend | expire | reverse | adjust' }),
  points: Type.Integer({ description: 'signed' }),
  remaining: Type.Integer({ description: 'earning lots: what is left of them' }),
  expires_at: Nullable(Type.String()),
  reason: Type.String(),
  ref_type: Type.String(),
  ref_id: Type.String(),
  created_at: Type.String(),
});
const Balance = Type.Object({ points: Type.Integer(), expiring_soon: Type.Array(Type.Object({ points: Type.Integer(), expires_at: Type.String() })) });
const PointsPage = Type.Object({ ...Balance.properties, history: Page(Entry) });
const Item = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String({ description: 'sku | coupon' }),
  sku_id: Nullable(Type.String()),
  coupon_template_id: Nullable(Type.String()),
  points_price: Type.Integer(),
  stock_limit: Nullable(Type.Integer()),
  exchanged_count: Type.Integer(),
  status: Type.String(),
  campaign_id: Nullable(Type.String()),
  created_at: Type.String(),
});
const Exchange = Type.Object({ id: Type.String(), item_id: Type.String(), customer_id: Type.String(), points: Type.Integer(), order_id: Nullable(Type.String()), coupon_id: Nullable(Type.String()), created_at: Type.String() });
const ItemStatus = Type.Union([Type.Literal('active'), Type.Literal('inactive')]);

/** The end customer of a partner's request (created on first sight, as orders do). Agent keys have no customer. */
export async function customerOfRequest(request: FastifyRequest, customers: Pick<CustomerService, 'resolve'>, identity: { provider: (typeof identityProviders)[number]; external_id: string }) {
  if (request.apiKey!.ownerType !== 'partner') throw new AppError('FORBIDDEN', 'customer marketing calls are made with a partner API key');
  return customers.resolve({ identity: { provider: identity.provider, externalId: identity.external_id } });
}

const balanceView = (b: Awaited<ReturnType<PointsService['balance']>>) => ({ points: b.points, expiring_soon: b.expiringSoon.map((x) => ({ points: x.points, expires_at: x.expiresAt })) });

export async function pointsRoutes(fastify: FastifyInstance, opts: { points: PointsService; exchange: PointsExchange; customers: Pick<CustomerService, 'resolve' | 'get'> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { points, exchange } = opts;
  const tags = ['open api: marketing'];

  app.get(
    '/open/v1/points',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: "A customer's points: balance, lots expiring within 30 days, and the history (newest first, paginated)",
        querystring: Strict({ provider: CustomerIdentity.properties.provider, external_id: CustomerIdentity.properties.external_id, limit: PageQuery.properties.limit, cursor: Type.Optional(Id('pnt')) }),
        response: { 200: PointsPage, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const c = await customerOfRequest(request, opts.customers, q);
      return { ...balanceView(await points.balance(c.customerId)), history: await points.history(c.customerId, { limit: q.limit, cursor: q.cursor }) };
    },
  );

  app.get(
    '/open/v1/points/items',
    { config: { signed: true }, schema: { tags, summary: 'What points can be exchanged for (active items)', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('pxi')) }), response: { 200: Page(Item), ...errorResponses } } },
    async (request) => exchange.listItems({ ...request.query, status: 'active' }),
  );

  app.post(
    '/open/v1/points/exchange',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'Exchange points for an item (Idempotency-Key required): a coupon, or a product delivered as an order paid by the promotion (read its codes with GET /open/v1/orders/:id/codes). 422 INSUFFICIENT_POINTS, 409 sold out.',
        headers: IdempotencyHeaders,
        body: Strict({ customer: CustomerIdentity, item_id: Id('pxi') }),
        response: { 201: Exchange, 200: Exchange, ...errorResponses },
      },
    },
    async (request, reply) => {
      const c = await customerOfRequest(request, opts.customers, request.body.customer);
      const owner = `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;
      const r = await exchange.exchange({ customerId: c.customerId, itemId: request.body.item_id, key: request.headers['idempotency-key'], scope: owner, apiKeyOwner: owner });
      return reply.code(r.status).send(r.exchange);
    },
  );

  // ---- staff ----
  const adminTags = ['admin: marketing'];
  app.post(
    '/admin/marketing/points/items',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags: adminTags,
        summary: 'Add an exchange item: a SKU (delivered as an order at its retail price, paid by the promotion budget) or a coupon template, for a points price (audited)',
        body: Strict({ name: Type.String({ minLength: 1, maxLength: 100 }), kind: Type.Union([Type.Literal('sku'), Type.Literal('coupon')]), sku_id: Type.Optional(Id('sku')), coupon_template_id: Type.Optional(Id('cpt')), points_price: Type.Integer({ minimum: 1, maximum: 100_000_000 }), stock_limit: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100_000_000 }))), campaign_id: Type.Optional(Id('cmp')) }),
        response: { 201: Item, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await exchange.createItem({ name: b.name, kind: b.kind, skuId: b.sku_id, couponTemplateId: b.coupon_template_id, pointsPrice: b.points_price, stockLimit: b.stock_limit, campaignId: b.campaign_id }, staffOf(request)));
    },
  );
  app.get(
    '/admin/marketing/points/items',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: 'Exchange items, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('pxi')), status: Type.Optional(ItemStatus) }), response: { 200: Page(Item), ...errorResponses } } },
    async (request) => exchange.listItems(request.query),
  );
  app.get(
    '/admin/marketing/points/items/:id',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: 'One exchange item', params: IdParams('pxi'), response: { 200: Item, ...errorResponses } } },
    async (request) => exchange.getItem(request.params.id),
  );
  app.patch(
    '/admin/marketing/points/items/:id',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags: adminTags,
        summary: 'Change an item: name, price, stock limit (not below what was exchanged), or take it off (inactive) (audited)',
        params: IdParams('pxi'),
        body: Strict({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })), points_price: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })), stock_limit: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100_000_000 }))), status: Type.Optional(ItemStatus) }),
        response: { 200: Item, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return exchange.updateItem(request.params.id, { name: b.name, pointsPrice: b.points_price, stockLimit: b.stock_limit, status: b.status }, staffOf(request));
    },
  );
  app.get(
    '/admin/marketing/points/exchanges',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: 'Exchanges, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('pxe')), customer_id: Type.Optional(Id('cus')) }), response: { 200: Page(Exchange), ...errorResponses } } },
    async (request) => exchange.listExchanges({ limit: request.query.limit, cursor: request.query.cursor, customerId: request.query.customer_id }),
  );
  app.get(
    '/admin/marketing/points/customers/:id',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: "A customer's points and history", params: IdParams('cus'), querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('pnt')) }), response: { 200: PointsPage, ...errorResponses } } },
    async (request) => ({ ...balanceView(await points.balance(request.params.id)), history: await points.history(request.params.id, request.query) }),
  );
  app.post(
    '/admin/marketing/points/customers/:id/adjust',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags: adminTags,
        summary: 'Grant (positive) or take (negative, never below zero: 422 INSUFFICIENT_POINTS) points; the reference makes a retry harmless (audited)',
        params: IdParams('cus'),
        body: Strict({ points: Type.Integer({ minimum: -100_000_000, maximum: 100_000_000 }), reason: Type.String({ minLength: 3, maxLength: 200 }), reference: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: Balance, ...errorResponses },
      },
    },
    async (request) => {
      await opts.customers.get(request.params.id);
      return balanceView(await exchange.adjust(request.params.id, request.body, staffOf(request)));
    },
  );
}
