import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/errors.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CustomerService } from '../customers/service.js';
import type { RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import { rewardKinds, type FissionService } from './fission.js';
import { CustomerIdentity, IdempotencyHeaders, customerOfRequest } from './points-routes.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Campaign = Type.Object({
  id: Type.String(),
  name: Type.String(),
  campaign_id: NullableString,
  reward_kind: Type.String({ description: 'promo (fen of promotional balance) | points' }),
  reward_amount: Type.Integer(),
  friends_needed: Type.Integer(),
  hours: Type.Integer(),
  consolation_points: Type.Integer(),
  per_customer_limit: Type.Integer(),
  budget: Type.Union([Type.Integer(), Type.Null()]),
  committed: Type.Integer({ description: 'rewards reserved by open and unlocked packets' }),
  starts_at: Type.String(),
  ends_at: NullableString,
  status: Type.String(),
  created_at: Type.String(),
});
const Packet = Type.Object({
  id: Type.String(),
  fission_campaign_id: Type.String(),
  campaign_id: NullableString,
  customer_id: Type.String(),
  reward_kind: Type.String(),
  reward_amount: Type.Integer(),
  friends_needed: Type.Integer(),
  opened_count: Type.Integer(),
  status: Type.String({ description: 'open | unlocked | expired' }),
  expires_at: Type.String(),
  unlocked_at: NullableString,
  created_at: Type.String(),
});
const OpenResult = Type.Object({ packet: Packet, counted: Type.Boolean({ description: 'false when this friend had already opened this packet' }), unlocked: Type.Boolean({ description: 'this open unlocked the reward' }) });
const DeviceHeaders = { 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) };

export async function fissionRoutes(fastify: FastifyInstance, opts: { fission: FissionService; customers: Pick<CustomerService, 'resolve' | 'phoneHashOf'>; risk?: RiskService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { fission } = opts;
  const tags = ['open api: marketing'];

  app.post(
    '/open/v1/fission/packets',
    {
      config: { signed: true },
      schema: {
        tags,
        summary: 'A customer starts a red packet (裂变红包) from a fission campaign (Idempotency-Key required); share its id. X-Device-Id is the sharer\'s device (friends on it do not count).',
        headers: Type.Object({ ...IdempotencyHeaders.properties, ...DeviceHeaders }),
        body: Strict({ customer: CustomerIdentity, fission_campaign_id: Id('fsc') }),
        response: { 201: Packet, 200: Packet, ...errorResponses },
      },
    },
    async (request, reply) => {
      const c = await customerOfRequest(request, opts.customers, request.body.customer);
      const r = await fission.start({ fissionCampaignId: request.body.fission_campaign_id, customerId: c.customerId, deviceId: gateInputOf(request).deviceId, key: request.headers['idempotency-key'], scope: `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}` });
      return reply.code(r.status).send(r.packet);
    },
  );

  app.get(
    '/open/v1/fission/packets/:id',
    { config: { signed: true }, schema: { tags, summary: 'A red packet: progress (opened / needed), status and expiry', params: IdParams('fpk'), response: { 200: Packet, ...errorResponses } } },
    async (request) => fission.getPacket(request.params.id),
  );

  app.post(
    '/open/v1/fission/:id/open',
    {
      config: { signed: true },
      schema: {
        tags,
        summary:
          'A friend opens a red packet (X-Device-Id: the friend\'s device). Counts only a NEW friend (joined after the packet, no orders, not the sharer, another device and phone, once per campaign), after the risk gate (action register); the K-th friend unlocks the reward. 422 not a new friend, 409 complete/expired/already counted elsewhere, 403 risk.',
        params: IdParams('fpk'),
        headers: Type.Object(DeviceHeaders),
        body: Strict({ friend: CustomerIdentity }),
        response: { 200: OpenResult, ...errorResponses },
      },
    },
    async (request) => {
      const f = await customerOfRequest(request, opts.customers, request.body.friend);
      const gate = gateInputOf(request);
      if (opts.risk) {
        const phoneHash = (await opts.customers.phoneHashOf(f.customerId)) ?? undefined;
        const d = await opts.risk.assess({ action: 'register', ...gate, account: { type: 'customer', id: f.customerId, ...(f.createdAt ? { createdAt: f.createdAt } : {}) }, ...(phoneHash ? { phoneHash } : {}) });
        // A friend the gate wants reviewed does not count now (no review queue for opens).
        if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_REVIEW_PENDING', `this friend is under a risk review (reference ${d.decision_id})`, { reference: d.decision_id });
      }
      return fission.open(request.params.id, { customerId: f.customerId, deviceId: gate.deviceId, ip: gate.ip });
    },
  );

  // ---- staff ----
  const adminTags = ['admin: marketing'];
  app.post(
    '/admin/marketing/fission-campaigns',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags: adminTags,
        summary: 'A fission red-packet campaign: reward (promo fen or points), friends needed, hours, per-customer limit, budget (in reward units) (audited)',
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          campaign_id: Type.Optional(Id('cmp')),
          reward_kind: Type.Union(rewardKinds.map((k) => Type.Literal(k))),
          reward_amount: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
          friends_needed: Type.Integer({ minimum: 1, maximum: 100 }),
          hours: Type.Integer({ minimum: 1, maximum: 24 * 30 }),
          consolation_points: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
          per_customer_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          budget: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000_00 })),
          starts_at: Type.Optional(Type.String({ format: 'date-time' })),
          ends_at: Type.Optional(Type.String({ format: 'date-time' })),
        }),
        response: { 201: Campaign, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const c = await fission.createCampaign(
        { name: b.name, campaignId: b.campaign_id, rewardKind: b.reward_kind, rewardAmount: b.reward_amount, friendsNeeded: b.friends_needed, hours: b.hours, consolationPoints: b.consolation_points, perCustomerLimit: b.per_customer_limit, budget: b.budget, startsAt: b.starts_at ? new Date(b.starts_at) : undefined, endsAt: b.ends_at ? new Date(b.ends_at) : undefined },
        staffOf(request),
      );
      return reply.code(201).send(c);
    },
  );
  app.get(
    '/admin/marketing/fission-campaigns',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: 'Fission campaigns, newest first', querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('fsc')) }), response: { 200: Page(Campaign), ...errorResponses } } },
    async (request) => fission.listCampaigns(request.query),
  );
  app.get(
    '/admin/marketing/fission-campaigns/:id',
    { config: { permission: 'marketing:read' }, schema: { tags: adminTags, summary: 'One fission campaign', params: IdParams('fsc'), response: { 200: Campaign, ...errorResponses } } },
    async (request) => fission.getCampaign(request.params.id),
  );
  app.post(
    '/admin/marketing/fission-campaigns/:id/end',
    { config: { permission: 'marketing:manage' }, schema: { tags: adminTags, summary: 'End a campaign: no new packets (open ones run to their expiry) (audited)', params: IdParams('fsc'), response: { 200: Campaign, ...errorResponses } } },
    async (request) => fission.endCampaign(request.params.id, staffOf(request)),
  );
  app.get(
    '/admin/marketing/fission-packets',
    {
      config: { permission: 'marketing:read' },
      schema: {
        tags: adminTags,
        summary: 'Red packets, newest first',
        querystring: Strict({ limit: PageQuery.properties.limit, cursor: Type.Optional(Id('fpk')), fission_campaign_id: Type.Optional(Id('fsc')), customer_id: Type.Optional(Id('cus')), status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('unlocked'), Type.Literal('expired')])) }),
        response: { 200: Page(Packet), ...errorResponses },
      },
    },
    async (request) => fission.listPackets({ limit: request.query.limit, cursor: request.query.cursor, fissionCampaignId: request.query.fission_campaign_id, customerId: request.query.customer_id, status: request.query.status }),
  );
}
