import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { identityProviders, type CustomerService } from '../customers/service.js';
import type { AgentService } from './service.js';

const RULES =
  'Rules: REFERRAL_BINDING_MODE=first_touch (default) keeps the first agent whose link or code the customer touched; last_touch rebinds on every touch (the same agent renews). ' +
  'A binding lasts REFERRAL_BINDING_DAYS (default 30; 0 = for good); after it expires, or while its agent is frozen, the next touch rebinds. ' +
  "A customer's orders without an agent are attributed to the agent of its active binding, and commissions follow.";

const Binding = Type.Object({
  customer_id: Type.String(),
  agent_id: Type.String({ description: 'the agent the customer is bound to after this touch' }),
  bound: Type.Boolean({ description: 'true when this touch (re)bound the customer' }),
  reason: Type.String({ description: 'new | already_bound | kept_first_touch | renewed | rebound_last_touch | rebound_expired | rebound_agent_frozen' }),
  expires_at: Type.Union([Type.String(), Type.Null()]),
});
const StoredBinding = Type.Object({
  customer_id: Type.String(),
  binding: Type.Union([
    Type.Object({
      agent_id: Type.String(),
      agent_name: Type.String(),
      agent_status: Type.String(),
      source: Type.String(),
      bound_at: Type.String(),
      expires_at: Type.Union([Type.String(), Type.Null()]),
      active: Type.Boolean({ description: 'counts for attribution now: not expired and the agent active' }),
    }),
    Type.Null(),
  ]),
});

export async function referralBindingRoutes(fastify: FastifyInstance, opts: { agents: AgentService; customers: CustomerService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { agents, customers } = opts;

  app.post(
    '/open/v1/bindings',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'Record that a customer touched an agent\'s link or referral code (binds the customer to the agent by the binding rules)',
        description: `${RULES} An agent's key may only use its own code or a code of its downline.`,
        body: Strict({
          customer: Strict({ provider: Type.Union(identityProviders.map((x) => Type.Literal(x))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }),
          referral_code: Type.String({ minLength: 4, maxLength: 32, pattern: '^[A-Za-z0-9]+$' }),
          source: Type.Optional(Type.String({ pattern: '^[a-z_]{1,32}$', description: 'where the touch happened: link, qr, bot, api (default api)' })),
        }),
        response: { 200: Binding, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const key = request.apiKey!;
      if (key.ownerType === 'agent') {
        const target = await agents.byReferralCode(b.referral_code);
        const chain = target ? await agents.chainOf(target.id) : [];
        if (target && !chain.some((a) => a.id === key.ownerId)) throw new AppError('FORBIDDEN', 'referral_code: an agent may bind customers only to itself or its downline', [{ field: 'referral_code', message: 'not yours' }]);
      }
      const { customerId } = await customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
      const r = await agents.bindCustomer(customerId, b.referral_code, b.source ?? 'api');
      return { customer_id: customerId, ...r };
    },
  );

  app.get(
    '/admin/customers/:id/binding',
    { config: { permission: 'customers:read' }, schema: { tags: ['admin: customers'], summary: 'The agent a customer is bound to (referral binding), if any', description: RULES, params: IdParams('cus'), response: { 200: StoredBinding, ...errorResponses } } },
    async (request) => {
      await customers.get(request.params.id);
      return { customer_id: request.params.id, binding: await agents.bindingOf(request.params.id) };
    },
  );
}
