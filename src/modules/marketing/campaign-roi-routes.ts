import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { campaignKinds } from './campaign-schema.js';
import type { CampaignService } from './campaign-service.js';
import type { CampaignRoiService } from './campaign-roi.js';

const Fen = Type.Integer();
export const CampaignRoi = Type.Object({
  campaign_id: Type.String(),
  name: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  orders: Type.Integer({ description: 'paid orders the campaign priced (offers, coupons, promotion-paid)' }),
  units: Type.Integer(),
  new_customers: Type.Integer({ description: 'customers whose first paid order came through the campaign' }),
  revenue_fen: Type.Integer({ description: 'what buyers paid for its orders, net of refunds (promotion-paid orders excluded)' }),
  cost_of_goods_fen: Fen,
  costs: Type.Object({
    discount_fen: Type.Integer({ description: 'coupon discounts' }),
    markdown_fen: Type.Integer({ description: 'offer prices under the list price (flash sales, group buys), at the current list price' }),
    promotion_fen: Type.Integer({ description: 'spent from the promotion budget: bonuses, rewards, goods given for points or CDKs, net of refunds' }),
    commission_fen: Type.Integer({ description: 'commissions on its orders, net of reversals' }),
    total_fen: Fen,
  }),
  gross_profit_fen: Type.Integer({ description: 'revenue - cost of goods - promotion - commissions' }),
  roi: Type.Union([Type.Number(), Type.Null()], { description: 'gross profit per fen of total cost' }),
  cost_per_new_customer_fen: Type.Union([Type.Integer(), Type.Null()]),
});

export async function campaignRoiRoutes(fastify: FastifyInstance, opts: { campaigns: CampaignService; roi: CampaignRoiService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['admin: marketing'];
  app.get(
    '/admin/marketing/campaigns/:id/roi',
    { config: { permission: 'marketing:read' }, schema: { tags, summary: "One campaign's cost against the revenue and new customers it brought", params: IdParams('cmp'), response: { 200: CampaignRoi, ...errorResponses } } },
    async (request) => (await opts.roi.of([await opts.campaigns.get(request.params.id)]))[0]!,
  );
  app.get(
    '/admin/marketing/roi',
    {
      config: { permission: 'marketing:read' },
      schema: {
        tags,
        summary: 'Campaign ROI, newest campaigns first (a page of campaigns, each with its figures)',
        querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ pattern: '^cmp_[0-9A-HJKMNP-TV-Z]{26}$' })), kind: Type.Optional(Type.Union(campaignKinds.map((k) => Type.Literal(k)))) }),
        response: { 200: Page(CampaignRoi), ...errorResponses },
      },
    },
    async (request) => {
      const page = await opts.campaigns.list(request.query);
      return { ...page, data: await opts.roi.of(page.data) };
    },
  );
}
