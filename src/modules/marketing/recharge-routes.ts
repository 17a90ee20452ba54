import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { RechargeService } from './recharge.js';
import { IdempotencyHeaders } from './points-routes.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Tier = Strict({ min_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00, description: 'top up at least this' }), bonus_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00, description: 'promotional balance given' }) });
const Rule = Type.Object({
  id: Type.String(),
  name: Type.String(),
  campaign_id: NullableString,
  tiers: Type.Array(Type.Object({ min_fen: Type.Integer(), bonus_fen: Type.Integer() })),
  starts_at: Type.String(),
  ends_at: NullableString,
  per_customer_limit: Type.Union([Type.Integer(), Type.Null()]),
  status: Type.String(),
  created_at: Type.String(),
});
const Recharge = Type.Object({
  id: Type.String(),
  customer_id: Type.String(),
  amount_fen: Type.Integer(),
  bonus_fen: Type.Integer({ description: 'credited to the promotional balance: spendable, never withdrawable or refundable as cash' }),
  rule_id: NullableString,
  campaign_id: NullableString,
  source: Type.String(),
  reference: Type.String(),
  recorded_by: Type.String(),
  ledger_transaction_id: Type.String(),
  created_at: Type.String(),
});

export async function rechargeRoutes(fastify: FastifyInstance, opts: { recharges: RechargeService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { recharges } = opts;
  const tags = ['admin: marketing'];

  app.post(
    '/admin/marketing/recharge-rules',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'A recharge bonus rule (充值满赠): tiers (top up >= min_fen gives bonus_fen), a window, an optional per-customer limit (audited)',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          campaign_id: Type.Optional(Id('cmp')),
          tiers: Type.Array(Tier, { minItems: 1, maxItems: 20 }),
          starts_at: Type.Optional(Type.String({ format: 'date-time' })),
          ends_at: Type.Optional(Type.String({ format: 'date-time' })),
          per_customer_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'bonus-earning recharges per customer under this rule' })),
        }),
        response: { 201: Rule, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const rule = await recharges.createRule({ name: b.name, campaignId: b.campaign_id, tiers: b.tiers, startsAt: b.starts_at ? new Date(b.starts_at) : undefined, endsAt: b.ends_at ? new Date(b.ends_at) : undefined, perCustomerLimit: b.per_customer_limit }, staffOf(request));
      return reply.code(201).send(rule);
    },
  );
  app.get(
    '/admin/marketing/recharge-rules',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'Recharge bonus rules, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('rcb')), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('ended')])) }), response: { 200: Page(Rule), ...errorResponses } } },
    async (request) => recharges.listRules(request.query),
  );
  app.get(
    '/admin/marketing/recharge-rules/:id',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One recharge bonus rule', params: IdParams('rcb'), response: { 200: Rule, ...errorResponses } } },
    async (request) => recharges.getRule(request.params.id),
  );
  app.post(
    '/admin/marketing/recharge-rules/:id/end',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'End a rule now (audited)', params: IdParams('rcb'), response: { 200: Rule, ...errorResponses } } },
    async (request) => recharges.endRule(request.params.id, staffOf(request)),
  );

  app.post(
    '/admin/marketing/recharges',
    {
      config: { permission: 'finance:withdrawals' },
      schema: {
        tags,
        summary: "Record a customer's confirmed top-up (finance; Idempotency-Key required): the amount to its balance and the best rule's bonus to its promotional balance, in one ledger transaction (audited)",
        headers: IdempotencyHeaders,
        body: Strict({ customer_id: Id('cus'), amount_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }), reference: Type.String({ minLength: 1, maxLength: 200, description: 'the payment it records (bank or provider reference)' }) }),
        response: { 201: Recharge, 200: Recharge, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const r = await recharges.record({ customerId: b.customer_id, amountFen: b.amount_fen, reference: b.reference, key: request.headers['idempotency-key'] }, staffOf(request));
      return reply.code(r.status).send(r.recharge);
    },
  );
  app.get(
    '/admin/marketing/recharges',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'Recorded recharges, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('rcg')), customer_id: Type.Optional(Id('cus')) }), response: { 200: Page(Recharge), ...errorResponses } } },
    async (request) => recharges.list({ limit: request.query.limit, cursor: request.query.cursor, customerId: request.query.customer_id }),
  );
}
