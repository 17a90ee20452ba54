import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { scopeTypes } from './product-scope.js';
import { MAX_SCOPE_ENTRIES, type AgentScopeService } from './scopes.js';

const Entry = Type.Object({ scope_type: Type.Union(scopeTypes.map((s) => Type.Literal(s))), ref_id: Type.String({ minLength: 1, maxLength: 64, description: 'a SKU id, or a products\' category' }) });
const Scope = Type.Object({
  agent_id: Type.String(),
  restricted: Type.Boolean({ description: 'false: no scope of its own; the agent sells what its upline chain allows' }),
  entries: Type.Array(Entry),
});
const Body = Strict({ entries: Type.Array(Strict({ scope_type: Entry.properties.scope_type, ref_id: Entry.properties.ref_id }), { maxItems: MAX_SCOPE_ENTRIES, description: 'the whole new list; empty: the agent inherits again' }) });

function agentOf(request: FastifyRequest): string {
  const key = request.apiKey!;
  if (key.ownerType !== 'agent') throw new AppError('FORBIDDEN', 'the agent back office needs an agent\'s API key; this key belongs to a ' + key.ownerType);
  return key.ownerId;
}

/** Product scopes of agents: staff for any agent, an upline (signed agent API) for its direct children. */
export async function agentScopeRoutes(fastify: FastifyInstance, opts: { scopes: AgentScopeService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { scopes } = opts;
  const entries = (b: { entries: { scope_type: 'sku' | 'category'; ref_id: string }[] }) => b.entries.map((e) => ({ type: e.scope_type, ref: e.ref_id }));

  app.get(
    '/admin/agents/:id/scope',
    { config: { permission: 'agents:read' }, schema: { tags: ['admin: agents'], summary: 'The product scope of an agent (SKUs and categories it may sell)', params: IdParams('agt'), response: { 200: Scope, ...errorResponses } } },
    async (request) => scopes.get(request.params.id),
  );
  app.put(
    '/admin/agents/:id/scope',
    {
      config: { permission: 'agents:manage' },
      schema: { tags: ['admin: agents'], summary: 'Replace the product scope of an agent (audited). Its downline never sells outside it.', params: IdParams('agt'), body: Body, response: { 200: Scope, ...errorResponses } },
    },
    async (request) => scopes.set(request.params.id, entries(request.body), staffOf(request)),
  );

  const tags = ['open api: agent back office'];
  app.get(
    '/open/v1/agent/team/:id/scope',
    { config: { signed: true }, schema: { tags, summary: 'The product scope of one of your direct team members', params: IdParams('agt'), response: { 200: Scope, ...errorResponses } } },
    async (request) => scopes.getForUpline(agentOf(request), request.params.id),
  );
  app.put(
    '/open/v1/agent/team/:id/scope',
    {
      config: { signed: true },
      schema: { tags, summary: 'Replace the product scope of one of your direct team members, within your own scope (audited)', params: IdParams('agt'), body: Body, response: { 200: Scope, ...errorResponses } },
    },
    async (request) => scopes.setByUpline(agentOf(request), request.params.id, entries(request.body), request.ip),
  );
}
