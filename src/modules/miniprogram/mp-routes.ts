import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError, notFound } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import type { ProductView, SkuView } from '../catalog/service.js';
import type { CouponService } from '../marketing/coupon-service.js';
import { Coupon } from '../marketing/coupon-routes.js';
import { couponStates } from '../marketing/coupon-rules.js';
import type { AfterSalesService } from '../after-sales/service.js';
import { Ticket } from '../after-sales/routes.js';
import type { WalletService } from '../wallet/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import { mpOrderRoutes, type MpOrderDeps } from './mp-orders.js';
import { mpWalletRoutes, type MpWalletDeps } from './mp-wallet.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) });

/** What a consumer sees of a SKU: the price a customer pays (retail), never costs or agent prices. */
const MpSku = Type.Object({
  id: Type.String(),
  product_id: Type.String(),
  name: Type.String(),
  face_value_fen: Type.Integer(),
  price_fen: Type.Integer({ description: 'what a customer pays per unit, before coupons' }),
  min_per_order: Type.Integer(),
  max_per_order: Type.Integer(),
  validity_days: Nullable(Type.Integer()),
  usage_instructions: Type.String(),
  one_tap_activation: Type.Boolean({ description: 'the brand has a redemption URL (the wallet opens it with the code)' }),
});
const MpProduct = Type.Object({ id: Type.String(), name: Type.String(), brand: Type.String(), category: Type.String(), kind: Type.String(), description: Type.String(), skus: Type.Array(MpSku) });

/** A coupon template as a customer may see it before claiming: its terms, never its budget or counters. */
const ClaimableCoupon = Type.Object({
  id: Type.String({ description: 'the template id (cpt_)' }), name: Type.String(), kind: Type.String({ description: 'fixed | percent | threshold' }), amount_off_fen: Nullable(Type.Integer()),
  percent_off_bps: Nullable(Type.Integer()), max_off_fen: Nullable(Type.Integer()), min_amount_fen: Type.Integer(), scope: Type.String(), valid_until: Nullable(Type.String()),
  valid_days: Nullable(Type.Integer({ description: 'usable this many days after the claim' })), per_user_limit: Type.Integer(),
});

const skuView = (s: SkuView) => ({
  id: s.id, product_id: s.product_id, name: s.name, face_value_fen: s.face_value_fen, price_fen: s.retail_price_fen, min_per_order: s.min_per_order, max_per_order: s.max_per_order,
  validity_days: s.validity_days, usage_instructions: s.usage_instructions, one_tap_activation: Boolean(s.redeem_url),
});
/** Top-up products are bought through the supplier purchase API, not as orders: the storefront leaves them out. */
const buyable = (prod: ProductView) => (prod.kind === 'topup' ? [] : prod.skus.filter((s) => s.on_sale));

const customerIdOf = (request: FastifyRequest) => {
  if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
  return request.customer.customerId;
};

export interface MpApiDeps extends MpOrderDeps {
  wallet: WalletService;
  storeRedeemableSkus: MpWalletDeps['storeRedeemableSkus'];
  coupons: CouponService;
  afterSales: AfterSalesService;
}

/**
 * The mini-program's customer API: thin wrappers over the same services the open API calls, with the session's
 * customer (request.customer) where a partner would name one. Every route needs the customer session.
 */
export async function mpApiRoutes(fastify: FastifyInstance, opts: MpApiDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog, coupons, afterSales } = opts;
  const tags = ['mini-program'];

  await app.register(mpOrderRoutes, opts);
  await app.register(mpWalletRoutes, { wallet: opts.wallet, storeRedeemableSkus: opts.storeRedeemableSkus });

  // ---- catalog ----
  app.get(
    '/mp/v1/catalog',
    {
      config: { customer: true },
      schema: { tags, summary: 'Products on sale with the SKUs a customer can buy and their price, newest first (a page may hold fewer products than limit: those with nothing on sale are left out)', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('prd')) }), response: { 200: Page(MpProduct), ...errorResponses } },
    },
    async (request) => {
      const page = await catalog.listProducts(request.query);
      const data = page.data.map((prod) => ({ id: prod.id, name: prod.name, brand: prod.brand, category: prod.category, kind: prod.kind, description: prod.description, skus: buyable(prod).map(skuView) })).filter((prod) => prod.skus.length > 0);
      return { ...page, data };
    },
  );

  app.get(
    '/mp/v1/catalog/skus/:id',
    { config: { customer: true }, schema: { tags, summary: 'One SKU on sale, with its product (404 when not on sale)', params: IdParams('sku'), response: { 200: Type.Object({ sku: MpSku, product: Type.Omit(MpProduct, ['skus']) }), ...errorResponses } } },
    async (request) => {
      const sku = await catalog.getSku(request.params.id);
      const prod = await catalog.getProduct(sku.productId);
      const view = buyable(prod).find((s) => s.id === sku.id);
      if (!view) throw notFound('SKU', request.params.id);
      return { sku: skuView(view), product: { id: prod.id, name: prod.name, brand: prod.brand, category: prod.category, kind: prod.kind, description: prod.description } };
    },
  );

  // ---- coupons ----
  app.get(
    '/mp/v1/coupons',
    {
      config: { customer: true },
      schema: { tags, summary: 'My coupons, newest first', querystring: Strict({ state: Type.Optional(Type.Union(couponStates.map((s) => Type.Literal(s)))), limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ucp')) }), response: { 200: Page(Coupon), ...errorResponses } },
    },
    async (request) => coupons.listCoupons({ customerId: customerIdOf(request), state: request.query.state, limit: request.query.limit, cursor: request.query.cursor }),
  );

  app.get(
    '/mp/v1/coupons/claimable',
    {
      config: { customer: true },
      schema: { tags, summary: 'Coupons I can claim now (claimable templates, active, in their window, not given out, under my limit), newest first; claim one with POST /mp/v1/coupons/claim', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('cpt')) }), response: { 200: Page(ClaimableCoupon), ...errorResponses } },
    },
    async (request) => {
      const page = await coupons.listClaimable({ customerId: customerIdOf(request), limit: request.query.limit, cursor: request.query.cursor });
      // Budgets and counters are the operators' business: the customer sees the terms only.
      const data = page.data.map((t) => ({ id: t.id, name: t.name, kind: t.kind, amount_off_fen: t.amount_off_fen, percent_off_bps: t.percent_off_bps, max_off_fen: t.max_off_fen, min_amount_fen: t.min_amount_fen, scope: t.scope, valid_until: t.valid_until, valid_days: t.valid_days, per_user_limit: t.per_user_limit }));
      return { ...page, data };
    },
  );

  app.post(
    '/mp/v1/coupons/claim',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Claim a claimable coupon (Idempotency-Key required). 404 not claimable, 409 limit reached, 422 paused or outside its window, 403 RISK_BLOCKED / CHALLENGE_REQUIRED (retry with the same key and X-Captcha)',
        headers: IdempotencyHeaders,
        body: Strict({ template_id: Id('cpt') }),
        response: { 201: Coupon, 200: Coupon, ...errorResponses },
      },
    },
    async (request, reply) => {
      const customerId = customerIdOf(request);
      const risk = opts.risk;
      await risk?.warm();
      const createdAt = risk ? new Date((await opts.customers.get(customerId)).created_at) : undefined;
      // The same gate as POST /open/v1/coupons/claim: a claim cannot wait for staff, so a review refuses like a block.
      const gate = risk
        ? async (valueFen: number) => {
            const d = await risk.assess({ action: 'coupon_claim', ...gateInputOf(request), account: { type: 'customer', id: customerId, ...(createdAt ? { createdAt } : {}) }, couponValueFen: valueFen });
            if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this claim was refused by our risk controls; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
          }
        : undefined;
      const done = await coupons.claim({ templateId: request.body.template_id, customerId, scope: `customer:${customerId}:coupon_claims`, idempotencyKey: request.headers['idempotency-key'], gate });
      return reply.code(done.statusCode).send(done.coupon);
    },
  );

  // ---- after-sales ----
  app.post(
    '/mp/v1/after-sales',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Report revealed codes I hold (bought, or received as a gift) that do not work (Idempotency-Key required). 404 not my order or code (a code I gave away is not mine); 422 codes not of the order or not revealed; 409 a code already has an open ticket',
        headers: Type.Object({ 'idempotency-key': IdempotencyHeaders.properties['idempotency-key'] }),
        body: Strict({
          order_id: Type.Optional({ ...Id('ord'), description: 'the order; may be left out (a gift\'s receiver does not know the giver\'s order): the codes name it' }),
          code_ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20, uniqueItems: true }),
          description: Type.String({ minLength: 1, maxLength: 2000 }),
          evidence_urls: Type.Optional(Type.Array(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 1000 }), { maxItems: 3, description: 'screenshots or photos, as links' })),
        }),
        response: { 201: Ticket, 200: Ticket, ...errorResponses },
      },
    },
    async (request, reply) => {
      const customerId = customerIdOf(request);
      const b = request.body;
      const r = await afterSales.open({ customerId, orderId: b.order_id, codeIds: b.code_ids, description: b.description, evidenceUrls: b.evidence_urls ?? [], scope: `customer:${customerId}:after_sales`, idempotencyKey: request.headers['idempotency-key'] });
      return reply.code(r.status).send(r.ticket);
    },
  );

  app.get(
    '/mp/v1/after-sales',
    { config: { customer: true }, schema: { tags, summary: 'My after-sales tickets, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ast')) }), response: { 200: Page(Ticket), ...errorResponses } } },
    async (request) => afterSales.list({ customerId: customerIdOf(request), limit: request.query.limit, cursor: request.query.cursor }),
  );

  app.get(
    '/mp/v1/after-sales/:id',
    { config: { customer: true }, schema: { tags, summary: 'One of my tickets with its history (anybody else\'s is not found)', params: IdParams('ast'), response: { 200: Ticket, ...errorResponses } } },
    async (request) => afterSales.get(request.params.id, customerIdOf(request)),
  );
}
