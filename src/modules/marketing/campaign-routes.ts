import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { campaignKinds } from './campaign-schema.js';
import type { CampaignService } from './campaign-service.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
export const Campaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  budget_fen: Nullable(Type.Integer()),
  starts_at: Type.String(),
  ends_at: Nullable(Type.String()),
  status: Type.String({ description: 'active | ended (ends_at passed)' }),
  created_by: Nullable(Type.String()),
  created_at: Type.String(),
});
const Kind = Type.Union(campaignKinds.map((k) => Type.Literal(k)));

export async function campaignRoutes(fastify: FastifyInstance, opts: { campaigns: CampaignService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { campaigns } = opts;
  const tags = ['admin: marketing'];

  app.post(
    '/admin/marketing/campaigns',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Create a campaign: the name coupons, CDK batches, flash sales and the other tools carry (campaign_id) for the ROI report (audited)',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 128 }),
          kind: Kind,
          budget_fen: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 100_000_000_00 }))),
          starts_at: Type.Optional(Type.String({ format: 'date-time' })),
          ends_at: Type.Optional(Nullable(Type.String({ format: 'date-time' }))),
        }),
        response: { 201: Campaign, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const view = await campaigns.create({ name: b.name, kind: b.kind, budgetFen: b.budget_fen ?? null, startsAt: b.starts_at ? new Date(b.starts_at) : undefined, endsAt: b.ends_at ? new Date(b.ends_at) : null }, staffOf(request));
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/admin/marketing/campaigns',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Campaigns, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Type.String({ pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' })), kind: Type.Optional(Kind) }), response: { 200: Page(Campaign), ...errorResponses } },
    },
    async (request) => campaigns.list(request.query),
  );

  app.get(
    '/admin/marketing/campaigns/:id',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: 'One campaign', params: IdParams('cmp'), response: { 200: Campaign, ...errorResponses } } },
    async (request) => campaigns.get(request.params.id),
  );
}
