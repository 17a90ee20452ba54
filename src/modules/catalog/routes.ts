import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { VaultService } from '../vault/service.js';
import { levelPriceRoutes } from './level-routes.js';
import { productKinds, type CatalogService, type NewSku, type ProductView, type SkuPatch } from './service.js';

const Fen = (description: string) => Type.Integer({ minimum: 0, maximum: 100_000_000_00, description: `${description}, in fen (分)` });

const SkuFields = {
  id: Type.String(),
  product_id: Type.String(),
  name: Type.String(),
  face_value_fen: Type.Integer(),
  cost_fen: Type.Integer(),
  retail_price_fen: Type.Integer(),
  agent_prices: Type.Record(Type.String(), Type.Integer()),
  min_resale_price_fen: Type.Union([Type.Integer(), Type.Null()]),
  regions: Type.Array(Type.String()),
  validity_days: Type.Union([Type.Integer(), Type.Null()]),
  min_per_order: Type.Integer(),
  max_per_order: Type.Integer(),
  reusable: Type.Boolean(),
  max_sales_per_code: Type.Integer(),
  low_stock_threshold: Type.Integer(),
  usage_instructions: Type.String(),
  redeem_url: Type.Union([Type.String(), Type.Null()]),
  on_sale: Type.Boolean(),
  off_sale_reason: Type.Union([Type.String(), Type.Null()]),
};
const SkuView = Type.Object(SkuFields);
const Sku = Type.Object({ ...SkuFields, available: Type.Integer({ description: 'codes in stock' }) });
const Region = Type.String({ pattern: '^[A-Z]{2}(-[A-Z0-9]{1,3})?$' });
const AgentPrices = Type.Record(Type.String({ pattern: '^[1-9][0-9]?$' }), Type.Integer({ minimum: 0, maximum: 100_000_000_00 }), { description: 'price by agent level, in fen' });
const SkuEditable = {
  name: Type.String({ minLength: 1, maxLength: 128 }),
  face_value_fen: Type.Integer({ minimum: 0, maximum: 100_000_000_00 }),
  cost_fen: Type.Integer({ minimum: 0, maximum: 100_000_000_00 }),
  retail_price_fen: Type.Integer({ minimum: 0, maximum: 100_000_000_00 }),
  agent_prices: AgentPrices,
  min_resale_price_fen: Type.Union([Type.Integer({ minimum: 0, maximum: 100_000_000_00 }), Type.Null()], { description: 'lowest resale price agents may set, in fen (null: none); at most the retail price' }),
  regions: Type.Array(Region, { minItems: 1, maxItems: 50 }),
  validity_days: Type.Union([Type.Integer({ minimum: 1, maximum: 3650 }), Type.Null()]),
  min_per_order: Type.Integer({ minimum: 1, maximum: 1000 }),
  max_per_order: Type.Integer({ minimum: 1, maximum: 1000 }),
  reusable: Type.Boolean(),
  max_sales_per_code: Type.Integer({ minimum: 1, maximum: 100_000 }),
  low_stock_threshold: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  usage_instructions: Type.String({ maxLength: 4000 }),
  redeem_url: Type.Union([Type.String({ maxLength: 2000, pattern: '^https://[^\\s]+$' }), Type.Null()], { description: 'https URL where the brand redeems a code (wallet one-tap activation); {code} is replaced by the code' }),
};
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

interface SkuBody {
  name?: string;
  face_value_fen?: number;
  cost_fen?: number;
  retail_price_fen?: number;
  usage_instructions?: string;
  redeem_url?: string | null;
  agent_prices?: Record<string, number>;
  min_resale_price_fen?: number | null;
  regions?: string[];
  validity_days?: number | null;
  min_per_order?: number;
  max_per_order?: number;
  reusable?: boolean;
  max_sales_per_code?: number;
  low_stock_threshold?: number;
}

function skuInput<T extends SkuBody>(s: T) {
  return {
    name: s.name,
    faceValueFen: s.face_value_fen,
    costFen: s.cost_fen,
    retailPriceFen: s.retail_price_fen,
    usageInstructions: s.usage_instructions,
    redeemUrl: s.redeem_url,
    agentPrices: s.agent_prices,
    minResalePriceFen: s.min_resale_price_fen,
    regions: s.regions,
    validityDays: s.validity_days,
    minPerOrder: s.min_per_order,
    maxPerOrder: s.max_per_order,
    reusable: s.reusable,
    maxSalesPerCode: s.max_sales_per_code,
    lowStockThreshold: s.low_stock_threshold,
  } as T extends { name: string; face_value_fen: number; cost_fen: number; retail_price_fen: number } ? NewSku : SkuPatch;
}

export async function catalogRoutes(fastify: FastifyInstance, opts: { catalog: CatalogService; vault: VaultService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { catalog, vault } = opts;
  const tags = ['admin: catalog'];
  await levelPriceRoutes(fastify, { catalog });

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
              name: SkuEditable.name,
              face_value_fen: Fen('face value'),
              cost_fen: Fen('unit cost'),
              retail_price_fen: Fen('retail price'),
              usage_instructions: Type.Optional(SkuEditable.usage_instructions),
              redeem_url: Type.Optional(SkuEditable.redeem_url),
              agent_prices: Type.Optional(AgentPrices),
              min_resale_price_fen: Type.Optional(SkuEditable.min_resale_price_fen),
              regions: Type.Optional(SkuEditable.regions),
              validity_days: Type.Optional(SkuEditable.validity_days),
              min_per_order: Type.Optional(SkuEditable.min_per_order),
              max_per_order: Type.Optional(SkuEditable.max_per_order),
              reusable: Type.Optional(SkuEditable.reusable),
              max_sales_per_code: Type.Optional(SkuEditable.max_sales_per_code),
              low_stock_threshold: Type.Optional(SkuEditable.low_stock_threshold),
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
        skus: b.skus.map(skuInput),
      });
      return reply.code(201).send((await withStock([product]))[0]!);
    },
  );

  app.patch(
    '/admin/skus/:id',
    {
      config: { permission: 'catalog:write' },
      schema: {
        tags,
        summary: 'Edit a SKU: prices, agent prices, regions, limits, reusable option, on/off sale',
        params: IdParams('sku'),
        body: Type.Partial(Strict({ ...SkuEditable, on_sale: Type.Boolean() }), { minProperties: 1, additionalProperties: false }),
        response: { 200: SkuView, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return catalog.updateSku(request.params.id, { ...skuInput(b as Parameters<typeof skuInput>[0]), onSale: b.on_sale }, staffOf(request));
    },
  );
}
