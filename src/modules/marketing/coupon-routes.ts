import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CustomerService } from '../customers/service.js';
import { identityProviders } from '../customers/service.js';
import type { RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import { couponKinds, couponScopes, couponStates } from './coupon-rules.js';
import type { CouponService } from './coupon-service.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Fen = (description?: string) => Type.Integer({ minimum: 1, maximum: 100_000_000_00, ...(description ? { description } : {}) });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) });

export const CouponTemplate = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String({ description: 'fixed | percent | threshold (满减)' }),
  amount_off_fen: Nullable(Type.Integer()),
  percent_off_bps: Nullable(Type.Integer({ description: 'basis points: 1500 = 15% off' })),
  max_off_fen: Nullable(Type.Integer()),
  min_amount_fen: Type.Integer(),
  scope: Type.String(),
  scope_ids: Type.Array(Type.String()),
  valid_from: Nullable(Type.String()),
  valid_until: Nullable(Type.String()),
  valid_days: Nullable(Type.Integer()),
  per_user_limit: Type.Integer(),
  total_limit: Nullable(Type.Integer()),
  budget_fen: Nullable(Type.Integer()),
  issued_count: Type.Integer(),
  used_count: Type.Integer(),
  spent_fen: Type.Integer({ description: 'discounts of orders that used the coupons (never above budget_fen)' }),
  stackable_with_offers: Type.Boolean(),
  claimable: Type.Boolean(),
  new_user_pack: Type.Boolean(),
  campaign_id: Nullable(Type.String()),
  status: Type.String(),
  created_by: Nullable(Type.String()),
  created_at: Type.String(),
});
export const Coupon = Type.Object({
  id: Type.String(),
  template_id: Type.String(),
  customer_id: Type.String(),
  state: Type.String({ description: 'available | used | expired | void' }),
  valid_from: Type.String(),
  valid_until: Type.String(),
  source: Type.String(),
  order_id: Nullable(Type.String()),
  discount_fen: Nullable(Type.Integer()),
  used_at: Nullable(Type.String()),
  campaign_id: Nullable(Type.String()),
  created_at: Type.String(),
  terms: Type.Object({ name: Type.String(), kind: Type.String(), amount_off_fen: Nullable(Type.Integer()), percent_off_bps: Nullable(Type.Integer()), max_off_fen: Nullable(Type.Integer()), min_amount_fen: Type.Integer(), scope: Type.String(), stackable_with_offers: Type.Boolean() }),
});
const State = Type.Union(couponStates.map((s) => Type.Literal(s)));
const Customer = Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the end customer' });
const TemplateBody = Strict({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  kind: Type.Union(couponKinds.map((k) => Type.Literal(k))),
  amount_off_fen: Type.Optional(Fen('fixed and threshold: what it takes off')),
  percent_off_bps: Type.Optional(Type.Integer({ minimum: 1, maximum: 9_999, description: 'percent: basis points off (1500 = 15%)' })),
  max_off_fen: Type.Optional(Fen('percent: the most it takes off')),
  min_amount_fen: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000_00, description: 'the order amount needed (threshold: required)' })),
  scope: Type.Optional(Type.Union(couponScopes.map((s) => Type.Literal(s)), { default: 'all' })),
  scope_ids: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 500, description: 'product ids, category names or SKU ids, by scope' })),
  valid_from: Type.Optional(Type.String({ format: 'date-time' })),
  valid_until: Type.Optional(Type.String({ format: 'date-time', description: 'end of claims and of use' })),
  valid_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'usable this many days after issue (never past valid_until)' })),
  per_user_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
  total_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'how many may be issued' })),
  budget_fen: Type.Optional(Fen('the most the used coupons may take off, all together')),
  stackable_with_offers: Type.Optional(Type.Boolean({ description: 'usable on an order priced by an offer (flash sale, group buy...)' })),
  claimable: Type.Optional(Type.Boolean({ description: 'customers may claim it; otherwise grant only' })),
  new_user_pack: Type.Optional(Type.Boolean({ description: 'given once to every new customer' })),
  campaign_id: Type.Optional(Id('cmp')),
});

/** The API key's owner ("partner:p1", "agent:agt_…"): the scope of its Idempotency-Keys. */
const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;
const date = (s: string | undefined) => (s ? new Date(s) : null);

export async function couponRoutes(fastify: FastifyInstance, opts: { coupons: CouponService; customers: CustomerService; risk?: RiskService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { coupons, customers } = opts;

  // ---- open API: a partner acts for its end customers ----
  app.post(
    '/open/v1/coupons/claim',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'A customer claims a claimable coupon (Idempotency-Key required). Refused: 404 not claimable, 409 per-customer or total limit reached, 422 paused or outside its window, 403 RISK_BLOCKED / CHALLENGE_REQUIRED (retry with the same key and X-Captcha); nothing written on a refusal.',
        headers: IdempotencyHeaders,
        body: Strict({ template_id: Id('cpt'), customer: Customer }),
        response: { 201: Coupon, 200: Coupon, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const c = await customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
      const risk = opts.risk;
      await risk?.warm();
      const gate = risk
        ? async (valueFen: number) => {
            const d = await risk.assess({ action: 'coupon_claim', ...gateInputOf(request), account: { type: 'customer', id: c.customerId, ...(c.createdAt ? { createdAt: c.createdAt } : {}) }, couponValueFen: valueFen });
            // A claim cannot wait for staff: a review verdict refuses like a block (the decision id is the reference).
            if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this claim was refused by our risk controls; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
          }
        : undefined;
      const done = await coupons.claim({ templateId: b.template_id, customerId: c.customerId, scope: `${ownerOf(request)}:coupon_claims`, idempotencyKey: request.headers['idempotency-key'], gate });
      return reply.code(done.statusCode).send(done.coupon);
    },
  );

  app.get(
    '/open/v1/coupons',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'A customer\'s coupons, newest first (an unknown customer has none)',
        querystring: Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }), state: Type.Optional(State), limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ucp')) }),
        response: { 200: Page(Coupon), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const customerId = await customers.find({ provider: q.provider, externalId: q.external_id });
      if (!customerId) return { data: [], has_more: false, next_cursor: null };
      return coupons.listCoupons({ customerId, state: q.state, limit: q.limit, cursor: q.cursor });
    },
  );

  // ---- admin ----
  const tags = ['admin: marketing'];
  app.post(
    '/admin/marketing/coupon-templates',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'Create a coupon template (audited); inconsistent terms are 400 with the field', body: TemplateBody, response: { 201: CouponTemplate, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      const view = await coupons.createTemplate(
        {
          name: b.name,
          kind: b.kind,
          amountOffFen: b.amount_off_fen,
          percentOffBps: b.percent_off_bps,
          maxOffFen: b.max_off_fen,
          minAmountFen: b.min_amount_fen,
          scope: b.scope,
          scopeIds: b.scope_ids,
          validFrom: date(b.valid_from),
          validUntil: date(b.valid_until),
          validDays: b.valid_days,
          perUserLimit: b.per_user_limit,
          totalLimit: b.total_limit,
          budgetFen: b.budget_fen,
          stackableWithOffers: b.stackable_with_offers,
          claimable: b.claimable,
          newUserPack: b.new_user_pack,
          campaignId: b.campaign_id,
        },
        staffOf(request),
      );
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/admin/marketing/coupon-templates',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Coupon templates, newest first, with their counters', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('cpt')), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('paused')])), campaign_id: Type.Optional(Id('cmp')), claimable: Type.Optional(Type.Boolean()) }), response: { 200: Page(CouponTemplate), ...errorResponses } },
    },
    async (request) => {
      const q = request.query;
      return coupons.listTemplates({ limit: q.limit, cursor: q.cursor, status: q.status, campaignId: q.campaign_id, claimable: q.claimable });
    },
  );

  app.get('/admin/marketing/coupon-templates/:id', { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One coupon template with its counters', params: IdParams('cpt'), response: { 200: CouponTemplate, ...errorResponses } } }, async (request) => coupons.getTemplate(request.params.id));

  for (const [action, status] of [['pause', 'paused'], ['resume', 'active']] as const) {
    app.post(
      `/admin/marketing/coupon-templates/:id/${action}`,
      { config: { permission: 'marketing:manage' }, schema: { tags, summary: action === 'pause' ? 'Pause a template: no more claims or grants; coupons already issued stay usable (audited)' : 'Resume a paused template (audited)', params: IdParams('cpt'), response: { 200: CouponTemplate, ...errorResponses } } },
      async (request) => coupons.setTemplateStatus(request.params.id, status, staffOf(request)),
    );
  }

  app.post(
    '/admin/marketing/coupon-templates/:id/grant',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Give a coupon of this template to a customer (Idempotency-Key: a retry gives the same coupon; audited). The per-customer and total limits apply.',
        params: IdParams('cpt'),
        headers: Type.Object({ 'idempotency-key': IdempotencyHeaders.properties['idempotency-key'] }),
        body: Strict({ customer_id: Id('cus'), reason: Type.String({ minLength: 3, maxLength: 500 }) }),
        response: { 201: Coupon, 200: Coupon, ...errorResponses },
      },
    },
    async (request, reply) => {
      await customers.get(request.body.customer_id);
      const done = await coupons.grantByStaff({ templateId: request.params.id, customerId: request.body.customer_id, idempotencyKey: request.headers['idempotency-key'], reason: request.body.reason }, staffOf(request));
      return reply.code(done.created ? 201 : 200).send(done.coupon);
    },
  );

  app.get(
    '/admin/marketing/coupons',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Issued coupons, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ucp')), template_id: Type.Optional(Id('cpt')), customer_id: Type.Optional(Id('cus')), state: Type.Optional(State) }), response: { 200: Page(Coupon), ...errorResponses } },
    },
    async (request) => {
      const q = request.query;
      return coupons.listCoupons({ limit: q.limit, cursor: q.cursor, templateId: q.template_id, customerId: q.customer_id, state: q.state });
    },
  );

  app.get('/admin/marketing/coupons/:id', { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One issued coupon', params: IdParams('ucp'), response: { 200: Coupon, ...errorResponses } } }, async (request) => coupons.getCoupon(request.params.id));

  app.post(
    '/admin/marketing/coupons/:id/void',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'Withdraw an unused coupon (audited); a used one is 409', params: IdParams('ucp'), body: Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) }), response: { 200: Coupon, ...errorResponses } } },
    async (request) => coupons.voidCoupon(request.params.id, request.body.reason, staffOf(request)),
  );
}
