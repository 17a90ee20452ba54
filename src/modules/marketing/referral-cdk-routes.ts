import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CustomerService } from '../customers/service.js';
import { gateInputOf } from '../risk/gate-http.js';
import { CustomerRef, ownerOf } from './cdk-routes.js';
import type { ReferralCdkService } from './referral-cdk.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Referral = Type.Object({ id: Type.String(), code: Type.String({ description: 'the short code people type' }), owner_type: Type.String(), owner_id: Type.String(), status: Type.String(), link: Type.String(), rewarded_count: Type.Integer(), created_at: Type.String() });
const ReferralWithQr = Type.Object({ ...Referral.properties, qr_png: Type.String({ description: 'data:image/png;base64,… of the link' }) });
const Redemption = Type.Object({
  id: Type.String(),
  referral_cdk_id: Type.String(),
  referrer_type: Type.String(),
  referrer_id: Type.String(),
  customer_id: Type.String(),
  bound_agent_id: Nullable(Type.String()),
  reward_status: Type.String({ description: 'rewarded | not_new (earlier orders or already bound) | capped (referrer over its daily or total cap) | no_rewards' }),
  new_customer_reward: Nullable(Type.Record(Type.String(), Type.Unknown())),
  referrer_reward: Nullable(Type.Record(Type.String(), Type.Unknown())),
  created_at: Type.String(),
});
const Program = Type.Object({
  rewards: Type.Object({
    new_customer: Type.Object({ coupon_template_id: Nullable(Type.String()), promo_fen: Nullable(Type.Integer()) }),
    referrer: Type.Object({ promo_fen: Nullable(Type.Integer()), points: Nullable(Type.Integer()) }),
  }),
  per_referrer_daily_cap: Type.Integer(),
  per_referrer_total_cap: Type.Integer(),
  campaign_id: Nullable(Type.String()),
  enabled: Type.Boolean(),
  updated_by: Nullable(Type.String()),
  updated_at: Nullable(Type.String()),
});
const ListQuery = (prefix: string) => Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id(prefix)) });

/** The calling API key's agent. */
function agentOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', `a referral code needs an agent's API key; this key belongs to a ${key.ownerType}`);
  return key.ownerId;
}

export async function referralCdkRoutes(fastify: FastifyInstance, opts: { referrals: ReferralCdkService; customers: Pick<CustomerService, 'resolve'> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { referrals } = opts;
  const agentTags = ['open api: agent back office'];
  const tags = ['admin: marketing'];

  app.get(
    '/open/v1/agent/referral-cdk',
    { config: { signed: true }, schema: { tags: agentTags, summary: 'The calling agent\'s personal referral code for customers (created on first ask), its link and a QR code of the link', response: { 200: ReferralWithQr, ...errorResponses } } },
    async (request) => referrals.withQr(await referrals.issue({ type: 'agent', id: agentOf(request) })),
  );
  app.get(
    '/open/v1/agent/referral-cdk/poster.svg',
    { config: { signed: true }, schema: { tags: agentTags, summary: 'A poster (SVG, 750x1334) of the calling agent\'s referral code: name, code, link and QR code', produces: ['image/svg+xml'], response: { 200: Type.String(), ...errorResponses } } },
    async (request, reply) => reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'private, max-age=300').send(await referrals.poster({ type: 'agent', id: agentOf(request) })),
  );

  app.post(
    '/open/v1/referral-cdks/redeem',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary:
          'A customer redeems someone\'s referral code (Idempotency-Key required): bound to the referring agent\'s tree; a new customer (no orders, not bound yet) and the referrer are rewarded within the referrer\'s caps. Self-referral (same account, phone or device as the referrer) is refused (422). Unknown codes count towards the 10-minute lockout (429).',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({ code: Type.String({ minLength: 4, maxLength: 32 }), customer: CustomerRef }),
        response: { 201: Type.Object({ redemption: Redemption }), 200: Type.Object({ redemption: Redemption }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const c = await opts.customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
      const r = await referrals.redeem({ code: b.code, customer: { id: c.customerId, createdAt: c.createdAt }, apiKeyOwner: ownerOf(request), idempotencyKey: request.headers['idempotency-key'], ...gateInputOf(request) });
      return reply.code(r.statusCode).send({ redemption: r.redemption });
    },
  );

  app.post(
    '/admin/marketing/referral-cdks',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'The referral code of an agent or a customer (created if it has none; naturally idempotent; audited when created)',
        body: Strict({ owner_type: Type.Union([Type.Literal('agent'), Type.Literal('customer')]), owner_id: Type.String({ pattern: '^(agt|cus)_[0-9A-HJKMNP-TV-Z]{26}$' }) }),
        response: { 200: ReferralWithQr, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      if (!b.owner_id.startsWith(b.owner_type === 'agent' ? 'agt_' : 'cus_')) throw new AppError('VALIDATION_FAILED', 'owner_id: does not match owner_type', [{ field: 'owner_id', message: 'does not match owner_type' }]);
      return referrals.withQr(await referrals.issue({ type: b.owner_type, id: b.owner_id }, staffOf(request)));
    },
  );
  app.get(
    '/admin/marketing/referral-cdks',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Referral codes, newest first', querystring: Strict({ ...ListQuery('rfc').properties, owner_type: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('customer')])), owner_id: Type.Optional(Type.String({ maxLength: 64 })) }), response: { 200: Page(Referral), ...errorResponses } },
    },
    async (request) => referrals.list({ limit: request.query.limit, cursor: request.query.cursor, ownerType: request.query.owner_type, ownerId: request.query.owner_id }),
  );
  app.get(
    '/admin/marketing/referral-cdks/:id/poster.svg',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'The poster of a referral code (SVG)', params: IdParams('rfc'), produces: ['image/svg+xml'], response: { 200: Type.String(), ...errorResponses } } },
    async (request, reply) => {
      const r = await referrals.get(request.params.id);
      if (r.status !== 'active') throw new AppError('CONFLICT', 'the referral code is voided');
      return reply.type('image/svg+xml; charset=utf-8').send(await referrals.poster({ type: r.owner_type as 'agent' | 'customer', id: r.owner_id }));
    },
  );
  app.post(
    '/admin/marketing/referral-cdks/:id/void',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'Void a referral code (its owner may then get a new one; audited)', params: IdParams('rfc'), body: Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) }), response: { 200: Referral, ...errorResponses } } },
    async (request) => referrals.voidCode(request.params.id, request.body.reason, staffOf(request)),
  );

  app.get('/admin/marketing/referral-cdk-program', { config: { permission: 'marketing:read' }, schema: { tags, summary: 'The referral rewards and caps', response: { 200: Program, ...errorResponses } } }, async () => referrals.program());
  app.put(
    '/admin/marketing/referral-cdk-program',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Set the referral rewards (new customer: coupon template or promotional balance; referrer: promotional balance, or points for customer referrers) and the per-referrer caps (audited)',
        body: Strict({
          rewards: Strict({
            new_customer: Strict({ coupon_template_id: Type.Optional(Id('cpt')), promo_fen: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }),
            referrer: Strict({ promo_fen: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })), points: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000 })) }),
          }),
          per_referrer_daily_cap: Type.Integer({ minimum: 0, maximum: 100_000 }),
          per_referrer_total_cap: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
          campaign_id: Type.Optional(Id('cmp')),
          enabled: Type.Boolean(),
        }),
        response: { 200: Program, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return referrals.setProgram(
        {
          rewards: { newCustomer: { couponTemplateId: b.rewards.new_customer.coupon_template_id, promoFen: b.rewards.new_customer.promo_fen }, referrer: { promoFen: b.rewards.referrer.promo_fen, points: b.rewards.referrer.points } },
          perReferrerDailyCap: b.per_referrer_daily_cap,
          perReferrerTotalCap: b.per_referrer_total_cap,
          campaignId: b.campaign_id,
          enabled: b.enabled,
        },
        staffOf(request),
      );
    },
  );
  app.get(
    '/admin/marketing/referral-cdk-redemptions',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Referral redemptions, newest first', querystring: Strict({ ...ListQuery('rfr').properties, referral_cdk_id: Type.Optional(Id('rfc')), referrer_id: Type.Optional(Type.String({ maxLength: 64 })) }), response: { 200: Page(Redemption), ...errorResponses } },
    },
    async (request) => referrals.listRedemptions({ limit: request.query.limit, cursor: request.query.cursor, referralCdkId: request.query.referral_cdk_id, referrerId: request.query.referrer_id }),
  );
}
