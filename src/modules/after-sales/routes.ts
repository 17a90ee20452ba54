import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page, PageQuery } from '../../lib/pagination.js';
import { notFound } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import { identityProviders, type CustomerService, type IdentityProvider } from '../customers/service.js';
import type { AfterSalesService } from './service.js';
import { decisions, ticketStatuses } from './views.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Provider = Type.Union(identityProviders.map((x) => Type.Literal(x)));
const ExternalId = Type.String({ minLength: 1, maxLength: 128 });
const CustomerRef = Strict({ provider: Provider, external_id: ExternalId }, { description: 'the end customer' });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) });

const TicketEvent = Type.Object({ from_status: Nullable(Type.String()), to_status: Type.String(), actor_type: Type.String(), actor_id: Nullable(Type.String()), note: Nullable(Type.String()), created_at: Type.String() });
export const Ticket = Type.Object({
  id: Type.String(),
  customer_id: Type.String(),
  order_id: Type.String(),
  code_ids: Type.Array(Type.String()),
  description: Type.String(),
  evidence_urls: Type.Array(Type.String()),
  status: Type.String({ description: ticketStatuses.join(' | ') }),
  decision: Nullable(Type.String()),
  decision_note: Nullable(Type.String()),
  supplier_fault: Type.Boolean(),
  replacement_order_id: Nullable(Type.String({ description: 'the order (paid by the promotion budget) that delivered the new codes' })),
  refunded_fen: Nullable(Type.Integer()),
  chargeback_fen: Nullable(Type.Integer({ description: "the faulty codes' cost charged back to the supplier payable" })),
  decided_at: Nullable(Type.String()),
  created_at: Type.String(),
  history: Type.Optional(Type.Array(TicketEvent)),
});
const Status = Type.Union(ticketStatuses.map((s) => Type.Literal(s)));

const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

export async function afterSalesRoutes(fastify: FastifyInstance, opts: { afterSales: AfterSalesService; customers: Pick<CustomerService, 'find'> }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { afterSales, customers } = opts;
  const customerId = (provider: IdentityProvider, externalId: string) => customers.find({ provider, externalId });

  // ---- open API: a partner reports for its end customer ----
  app.post(
    '/open/v1/after-sales',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'A customer reports revealed codes they hold now (bought, or received as a gift) that do not work (Idempotency-Key required). 404: not the customer\'s order or code (a code given away is its receiver\'s to report); 422: codes not of the order or not revealed; 409: a code already has an open ticket.',
        headers: IdempotencyHeaders,
        body: Strict({
          customer: CustomerRef,
          order_id: Type.Optional({ ...Id('ord'), description: 'the order; may be left out (a gift\'s receiver does not know the giver\'s order): the codes name it' }),
          code_ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20, uniqueItems: true }),
          description: Type.String({ minLength: 1, maxLength: 2000 }),
          evidence_urls: Type.Optional(Type.Array(Type.String({ format: 'uri', pattern: '^https?://', maxLength: 1000 }), { maxItems: 3, description: 'screenshots or photos, as links' })),
        }),
        response: { 201: Ticket, 200: Ticket, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const id = await customerId(b.customer.provider, b.customer.external_id);
      // An unknown customer has no orders.
      if (!id) throw b.order_id ? notFound('order', b.order_id) : notFound('code', b.code_ids[0]!);
      const r = await afterSales.open({ customerId: id, orderId: b.order_id, codeIds: b.code_ids, description: b.description, evidenceUrls: b.evidence_urls ?? [], apiKeyOwner: ownerOf(request), scope: `${ownerOf(request)}:after_sales`, idempotencyKey: request.headers['idempotency-key'] });
      return reply.code(r.status).send(r.ticket);
    },
  );

  app.get(
    '/open/v1/after-sales',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: "A customer's after-sales tickets, newest first (an unknown customer has none)",
        querystring: Strict({ provider: Provider, external_id: ExternalId, limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ast')) }),
        response: { 200: Page(Ticket), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const id = await customerId(q.provider, q.external_id);
      if (!id) return { data: [], has_more: false, next_cursor: null };
      return afterSales.list({ customerId: id, limit: q.limit, cursor: q.cursor });
    },
  );

  app.get(
    '/open/v1/after-sales/:id',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: "One of the customer's tickets with its history (another customer's is not found)",
        params: IdParams('ast'),
        querystring: Strict({ provider: Provider, external_id: ExternalId }),
        response: { 200: Ticket, ...errorResponses },
      },
    },
    async (request) => {
      const id = await customerId(request.query.provider, request.query.external_id);
      if (!id) throw notFound('after-sales ticket', request.params.id);
      return afterSales.get(request.params.id, id);
    },
  );

  // ---- admin: support decides ----
  const tags = ['admin: after-sales'];
  app.get(
    '/admin/after-sales',
    {
      config: { permission: 'aftersales:read' },
      schema: { tags, summary: 'After-sales tickets, newest first', querystring: Strict({ status: Type.Optional(Status), limit: PageQuery.properties.limit, cursor: Type.Optional(Id('ast')) }), response: { 200: Page(Ticket), ...errorResponses } },
    },
    async (request) => afterSales.list(request.query),
  );

  app.get(
    '/admin/after-sales/:id',
    { config: { permission: 'aftersales:read' }, schema: { tags, summary: 'One ticket with its history', params: IdParams('ast'), response: { 200: Ticket, ...errorResponses } } },
    async (request) => afterSales.get(request.params.id),
  );

  app.post(
    '/admin/after-sales/:id/review',
    { config: { permission: 'aftersales:decide' }, schema: { tags, summary: 'Take a ticket into review (open -> in_review; again: no change)', params: IdParams('ast'), response: { 200: Ticket, ...errorResponses } } },
    async (request) => afterSales.review(request.params.id, staffOf(request)),
  );

  app.post(
    '/admin/after-sales/:id/decide',
    {
      config: { permission: 'aftersales:decide' },
      schema: {
        tags,
        summary:
          'Decide a ticket once (a decided ticket: 409). replace: new codes of the same SKU, paid by the promotion budget and delivered to the ticket\'s opener (and the order\'s chat when the opener is its buyer), the faulty ones voided (409 OUT_OF_STOCK: nothing changes); refund: the faulty codes refunded and voided (422 for a code received as a gift: its money is the giver\'s); reject: note required. supplier_fault charges the codes\' cost back to the supplier payable. The customer is told (webhook after_sales.decided, chat message).',
        params: IdParams('ast'),
        body: Strict({ decision: Type.Union(decisions.map((d) => Type.Literal(d))), note: Type.Optional(Type.String({ maxLength: 1000 })), supplier_fault: Type.Optional(Type.Boolean()) }),
        response: { 200: Ticket, ...errorResponses },
      },
    },
    async (request) => afterSales.decide(request.params.id, { decision: request.body.decision, note: request.body.note, supplierFault: request.body.supplier_fault }, staffOf(request)),
  );
}
