import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { agentRoles } from './service.js';
import type { AgentBackOffice } from './back-office.js';
import { Agent } from './routes.js';

const AgentId = Type.String({ pattern: '^agt_[0-9A-HJKMNP-TV-Z]{26}$' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Figures = Type.Object({ orders: Type.Integer(), units: Type.Integer(), amount_fen: Type.Integer({ description: 'net of refunds' }) });
const Summary = Type.Object({
  agent: Agent,
  level: Type.Integer({ description: 'depth in the tree (1 = top-level distributor)' }),
  upline: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  balances: Type.Object({
    prepaid_fen: Type.Integer(),
    commission_pending_fen: Type.Integer(),
    commission_available_fen: Type.Integer(),
    withdrawn_fen: Type.Integer({ description: 'paid withdrawals, gross (fee included)' }),
    withdrawal_fees_fen: Type.Integer(),
    clawback_due_fen: Type.Integer({ description: 'reversed commission already withdrawn: recovered from the next available commission' }),
  }),
  sales: Type.Object({ today: Figures, month: Figures }, { description: 'China time (UTC+8); orders the agent sold or bought on its balance' }),
  team_size: Type.Integer({ description: 'whole downline' }),
});
const Day = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, China Standard Time' });
const SalesRow = Type.Object({
  period: Type.String({ description: 'YYYY-MM-DD or YYYY-MM' }),
  orders: Type.Integer(),
  units: Type.Integer({ description: 'units delivered' }),
  amount_fen: Type.Integer(),
  refunded_fen: Type.Integer(),
  net_fen: Type.Integer(),
  commission_fen: Type.Integer({ description: 'commission earned on orders of the period, net of reversals' }),
});
const Sales = Type.Object({
  period: Type.Union([Type.Literal('day'), Type.Literal('month')]),
  from: Type.String(),
  to: Type.String(),
  rows: Type.Array(SalesRow),
  totals: Type.Omit(SalesRow, ['period']),
});
const TeamMember = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  parent_id: Nullable(Type.String()),
  depth: Type.Integer({ description: 'relative to the caller: 1 = direct' }),
  status: Type.String(),
  joined_at: Type.String(),
  month_sales_fen: Type.Integer({ description: 'net sales this calendar month (UTC+8)' }),
});
const Product = Type.Object({
  id: Type.String(),
  product_id: Type.String(),
  product_name: Type.String(),
  name: Type.String(),
  face_value_fen: Type.Integer(),
  retail_price_fen: Type.Integer(),
  price_fen: Type.Integer({ description: 'what this agent pays per unit' }),
  min_per_order: Type.Integer(),
  max_per_order: Type.Integer(),
  available: Type.Integer({ description: 'codes in stock now' }),
  quota_available: Type.Integer({ description: 'left in your quota (your allocation, else your nearest upline\'s), used first' }),
  free_available: Type.Integer({ description: 'the general stock (free pool), used after the quota' }),
});
const Referral = Type.Object({ referral_code: Type.String(), link: Type.String(), qr_png: Type.String({ description: 'data:image/png;base64,… of the link' }) });
const ListQuery = (prefix: string) => Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`, description: 'next_cursor of the previous page' })) });

/** The calling API key's agent: the back office is for agents only. */
function agentOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', 'the agent back office needs an agent\'s API key; this key belongs to a ' + key.ownerType);
  return key.ownerId;
}

export async function agentBackOfficeRoutes(fastify: FastifyInstance, opts: { backOffice: AgentBackOffice }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { backOffice } = opts;
  const tags = ['open api: agent back office'];

  app.get(
    '/open/v1/agent/summary',
    { config: { signed: true }, schema: { tags, summary: 'The calling agent: level, upline, balances, sales today and this month, team size', response: { 200: Summary, ...errorResponses } } },
    async (request) => backOffice.summary(agentOf(request)),
  );
  app.get(
    '/open/v1/agent/sales',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: `Sales and commission per China day or month (at most 366 days; default the last 30 days or 12 months)`,
        querystring: Strict({ period: Type.Union([Type.Literal('day'), Type.Literal('month')], { default: 'day' }), from: Type.Optional(Day), to: Type.Optional(Day) }),
        response: { 200: Sales, ...errorResponses },
      },
    },
    async (request) => backOffice.sales(agentOf(request), request.query),
  );
  app.get(
    '/open/v1/agent/team',
    { config: { signed: true }, schema: { tags, summary: 'The whole downline, newest first, with depth relative to the caller and month sales', querystring: ListQuery('agt'), response: { 200: Page(TeamMember), ...errorResponses } } },
    async (request) => backOffice.team(agentOf(request), request.query),
  );
  app.get(
    '/open/v1/agent/products',
    { config: { signed: true }, schema: { tags, summary: 'SKUs on sale at the calling agent\'s price, with stock', querystring: ListQuery('sku'), response: { 200: Page(Product), ...errorResponses } } },
    async (request) => backOffice.products(agentOf(request), request.query),
  );
  app.get(
    '/open/v1/agent/referral',
    { config: { signed: true }, schema: { tags, summary: 'The referral code, its join link and a QR code of the link (PNG data URL)', response: { 200: Referral, ...errorResponses } } },
    async (request) => backOffice.referral(agentOf(request)),
  );
  app.get(
    '/open/v1/agent/poster.svg',
    {
      config: { signed: true },
      schema: { tags, summary: 'A promotion poster (SVG, 750x1334): the agent\'s name, referral code, join link and a QR code of the link', produces: ['image/svg+xml'], response: { 200: Type.String({ description: 'image/svg+xml' }), ...errorResponses } },
    },
    async (request, reply) => {
      const svg = await backOffice.poster(agentOf(request));
      return reply.type('image/svg+xml; charset=utf-8').header('cache-control', 'private, max-age=300').send(svg);
    },
  );

  app.post(
    '/admin/agents',
    {
      config: { permission: 'agents:manage' },
      schema: {
        tags: ['admin: agents'],
        summary: 'Onboard an agent: top-level, or under an upline by referral_code or parent_id (audited). An agent is bound to its upline for good.',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          role: Type.Union(agentRoles.map((r) => Type.Literal(r))),
          referral_code: Type.Optional(Type.String({ minLength: 4, maxLength: 32, pattern: '^[A-Za-z0-9]+$' })),
          parent_id: Type.Optional(AgentId),
        }),
        response: { 201: Agent, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const agent = await backOffice.createByStaff({ name: b.name, role: b.role, referralCode: b.referral_code, parentId: b.parent_id }, staffOf(request));
      return reply.code(201).send(agent);
    },
  );
}
