import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders, type CustomerService } from '../customers/service.js';
import { gateInputOf } from '../risk/gate-http.js';
import type { CdkService } from './cdk-service.js';
import type { CdkReward } from './cdk-schema.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Time = Type.String({ format: 'date-time' });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });

export const Reward = Type.Union([
  Strict({ kind: Type.Literal('product'), sku_id: Id('sku'), quantity: Type.Integer({ minimum: 1, maximum: 100 }) }),
  Strict({ kind: Type.Literal('coupon'), template_id: Id('cpt') }),
  Strict({ kind: Type.Literal('balance'), amount_fen: Type.Integer({ minimum: 1, maximum: 10_000_000 }) }),
  Strict({ kind: Type.Literal('points'), points: Type.Integer({ minimum: 1, maximum: 100_000_000 }) }),
]);
const Pattern = Strict({
  prefix: Type.Optional(Type.String({ maxLength: 16, pattern: '^[A-Za-z0-9]*$' })),
  charset: Type.String({ minLength: 2, maxLength: 64, description: 'safe | digits | upper | alnum, or the characters themselves (no lower case)' }),
  length: Type.Integer({ minimum: 1, maximum: 64, description: 'random characters; at least 60 bits of randomness are required' }),
  check_digit: Type.Optional(Type.Boolean()),
  group_size: Type.Optional(Type.Integer({ minimum: 2, maximum: 8 })),
});
const Batch = Type.Object({
  id: Type.String(),
  name: Type.String(),
  campaign_id: Nullable(Type.String()),
  reward: Type.Unknown(),
  mode: Type.String(),
  max_redemptions: Type.Integer(),
  count: Type.Integer(),
  pattern: Type.Unknown(),
  starts_at: Nullable(Type.String()),
  expires_at: Nullable(Type.String()),
  status: Type.String(),
  codes: Type.Integer(),
  redeemed: Type.Integer({ description: 'redemptions so far, over all codes' }),
  voided_codes: Type.Integer(),
  created_by: Type.String(),
  created_at: Type.String(),
  voided_at: Nullable(Type.String()),
  void_reason: Nullable(Type.String()),
});
const Code = Type.Object({ id: Type.String(), batch_id: Type.String(), code: Type.String({ description: 'masked: prefix****last4' }), status: Type.String(), redeemed_count: Type.Integer(), max_redemptions: Type.Integer(), created_at: Type.String() });
const Redemption = Type.Object({ id: Type.String(), cdk_id: Type.String(), batch_id: Type.String(), customer_id: Type.String(), reward_kind: Type.String(), reward_ref: Nullable(Type.String()), created_at: Type.String() });
const DeliveredCode = Type.Object({ code_id: Type.String(), card_number: Nullable(Type.String()), secret: Type.String() });
const RedeemResult = Type.Object({
  redemption: Redemption,
  reward: Nullable(
    Type.Object({
      kind: Type.String(),
      ref: Type.String(),
      order_id: Type.Optional(Type.String()),
      coupon_id: Type.Optional(Type.String()),
      amount_fen: Type.Optional(Type.Integer()),
      points: Type.Optional(Type.Integer()),
    }),
  ),
  codes: Type.Array(DeliveredCode, { description: 'a product reward\'s codes (a replay with the same Idempotency-Key shows them again)' }),
});
export const CustomerRef = Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the end customer who redeems' });
const Reason = Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) });
const ListQuery = (prefix: string) => Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id(prefix)) });

/** The API key's owner, as orders and redemptions record it ("partner:p1", "agent:agt_…"). */
export const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

export async function cdkRoutes(fastify: FastifyInstance, opts: { cdk: CdkService; customers: Pick<CustomerService, 'resolve'> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { cdk } = opts;
  const tags = ['admin: marketing'];

  app.post(
    '/open/v1/cdks/redeem',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary:
          'Redeem a redemption code (CDK) for a customer (Idempotency-Key required). The reward (product order, coupon, promotional balance or points) is granted at once. Unknown, used, expired or void codes are failures: after repeated failures per customer, device or IP in 10 minutes the endpoint answers 429 without looking; the risk gate may refuse (403 RISK_BLOCKED) or ask for a captcha (403 CHALLENGE_REQUIRED).',
        headers: Type.Object({ ...IdempotencyHeaders.properties, 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({ code: Type.String({ minLength: 4, maxLength: 128 }), customer: CustomerRef }),
        response: { 201: RedeemResult, 200: RedeemResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const c = await opts.customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
      const gate = gateInputOf(request);
      const result = await cdk.redeem({ code: b.code, customer: { id: c.customerId, createdAt: c.createdAt }, apiKeyOwner: ownerOf(request), idempotencyKey: request.headers['idempotency-key'], ...gate });
      return reply.code(result.statusCode).send({ redemption: result.redemption, reward: result.reward, codes: result.codes });
    },
  );

  app.post(
    '/admin/marketing/cdk-batches',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Create a CDK batch and generate its codes (Idempotency-Key required; all or nothing). 422 when the pattern has under 60 bits of randomness or its space is too small for the count.',
        headers: IdempotencyHeaders,
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          campaign_id: Type.Optional(Id('cmp')),
          reward: Reward,
          mode: Type.Union([Type.Literal('single'), Type.Literal('multi')]),
          max_redemptions: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'multi-use: redemptions per code in total; each customer once' })),
          count: Type.Integer({ minimum: 1, maximum: 200_000 }),
          pattern: Pattern,
          starts_at: Type.Optional(Time),
          expires_at: Type.Optional(Time),
        }),
        response: { 201: Type.Object({ batch: Batch, generation_ms: Type.Integer() }), 200: Type.Object({ batch: Batch, generation_ms: Type.Integer() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const pattern = { prefix: b.pattern.prefix, charset: b.pattern.charset, length: b.pattern.length, checkDigit: b.pattern.check_digit, groupSize: b.pattern.group_size };
      const r = await cdk.createBatch(
        { name: b.name, campaignId: b.campaign_id, reward: b.reward as CdkReward, mode: b.mode, maxRedemptions: b.max_redemptions, count: b.count, pattern, startsAt: b.starts_at ? new Date(b.starts_at) : null, expiresAt: b.expires_at ? new Date(b.expires_at) : null },
        staffOf(request),
        request.headers['idempotency-key'],
      );
      return reply.code(r.statusCode).send({ batch: r.batch, generation_ms: r.generationMs });
    },
  );

  app.get(
    '/admin/marketing/cdk-batches',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'CDK batches, newest first', querystring: Strict({ ...ListQuery('cdb').properties, campaign_id: Type.Optional(Id('cmp')), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('voided')])) }), response: { 200: Page(Batch), ...errorResponses } },
    },
    async (request) => cdk.listBatches({ limit: request.query.limit, cursor: request.query.cursor, campaignId: request.query.campaign_id, status: request.query.status }),
  );

  app.get('/admin/marketing/cdk-batches/:id', { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One CDK batch with its counts', params: IdParams('cdb'), response: { 200: Batch, ...errorResponses } } }, async (request) => cdk.getBatch(request.params.id));

  app.get(
    '/admin/marketing/cdk-batches/:id/codes',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'The codes of a batch, masked, newest first', params: IdParams('cdb'), querystring: ListQuery('cdk'), response: { 200: Page(Code), ...errorResponses } } },
    async (request) => cdk.listCodes(request.params.id, request.query),
  );

  app.post(
    '/admin/marketing/cdk-batches/:id/void',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'Void a whole batch: none of its codes redeems any more (audited)', params: IdParams('cdb'), body: Reason, response: { 200: Batch, ...errorResponses } } },
    async (request) => cdk.voidBatch(request.params.id, request.body.reason, staffOf(request)),
  );

  app.post(
    '/admin/marketing/cdk-batches/:id/codes/:cdk_id/void',
    {
      config: { permission: 'marketing:manage' },
      schema: { tags, summary: 'Void one code (audited)', params: Strict({ id: Id('cdb'), cdk_id: Id('cdk') }), body: Reason, response: { 200: Code, ...errorResponses } },
    },
    async (request) => cdk.voidCode(request.params.id, request.params.cdk_id, request.body.reason, staffOf(request)),
  );

  app.get(
    '/admin/marketing/cdk-batches/:id/export.csv',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'The batch as CSV, codes masked (prefix****last4)', params: IdParams('cdb'), produces: ['text/csv'], response: { 200: Type.String(), ...errorResponses } } },
    async (request, reply) => {
      const file = await cdk.exportMasked(request.params.id);
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file.filename}"`).header('cache-control', 'no-store').send(file.csv);
    },
  );

  app.post(
    '/admin/marketing/cdk-batches/:id/export-clear',
    {
      config: { permission: 'marketing:cdk-export' },
      schema: { tags, summary: 'The batch as CSV with the clear codes (marketing:cdk-export only; the reason and count are audited)', params: IdParams('cdb'), body: Reason, produces: ['text/csv'], response: { 200: Type.String(), ...errorResponses } },
    },
    async (request, reply) => {
      const file = await cdk.exportClear(request.params.id, request.body.reason, staffOf(request));
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${file.filename}"`).header('cache-control', 'no-store').send(file.csv);
    },
  );

  app.get(
    '/admin/marketing/cdk-redemptions',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'CDK redemptions, newest first', querystring: Strict({ ...ListQuery('cdr').properties, batch_id: Type.Optional(Id('cdb')), customer_id: Type.Optional(Id('cus')) }), response: { 200: Page(Redemption), ...errorResponses } },
    },
    async (request) => cdk.listRedemptions({ limit: request.query.limit, cursor: request.query.cursor, batchId: request.query.batch_id, customerId: request.query.customer_id }),
  );
}
