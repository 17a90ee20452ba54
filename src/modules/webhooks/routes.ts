import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { WebhookService } from './service.js';
import { deliveryStatuses, endpointOwnerTypes, webhookEventTypes, type EndpointOwnerType, type OwnerScope, type WebhookActor } from './views.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Ulid = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });

const Endpoint = Type.Object({
  id: Type.String(),
  owner_type: Type.String(),
  owner_id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  status: Type.String({ description: 'active | disabled' }),
  created_at: Type.String(),
});
const EndpointWithSecret = Type.Composite([
  Endpoint,
  Type.Object({ secret: Type.String({ description: 'whsec_…: signs every delivery; shown in this answer only' }) }),
]);
const Delivery = Type.Object({
  id: Type.String(),
  event_id: Type.String({ description: 'the Kaquan-Webhook-Id receivers dedupe by' }),
  event_type: Type.String(),
  endpoint_id: Type.String(),
  url: Type.String(),
  status: Type.String({ description: deliveryStatuses.join(' | ') }),
  attempts: Type.Integer(),
  next_attempt_at: Nullable(Type.String()),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  created_at: Type.String(),
  updated_at: Type.String(),
  delivered_at: Nullable(Type.String()),
});
const Rotated = Type.Object({ id: Type.String(), secret: Type.String({ description: 'the new secret; the old one stops signing now' }) });

const EventTypes = Type.Array(Type.Union(webhookEventTypes.map((t) => Type.Literal(t))), { minItems: 1, maxItems: webhookEventTypes.length, uniqueItems: true });
const Url = Type.String({ minLength: 10, maxLength: 2000, description: 'https:// (or http://) URL receiving POSTs; private and loopback addresses are refused' });
const EndpointBody = { url: Url, events: EventTypes };
const OwnerTypeSchema = Type.Union(endpointOwnerTypes.map((t) => Type.Literal(t)));

const pageFields = (prefix: string) => ({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Ulid(prefix)) });
const EndpointQuery = Strict({ ...pageFields('whe'), status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])) });
const DeliveryQuery = Strict({
  ...pageFields('whd'),
  endpoint_id: Type.Optional(Ulid('whe')),
  event_id: Type.Optional(Ulid('evt')),
  status: Type.Optional(Type.Union(deliveryStatuses.map((s) => Type.Literal(s)))),
});

const staffActor = (request: FastifyRequest): WebhookActor => ({ type: 'staff', id: staffOf(request).id, ip: request.ip });

/** The open-API caller as owner and actor: partners only ever see and change their own endpoints. */
function caller(request: FastifyRequest): { scope: OwnerScope & { ownerType: EndpointOwnerType }; actor: WebhookActor } {
  const key = request.apiKey;
  if (!key) throw new AppError('INVALID_SIGNATURE', 'sign the request with an API key');
  const ownerType = endpointOwnerTypes.find((t) => t === key.ownerType);
  if (!ownerType) throw new AppError('FORBIDDEN', `API keys of ${key.ownerType} owners cannot manage webhooks`);
  return { scope: { ownerType, ownerId: key.ownerId }, actor: { type: 'api_key', id: key.keyId, ip: request.ip } };
}

const deliveryFilter = (q: { limit: number; cursor?: string; endpoint_id?: string; event_id?: string; status?: string }) => ({
  limit: q.limit,
  cursor: q.cursor,
  endpointId: q.endpoint_id,
  eventId: q.event_id,
  status: q.status,
});

export async function webhookRoutes(fastify: FastifyInstance, opts: { webhooks: WebhookService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { webhooks } = opts;
  const tags = ['admin: webhooks'];

  // ---- admin ----
  app.post(
    '/admin/webhooks/endpoints',
    {
      config: { permission: 'apikeys:manage' },
      schema: {
        tags,
        summary: 'Register a webhook endpoint for a partner or agent; the signing secret is in this answer only',
        body: Strict({ owner_type: OwnerTypeSchema, owner_id: Type.String({ minLength: 1, maxLength: 64 }), ...EndpointBody }),
        response: { 201: EndpointWithSecret, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      return reply.code(201).send(await webhooks.createEndpoint({ ownerType: b.owner_type, ownerId: b.owner_id, url: b.url, events: b.events }, staffActor(request)));
    },
  );

  app.get(
    '/admin/webhooks/endpoints',
    { config: { permission: 'apikeys:manage' }, schema: { tags, summary: 'Webhook endpoints, newest first (secrets are never shown)', querystring: EndpointQuery, response: { 200: Page(Endpoint), ...errorResponses } } },
    async (request) => webhooks.listEndpoints(request.query),
  );

  app.delete(
    '/admin/webhooks/endpoints/:id',
    { config: { permission: 'apikeys:manage' }, schema: { tags, summary: 'Disable an endpoint; its pending deliveries are cancelled', params: IdParams('whe'), response: { 200: Endpoint, ...errorResponses } } },
    async (request) => webhooks.disableEndpoint(request.params.id, staffActor(request)),
  );

  app.post(
    '/admin/webhooks/endpoints/:id/rotate-secret',
    { config: { permission: 'apikeys:manage' }, schema: { tags, summary: 'Replace the signing secret; the new one is in this answer only', params: IdParams('whe'), response: { 200: Rotated, ...errorResponses } } },
    async (request) => webhooks.rotateSecret(request.params.id, staffActor(request)),
  );

  app.get(
    '/admin/webhooks/deliveries',
    { config: { permission: 'system:read' }, schema: { tags, summary: 'The delivery log, newest first', querystring: DeliveryQuery, response: { 200: Page(Delivery), ...errorResponses } } },
    async (request) => webhooks.listDeliveries(deliveryFilter(request.query)),
  );

  app.post(
    '/admin/webhooks/deliveries/:id/redeliver',
    { config: { permission: 'apikeys:manage' }, schema: { tags, summary: 'Send a delivery again now (audited); receivers dedupe by event id', params: IdParams('whd'), response: { 200: Delivery, ...errorResponses } } },
    async (request) => webhooks.redeliver(request.params.id, staffActor(request)),
  );

  // ---- open API: the caller's own endpoints and deliveries ----
  const openTags = ['open api: webhooks'];
  app.post(
    '/open/v1/webhooks/endpoints',
    {
      config: { signed: true },
      schema: { tags: openTags, summary: 'Register an endpoint for your events; the signing secret is in this answer only', body: Strict(EndpointBody), response: { 201: EndpointWithSecret, ...errorResponses } },
    },
    async (request, reply) => {
      const { scope, actor } = caller(request);
      return reply.code(201).send(await webhooks.createEndpoint({ ...scope, url: request.body.url, events: request.body.events }, actor));
    },
  );

  app.get(
    '/open/v1/webhooks/endpoints',
    { config: { signed: true }, schema: { tags: openTags, summary: 'Your endpoints, newest first', querystring: EndpointQuery, response: { 200: Page(Endpoint), ...errorResponses } } },
    async (request) => webhooks.listEndpoints(request.query, caller(request).scope),
  );

  app.delete(
    '/open/v1/webhooks/endpoints/:id',
    { config: { signed: true }, schema: { tags: openTags, summary: 'Disable one of your endpoints', params: IdParams('whe'), response: { 200: Endpoint, ...errorResponses } } },
    async (request) => {
      const { scope, actor } = caller(request);
      return webhooks.disableEndpoint(request.params.id, actor, scope);
    },
  );

  app.post(
    '/open/v1/webhooks/endpoints/:id/rotate-secret',
    { config: { signed: true }, schema: { tags: openTags, summary: 'Replace the signing secret of one of your endpoints', params: IdParams('whe'), response: { 200: Rotated, ...errorResponses } } },
    async (request) => {
      const { scope, actor } = caller(request);
      return webhooks.rotateSecret(request.params.id, actor, scope);
    },
  );

  app.get(
    '/open/v1/webhooks/deliveries',
    { config: { signed: true }, schema: { tags: openTags, summary: 'Deliveries to your endpoints, newest first', querystring: DeliveryQuery, response: { 200: Page(Delivery), ...errorResponses } } },
    async (request) => webhooks.listDeliveries(deliveryFilter(request.query), caller(request).scope),
  );

  app.post(
    '/open/v1/webhooks/deliveries/:id/redeliver',
    { config: { signed: true }, schema: { tags: openTags, summary: 'Ask for one of your deliveries again (audited)', params: IdParams('whd'), response: { 200: Delivery, ...errorResponses } } },
    async (request) => {
      const { scope, actor } = caller(request);
      return webhooks.redeliver(request.params.id, actor, scope);
    },
  );
}
