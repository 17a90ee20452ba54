import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { DEFAULT_MAX_LEVELS, MAX_LEVELS_LIMIT } from './rules.js';
import { ruleScopes, type CommissionService } from './service.js';
import { levelFromView } from './views.js';

const tags = ['admin: commissions'];
const id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Bps = Type.Integer({ minimum: 0, maximum: 10_000, description: 'basis points (1/100 of a percent)' });

const Level = Type.Union([
  Strict({ kind: Type.Literal('percent_of_price'), bps: Bps }),
  Strict({ kind: Type.Literal('percent_of_margin'), bps: Bps }),
  Strict({ kind: Type.Literal('fixed'), fen: Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'fen per unit sold' }) }),
  Strict({
    kind: Type.Literal('tiered'),
    tiers: Type.Array(Strict({ min_volume_fen: Type.Integer({ minimum: 0, maximum: 1e12, description: "from this month's sales volume (fen)" }), bps: Bps }), { minItems: 1, maxItems: 20 }),
  }),
]);
const Levels = Type.Array(Level, { minItems: 1, maxItems: MAX_LEVELS_LIMIT, description: 'levels[0] is level 1 (the selling agent), then its upline' });
const MaxLevels = Type.Integer({ minimum: 1, maximum: MAX_LEVELS_LIMIT, description: `how many levels the rule may have (default ${DEFAULT_MAX_LEVELS})` });

const Version = Type.Object({ id: Type.String(), version: Type.Integer(), max_levels: Type.Integer(), levels: Type.Array(Level), created_at: Type.String() });
const RuleSet = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scope_type: Type.String(),
  scope_value: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
  current_version: Version,
});
const Commission = Type.Object({
  id: Type.String(),
  order_id: Type.String(),
  agent_id: Type.String(),
  level: Type.Integer(),
  amount_fen: Type.Integer(),
  rule_version_id: Type.String(),
  capped: Type.Boolean(),
  status: Type.String(),
  reversed_fen: Type.Integer(),
  clawback_due_fen: Type.Integer(),
  available_at: Type.String(),
  settled_at: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String(),
});
const Preview = Type.Object({
  sku_id: Type.String(),
  quantity: Type.Integer(),
  unit_price_fen: Type.Integer(),
  unit_cost_fen: Type.Integer(),
  margin_fen: Type.Integer(),
  rule_set_id: Type.Union([Type.String(), Type.Null()]),
  rule_version_id: Type.Union([Type.String(), Type.Null()]),
  capped: Type.Boolean(),
  total_fen: Type.Integer(),
  levels: Type.Array(Type.Object({ level: Type.Integer(), agent_id: Type.String(), amount_fen: Type.Integer(), skipped: Type.Union([Type.String(), Type.Null()]) })),
});

export async function commissionRoutes(fastify: FastifyInstance, opts: { commissions: CommissionService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { commissions } = opts;

  app.post(
    '/admin/commission-rules',
    {
      config: { permission: 'commissions:manage' },
      schema: {
        tags,
        summary: 'Create a commission rule set (version 1); refused (422) if it could pay more than the margin of a SKU in scope',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 128 }),
          scope_type: Type.Union(ruleScopes.map((s) => Type.Literal(s))),
          scope_value: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'product id (scope product) or category (scope category)' })),
          max_levels: Type.Optional(MaxLevels),
          levels: Levels,
        }),
        response: { 201: RuleSet, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const set = await commissions.createRuleSet({ name: b.name, scope: { type: b.scope_type, value: b.scope_value }, maxLevels: b.max_levels, levels: b.levels.map(levelFromView) }, staffOf(request));
      return reply.code(201).send(set);
    },
  );

  app.post(
    '/admin/commission-rules/:id/versions',
    {
      config: { permission: 'commissions:manage' },
      schema: {
        tags,
        summary: 'Save a new version of a rule set; earlier versions and the commissions computed with them never change',
        params: IdParams('crs'),
        body: Strict({ max_levels: Type.Optional(MaxLevels), levels: Levels }),
        response: { 201: RuleSet, ...errorResponses },
      },
    },
    async (request, reply) => {
      const set = await commissions.addVersion(request.params.id, { maxLevels: request.body.max_levels, levels: request.body.levels.map(levelFromView) }, staffOf(request));
      return reply.code(201).send(set);
    },
  );

  app.get(
    '/admin/commission-rules',
    { config: { permission: 'commissions:read' }, schema: { tags, summary: 'Commission rule sets with their current version, newest first', querystring: PageQuery, response: { 200: Page(RuleSet), ...errorResponses } } },
    async (request) => commissions.listRuleSets(request.query),
  );

  app.get(
    '/admin/commission-rules/:id/versions',
    {
      config: { permission: 'commissions:read' },
      schema: { tags, summary: 'Every version of a rule set, newest first', params: IdParams('crs'), response: { 200: Type.Object({ data: Type.Array(Version) }), ...errorResponses } },
    },
    async (request) => ({ data: await commissions.listVersions(request.params.id) }),
  );

  app.post(
    '/admin/commissions/preview',
    {
      config: { permission: 'commissions:read' },
      schema: {
        tags,
        summary: 'What each level would earn if an agent sold a SKU now (nothing is written)',
        body: Strict({
          sku_id: id('sku'),
          quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
          agent_id: id('agt'),
          unit_price_fen: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000, description: 'default: the retail price' })),
        }),
        response: { 200: Preview, ...errorResponses },
      },
    },
    async (request) => commissions.preview({ skuId: request.body.sku_id, quantity: request.body.quantity, agentId: request.body.agent_id, unitPriceFen: request.body.unit_price_fen }),
  );

  app.get(
    '/admin/commissions',
    {
      config: { permission: 'commissions:read' },
      schema: {
        tags,
        summary: 'Commission rows, newest first, by order, agent or status',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(id('com')),
          order_id: Type.Optional(Type.String({ maxLength: 64 })),
          agent_id: Type.Optional(id('agt')),
          status: Type.Optional(Type.Union(['pending', 'available', 'reversed'].map((s) => Type.Literal(s)))),
        }),
        response: { 200: Page(Commission), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return commissions.listCommissions({ limit: q.limit, cursor: q.cursor, orderId: q.order_id, agentId: q.agent_id, status: q.status });
    },
  );
}
