import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { TracingService } from './service.js';

const Traced = Type.Object({
  input: Type.String({ description: 'the pasted code, masked to its last 4 characters' }),
  found: Type.Boolean(),
  code: Type.Optional(Type.Object({ id: Type.String(), sku_id: Type.String(), state: Type.String(), last4: Type.String() })),
  order: Type.Optional(Type.Union([Type.Null(), Type.Object({ id: Type.String(), status: Type.String(), channel: Type.String(), buyer_type: Type.String(), buyer_id: Type.String(), created_at: Type.String(), delivered_at: Type.Union([Type.String(), Type.Null()]) })])),
  chain: Type.Array(Type.Object({ level: Type.Integer(), agent_id: Type.String(), name: Type.String(), role: Type.String(), status: Type.String() })),
  seller_leaks_30d: Type.Integer(),
});

export async function tracingRoutes(fastify: FastifyInstance, opts: { tracing: TracingService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/admin/tracing/leaks',
    {
      config: { permission: 'risk:read' },
      schema: {
        tags: ['admin: risk'],
        summary: 'Trace codes found outside (窜货): paste the codes, or SKU and last 4 characters; get the order, buyer and agent chain of each (audited; repeat leaks from one seller raise a risk alert)',
        body: Strict({
          codes: Type.Optional(Type.Array(Type.String({ minLength: 4, maxLength: 256 }), { maxItems: 500 })),
          tails: Type.Optional(Type.Array(Strict({ sku_id: Type.String({ pattern: '^sku_[0-9A-HJKMNP-TV-Z]{26}$' }), last4: Type.String({ minLength: 1, maxLength: 4 }) }), { maxItems: 100 })),
          source: Type.Optional(Type.String({ maxLength: 500, description: 'where they were found (a listing URL, a shop name)' })),
        }),
        response: { 200: Type.Object({ codes: Type.Array(Traced), flagged_agents: Type.Array(Type.String()) }), ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      if (!b.codes?.length && !b.tails?.length) throw new AppError('VALIDATION_FAILED', 'codes: give the codes found, or tails (SKU and last characters)', [{ field: 'codes', message: 'codes or tails required' }]);
      return opts.tracing.trace({ secrets: b.codes, tails: b.tails?.map((t) => ({ skuId: t.sku_id, last4: t.last4 })), source: b.source }, staffOf(request));
    },
  );
}
