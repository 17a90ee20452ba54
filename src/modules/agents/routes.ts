import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { AgentService } from './service.js';

/** An agent as every route shows it (staff and agent APIs alike). */
export const Agent = Type.Object({
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

  const Reason = Strict({ reason: Type.String({ minLength: 3, maxLength: 500 }) });
  app.post(
    '/admin/agents/:id/freeze',
    {
      config: { permission: 'agents:manage' },
      schema: {
        tags: ['admin: agents'],
        summary: 'Freeze an agent: its purchases, sales and payouts stop at once; its downline is reported (audited)',
        params: IdParams('agt'),
        body: Reason,
        response: { 200: Type.Object({ agent: Agent, downline: Type.Object({ count: Type.Integer(), agents: Type.Array(Agent), truncated: Type.Boolean() }) }), ...errorResponses },
      },
    },
    async (request) => opts.agents.freeze(request.params.id, request.body.reason, staffOf(request)),
  );
  app.post(
    '/admin/agents/:id/unfreeze',
    { config: { permission: 'agents:manage' }, schema: { tags: ['admin: agents'], summary: 'Unfreeze an agent (audited)', params: IdParams('agt'), body: Reason, response: { 200: Agent, ...errorResponses } } },
    async (request) => opts.agents.unfreeze(request.params.id, request.body.reason, staffOf(request)),
  );
}
