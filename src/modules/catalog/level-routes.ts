import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CatalogService } from './service.js';
import { MAX_LEVEL } from './level-rules.js';

const Rule = Type.Object({
  id: Type.String(),
  level: Type.Integer(),
  category_id: Type.Union([Type.String(), Type.Null()], { description: 'the products\' category; null: every category' }),
  markup_bps: Type.Integer(),
  markup_fen: Type.Integer(),
  updated_by: Type.String(),
  updated_at: Type.String(),
});
const LevelPrice = Type.Object({
  level: Type.Integer(),
  price_fen: Type.Integer(),
  derived: Type.Union([Type.Literal('explicit'), Type.Literal('markup'), Type.Literal('retail')]),
  based_on_level: Type.Union([Type.Integer(), Type.Null()], { description: 'for a markup: the level it builds on (0 = cost)' }),
  rule_id: Type.Union([Type.String(), Type.Null()]),
  capped: Type.Boolean({ description: 'the derived price was above retail; retail applies' }),
  explanation: Type.String(),
});

/** Level price rules (markup by agent level) and the price preview of a SKU: admin routes of the catalog. */
export async function levelPriceRoutes(fastify: FastifyInstance, opts: { catalog: CatalogService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog } = opts;
  const tags = ['admin: catalog'];

  app.get(
    '/admin/catalog/level-rules',
    { config: { permission: 'catalog:read' }, schema: { tags, summary: 'Level price rules (markup over the level above; level 0 is the cost)', response: { 200: Type.Object({ data: Type.Array(Rule) }), ...errorResponses } } },
    async () => ({ data: await catalog.listLevelRules() }),
  );

  app.put(
    '/admin/catalog/level-rules',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Set the rule of a level, global or for one category (replaces the one there was; audited). Price(L) = price(L-1) + round(price(L-1) * markup_bps / 10000) + markup_fen, never above retail.',
        body: Strict({
          level: Type.Integer({ minimum: 1, maximum: MAX_LEVEL }),
          category_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
          markup_bps: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
          markup_fen: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000_00 })),
        }),
        response: { 200: Rule, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return catalog.putLevelRule({ level: b.level, categoryId: b.category_id ?? null, markupBps: b.markup_bps, markupFen: b.markup_fen }, staffOf(request));
    },
  );

  app.delete(
    '/admin/catalog/level-rules/:id',
    { config: { permission: 'catalog:write' }, schema: { tags, summary: 'Delete a level price rule (audited)', params: IdParams('lpr'), response: { 200: Rule, ...errorResponses } } },
    async (request) => catalog.deleteLevelRule(request.params.id, staffOf(request)),
  );

  app.get(
    '/admin/catalog/skus/:id/level-prices',
    {
      config: { permission: 'catalog:read' },
      schema: {
        tags,
        summary: 'What each agent level pays for a SKU and how it was derived (explicit / markup over level N / retail / capped at retail)',
        params: IdParams('sku'),
        querystring: Strict({ levels: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LEVEL, description: 'levels 1..levels (default: the highest level named by a rule or explicit price, at least 3)' })) }),
        response: { 200: Type.Object({ sku_id: Type.String(), category: Type.String(), cost_fen: Type.Integer(), retail_price_fen: Type.Integer(), levels: Type.Array(LevelPrice) }), ...errorResponses },
      },
    },
    async (request) => {
      const preview = await catalog.levelPricesOf(request.params.id, request.query.levels);
      return {
        ...preview,
        levels: preview.levels.map((l) => {
          const how =
            l.source === 'explicit' ? 'explicit level price' : l.source === 'markup' ? `markup over level ${l.basedOnLevel}${l.basedOnLevel === 0 ? ' (cost)' : ''}: +${l.rule!.markupBps} bps +${l.rule!.markupFen} fen${l.rule!.categoryId ? ` (category ${l.rule!.categoryId})` : ''}` : 'retail (no explicit price or rule)';
          return {
            level: l.level,
            price_fen: l.priceFen,
            derived: l.source,
            based_on_level: l.basedOnLevel,
            rule_id: l.rule?.id ?? null,
            capped: l.capped,
            explanation: l.capped ? `${how}; capped at retail` : how,
          };
        }),
      };
    },
  );
}
