import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CustomerService } from '../customers/service.js';
import { identityProviders } from '../customers/service.js';
import type { OrderService } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import type { AssessInput, RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import type { GroupBuyService, SeatRequest } from './group-buy-service.js';
import { GroupBuyCampaignSchema, GroupBuyGroupSchema, GroupStateSchema } from './group-buy-views.js';

const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const Instant = Type.String({ format: 'date-time' });
const IdempotencyHeaders = Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) });
const GroupParams = Strict({ groupId: Type.String({ pattern: `^gbg_${ULID}$`, description: 'gbg_ id' }) });
const SeatOrder = Type.Object({
  id: Type.String(),
  status: Type.String({ description: 'pending_payment (pay it), awaiting_group (paid, codes when the group fills), delivered (GET /open/v1/orders/:id/codes), paid_awaiting_stock, refunded' }),
  sku_id: Type.String(),
  quantity: Type.Integer(),
  unit_price_fen: Type.Integer(),
  amount_fen: Type.Integer(),
  payment_provider: Type.Union([Type.String(), Type.Null()]),
  payment_deadline: Type.String(),
  paid_at: Type.Union([Type.String(), Type.Null()]),
  delivered_at: Type.Union([Type.String(), Type.Null()]),
});
const SeatResult = Type.Object({
  group: GroupStateSchema,
  order: SeatOrder,
  payment: Type.Optional(Type.Object({ payment_id: Type.String(), trade_no: Type.String(), provider: Type.String(), amount_fen: Type.Integer(), client_params: Type.Record(Type.String(), Type.Unknown()) })),
});
const SeatBody = Strict({
  payment: Type.Union([Type.Literal('balance'), Type.Literal('wechat'), Type.Literal('stars'), Type.Literal('sandbox')], { description: "balance pays the seat at once from the customer's balance; a provider holds the seat until the order is paid or cancelled" }),
  payer_openid: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'WeChat openid of the payer (JSAPI)' })),
  customer: Strict({ provider: Type.Union(identityProviders.map((p) => Type.Literal(p))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'the customer taking the seat (a partner names its end customer; a group-leader agent the customer it acts for)' }),
});
const CampaignStatus = Type.Union([Type.Literal('active'), Type.Literal('ended')]);
const GroupStatus = Type.Union([Type.Literal('open'), Type.Literal('completed'), Type.Literal('failed')]);

/** The API key's owner, as orders record it ("partner:p1", "agent:agt_…"). */
const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

export async function groupBuyRoutes(fastify: FastifyInstance, opts: { groupBuys: GroupBuyService; orders: Pick<OrderService, 'get'>; payments: Pick<PaymentService, 'start' | 'configured'>; customers: Pick<CustomerService, 'resolve'>; risk?: RiskService }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { groupBuys } = opts;

  /** Who takes the seat, how it is paid and the risk gate, from a signed request. */
  async function seatRequest(request: FastifyRequest, body: { payment: string; payer_openid?: string; customer: { provider: (typeof identityProviders)[number]; external_id: string } }, key: string, what: string): Promise<SeatRequest> {
    if (body.payment === 'wechat' && !body.payer_openid) throw new AppError('VALIDATION_FAILED', 'payer_openid: required to pay with WeChat (JSAPI)', [{ field: 'payer_openid', message: 'required for wechat' }]);
    if (body.payment !== 'balance' && !opts.payments.configured(body.payment)) throw new AppError('VALIDATION_FAILED', `payment: ${body.payment} is not configured here`, [{ field: 'payment', message: 'not configured' }]);
    const c = await opts.customers.resolve({ identity: { provider: body.customer.provider, externalId: body.customer.external_id } });
    const account: AssessInput['account'] = { type: 'customer', id: c.customerId, ...(c.createdAt ? { createdAt: c.createdAt } : {}) };
    const owner = ownerOf(request);
    const risk = opts.risk;
    await risk?.warm();
    return {
      customerId: c.customerId,
      agentId: request.apiKey!.ownerType === 'agent' ? request.apiKey!.ownerId : undefined,
      payment: body.payment === 'balance' ? 'balance' : 'external',
      provider: body.payment,
      apiKeyOwner: owner,
      channel: 'api',
      idempotency: { scope: `${owner}:group-buys`, key, request: { what, ...body } },
      gate: risk
        ? async (priced) => {
            const d = await risk.assess({ action: 'order', ...gateInputOf(request), account, amountFen: priced.amountFen, agentId: priced.agentId });
            // A seat cannot wait for a manual review while the group's clock runs: review refuses it here.
            if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this purchase needs a risk review and cannot take a group seat; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
            return 'allow';
          }
        : undefined,
    };
  }

  /** The answer to open/join: the group as the share page shows it, the seat's order, and a payment to start if unpaid. */
  async function seatAnswer(result: { group_id: string; order_id: string }, body: { payment: string; payer_openid?: string }) {
    let order = await opts.orders.get(result.order_id);
    const payment = order.status === 'pending_payment' && body.payment !== 'balance' ? await startPayment(order.id, body.payment as 'wechat' | 'sandbox' | 'stars', body.payer_openid) : undefined;
    if (payment) order = await opts.orders.get(result.order_id);
    return { group: await groupBuys.groupState(result.group_id), order, ...(payment ? { payment } : {}) };
  }

  const startPayment = async (orderId: string, provider: 'wechat' | 'sandbox' | 'stars', openid?: string) => {
    try {
      return await opts.payments.start(orderId, provider, { openid });
    } catch (err) {
      if (err instanceof AppError) throw err;
      fastify.log.error({ err, order_id: orderId, provider }, 'payment provider did not start a payment');
      throw new AppError('SERVICE_UNAVAILABLE', `the ${provider} payment could not be started; retry with the same Idempotency-Key`, { order_id: orderId });
    }
  };

  app.post(
    '/open/v1/group-buys/:id/groups',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'Open a group (拼团) as its leader by paying the first seat (Idempotency-Key required). The group runs duration_minutes (never past the campaign end); share its id so members can join.',
        params: IdParams('gbc'),
        headers: IdempotencyHeaders,
        body: SeatBody,
        response: { 201: SeatResult, 200: SeatResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const req = await seatRequest(request, request.body, request.headers['idempotency-key'], `open:${request.params.id}`);
      const result = await groupBuys.openGroup(request.params.id, req);
      return reply.code(result.status).send(await seatAnswer(result, request.body));
    },
  );

  app.post(
    '/open/v1/group-buys/groups/:groupId/join',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'Join a group by paying a seat (Idempotency-Key required). A full, completed or expired group, or a customer already in it, answers 409 with the reason. When the last seat is paid every member\'s order is delivered.',
        params: GroupParams,
        headers: IdempotencyHeaders,
        body: SeatBody,
        response: { 201: SeatResult, 200: SeatResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const req = await seatRequest(request, request.body, request.headers['idempotency-key'], `join:${request.params.groupId}`);
      const result = await groupBuys.joinGroup(request.params.groupId, req);
      return reply.code(result.status).send(await seatAnswer(result, request.body));
    },
  );

  app.get(
    '/open/v1/group-buys/groups/:groupId',
    { config: { signed: true }, schema: { tags: ['open api'], summary: "A group's state for its share page: seats left, deadline, members (names masked)", params: GroupParams, response: { 200: GroupStateSchema, ...errorResponses } } },
    async (request) => groupBuys.groupState(request.params.groupId),
  );

  app.get(
    '/open/v1/group-buys/:id',
    { config: { signed: true }, schema: { tags: ['open api'], summary: "A group-buy campaign's terms", params: IdParams('gbc'), response: { 200: GroupBuyCampaignSchema, ...errorResponses } } },
    async (request) => groupBuys.getCampaign(request.params.id),
  );

  // ---- admin ----
  const tags = ['admin: marketing'];
  app.post(
    '/admin/marketing/group-buys',
    {
      config: { permission: 'marketing:manage' },
      schema: {
        tags,
        summary: 'Create a group-buy campaign (Idempotency-Key required): a SKU at a group price for groups of group_size filled within duration_minutes',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }) }),
        body: Strict({
          name: Type.String({ minLength: 1, maxLength: 100 }),
          sku_id: Type.String({ pattern: `^sku_${ULID}$` }),
          group_price_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }),
          group_size: Type.Integer({ minimum: 2, maximum: 100 }),
          duration_minutes: Type.Integer({ minimum: 1, maximum: 7 * 24 * 60 }),
          starts_at: Type.Optional(Instant),
          ends_at: Instant,
          max_groups: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
          per_customer_limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1 })),
          campaign_id: Type.Optional(Type.String({ pattern: `^cmp_${ULID}$` })),
        }),
        response: { 201: GroupBuyCampaignSchema, 200: GroupBuyCampaignSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const input = {
        name: b.name,
        skuId: b.sku_id,
        groupPriceFen: b.group_price_fen,
        groupSize: b.group_size,
        durationMinutes: b.duration_minutes,
        startsAt: b.starts_at ? new Date(b.starts_at) : undefined,
        endsAt: new Date(b.ends_at),
        maxGroups: b.max_groups ?? null,
        perCustomerLimit: b.per_customer_limit ?? 1,
        campaignId: b.campaign_id ?? null,
      };
      const out = await groupBuys.createCampaign(input, staffOf(request), { key: request.headers['idempotency-key'], request: b });
      return reply.code(out.status).send(out.campaign);
    },
  );

  app.get(
    '/admin/marketing/group-buys',
    {
      config: { permission: 'marketing:read' },
      schema: { tags, summary: 'Group-buy campaigns, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Type.String({ pattern: `^gbc_${ULID}$` })), status: Type.Optional(CampaignStatus) }), response: { 200: Page(GroupBuyCampaignSchema), ...errorResponses } },
    },
    async (request) => groupBuys.listCampaigns(request.query),
  );

  app.get(
    '/admin/marketing/group-buys/:id',
    {
      config: { permission: 'marketing:read' },
      schema: {
        tags,
        summary: 'One group-buy campaign with its groups (newest first; page with groups_cursor)',
        params: IdParams('gbc'),
        querystring: Strict({ groups_limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), groups_cursor: Type.Optional(Type.String({ pattern: `^gbg_${ULID}$` })), groups_status: Type.Optional(GroupStatus) }),
        response: { 200: Type.Object({ campaign: GroupBuyCampaignSchema, groups: Page(GroupBuyGroupSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const campaign = await groupBuys.getCampaign(request.params.id);
      return { campaign, groups: await groupBuys.listGroups(campaign.id, { limit: q.groups_limit, cursor: q.groups_cursor, status: q.groups_status }) };
    },
  );

  app.post(
    '/admin/marketing/group-buys/:id/end',
    { config: { permission: 'marketing:manage' }, schema: { tags, summary: 'End a campaign: no new groups; open groups run to their deadline (complete, or refunded). Idempotent.', params: IdParams('gbc'), response: { 200: GroupBuyCampaignSchema, ...errorResponses } } },
    async (request) => groupBuys.endCampaign(request.params.id, staffOf(request)),
  );
}
