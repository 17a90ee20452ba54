import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import type { VaultService } from '../vault/service.js';
import { productKinds, type CatalogService, type ProductView } from './service.js';

const Fen = (description: string) => Type.Integer({ minimum: 0, maximum: 100_000_000_00, description: `${description}, in fen (分)` });

const Sku = Type.Object({
  id: Type.String(),
  name: Type.String(),
  face_value_fen: Type.Integer(),
  cost_fen: Type.Integer(),
  retail_price_fen: Type.Integer(),
  usage_instructions: Type.String(),
  on_sale: Type.Boolean(),
  available: Type.Integer({ description: 'codes in stock' }),
});
const Product = Type.Object({
  id: Type.String(),
  name: Type.String(),
  brand: Type.String(),
  category: Type.String(),
  kind: Type.String(),
  description: Type.String(),
  created_at: Type.String(),
  skus: Type.Array(Sku),
});

export async function catalogRoutes(fastify: FastifyInstance, opts: { catalog: CatalogService; vault: VaultService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog, vault } = opts;
  const tags = ['admin: catalog'];

  async function withStock(products: ProductView[]) {
    const stock = await vault.availableBySku(products.flatMap((p) => p.skus.map((s) => s.id)));
    return products.map((p) => ({ ...p, skus: p.skus.map((s) => ({ ...s, available: stock.get(s.id) ?? 0 })) }));
  }

  app.get(
    '/admin/products',
    { config: { permission: 'catalog:read' }, schema: { tags, summary: 'Products with their SKUs and stock', querystring: PageQuery, response: { 200: Page(Product), ...errorResponses } } },
    async (request) => {
      const page = await catalog.listProducts(request.query);
      return { ...page, data: await withStock(page.data) };
    },
  );

  app.get(
    '/admin/products/:id',
    { config: { permission: 'catalog:read' }, schema: { tags, summary: 'One product', params: IdParams('prd'), response: { 200: Product, ...errorResponses } } },
    async (request) => (await withStock([await catalog.getProduct(request.params.id)]))[0]!,
  );

  app.post(
    '/admin/products',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Create a product with its SKUs',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 128 }),
          brand: Type.String({ minLength: 1, maxLength: 64 }),
          category: Type.String({ minLength: 1, maxLength: 64 }),
          kind: Type.Union(productKinds.map((k) => Type.Literal(k))),
          description: Type.Optional(Type.String({ maxLength: 4000 })),
          skus: Type.Array(
            Strict({
              name: Type.String({ minLength: 1, maxLength: 128 }),
              face_value_fen: Fen('face value'),
              cost_fen: Fen('unit cost'),
              retail_price_fen: Fen('retail price'),
              usage_instructions: Type.Optional(Type.String({ maxLength: 4000 })),
            }),
            { minItems: 1, maxItems: 50 },
          ),
        }),
        response: { 201: Product, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const product = await catalog.createProduct({
        ...b,
        skus: b.skus.map((s) => ({ name: s.name, faceValueFen: s.face_value_fen, costFen: s.cost_fen, retailPriceFen: s.retail_price_fen, usageInstructions: s.usage_instructions })),
      });
      return reply.code(201).send((await withStock([product]))[0]!);
    },
  );
}
