import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { identityProviders, type CustomerService } from './service.js';

const Customer = Type.Object({
  id: Type.String(),
  display_name: Type.String(),
  locale: Type.String(),
  phone: Type.Union([Type.String(), Type.Null()], { description: 'masked, e.g. 138****1234' }),
  status: Type.String(),
  created_at: Type.String(),
  identities: Type.Array(Type.Object({ provider: Type.String(), external_id: Type.String() })),
});

export async function customerRoutes(fastify: FastifyInstance, opts: { customers: CustomerService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { customers } = opts;

  app.get(
    '/admin/customers',
    { config: { permission: 'customers:read' }, schema: { tags: ['admin: customers'], summary: 'List customers (phones masked)', querystring: PageQuery, response: { 200: Page(Customer), ...errorResponses } } },
    async (request) => customers.list(request.query),
  );

  app.get(
    '/admin/customers/:id',
    { config: { permission: 'customers:read' }, schema: { tags: ['admin: customers'], summary: 'One customer with linked chat identities', params: IdParams('cus'), response: { 200: Customer, ...errorResponses } } },
    async (request) => customers.get(request.params.id),
  );

  app.post(
    '/open/v1/customers/resolve',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'The customer account behind a chat or app identity, created on first contact',
        body: Strict({
          provider: Type.Union(identityProviders.map((p) => Type.Literal(p))),
          external_id: Type.String({ minLength: 1, maxLength: 128 }),
          union_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
          display_name: Type.Optional(Type.String({ maxLength: 64 })),
          locale: Type.Optional(Type.Union([Type.Literal('zh-CN'), Type.Literal('en')])),
        }),
        response: { 200: Type.Object({ customer_id: Type.String(), created: Type.Boolean() }), ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      const r = await customers.resolve({ identity: { provider: b.provider, externalId: b.external_id }, unionId: b.union_id, displayName: b.display_name, locale: b.locale });
      return { customer_id: r.customerId, created: r.created };
    },
  );
}
