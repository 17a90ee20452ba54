import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import type { ResalePriceService } from './resale-prices.js';

const ResalePrice = Type.Object({
  agent_id: Type.String(),
  sku_id: Type.String(),
  price_fen: Type.Integer(),
  min_resale_price_fen: Type.Union([Type.Integer(), Type.Null()]),
  updated_at: Type.String(),
});
const Violation = Type.Object({
  agent_id: Type.String(),
  agent_name: Type.String(),
  agent_status: Type.String(),
  price_fen: Type.Integer(),
  min_resale_price_fen: Type.Integer(),
  updated_at: Type.String(),
});
const KeyedPageQuery = (prefix: string) =>
  Strict({
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'page size (1-100)' }),
    cursor: Type.Optional(Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`, description: 'next_cursor of the previous page' })),
  });

/** The API key's owner, when it is an agent: only agents have resale prices. */
function agentOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', "only an agent's API key may set or read resale prices");
  return key.ownerId;
}

export async function resalePriceRoutes(fastify: FastifyInstance, opts: { resalePrices: ResalePriceService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { resalePrices } = opts;

  app.put(
    '/open/v1/agent/prices/:sku_id',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: "Set your resale price of a SKU (refused below the SKU's minimum resale price)",
        params: Strict({ sku_id: Type.String({ pattern: '^sku_[0-9A-HJKMNP-TV-Z]{26}$' }) }),
        body: Strict({ price_fen: Type.Integer({ minimum: 0, maximum: 100_000_000_00, description: 'your resale price, in fen (分)' }) }),
        response: { 200: ResalePrice, ...errorResponses },
      },
    },
    async (request) => resalePrices.setResalePrice(agentOf(request), request.params.sku_id, request.body.price_fen),
  );

  app.get(
    '/open/v1/agent/prices',
    { config: { signed: true }, schema: { tags: ['open api'], summary: 'Your resale prices, by SKU', querystring: KeyedPageQuery('sku'), response: { 200: Page(ResalePrice), ...errorResponses } } },
    async (request) => resalePrices.listForAgent(agentOf(request), request.query),
  );

  app.get(
    '/admin/skus/:id/resale-violations',
    {
      config: { permission: 'catalog:read' },
      schema: { tags: ['admin: catalog'], summary: "Agents whose resale price is below the SKU's current minimum", params: IdParams('sku'), querystring: KeyedPageQuery('agt'), response: { 200: Page(Violation), ...errorResponses } },
    },
    async (request) => resalePrices.violations(request.params.id, request.query),
  );
}
