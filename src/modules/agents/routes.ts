import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { Strict, errorResponses } from '../../http/schemas.js';
import type { AgentService } from './service.js';

const Agent = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: Type.String(),
  parent_id: Type.Union([Type.String(), Type.Null()]),
  depth: Type.Integer(),
  referral_code: Type.String(),
  status: Type.String(),
  created_at: Type.String(),
});

export async function agentRoutes(fastify: FastifyInstance, opts: { agents: AgentService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/admin/agents',
    {
      config: { permission: 'agents:read' },
      schema: {
        tags: ['admin: agents'],
        summary: 'Agents, optionally the whole downline of one agent',
        querystring: Strict({
          limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          cursor: Type.Optional(Type.String({ pattern: '^agt_[0-9A-HJKMNP-TV-Z]{26}$' })),
          under: Type.Optional(Type.String({ pattern: '^agt_[0-9A-HJKMNP-TV-Z]{26}$', description: 'only the downline of this agent' })),
        }),
        response: { 200: Page(Agent), ...errorResponses },
      },
    },
    async (request) => opts.agents.list({ limit: request.query.limit, cursor: request.query.cursor, underAgentId: request.query.under }),
  );
}
