import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../platform.js';
import { Page, PageQuery } from '../../lib/pagination.js';
import { AppError, notFound } from '../../lib/errors.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import type { CustomerService } from '../customers/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { OrderService } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import type { RiskService } from '../risk/service.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';
import type { GroupBuyService, SeatRequest } from '../marketing/group-buy-service.js';
import { GroupStateSchema } from '../marketing/group-buy-views.js';
import type { ReferralCdkService } from '../marketing/referral-cdk.js';
import { MpOrder, mpOrderView } from './mp-orders.js';
import type { SubscribeConsents } from './subscriptions.js';

const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_${ULID}$` });
const Key = Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' });
const KeyHeaders = Type.Object({ 'idempotency-key': Key, 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) });
const GroupParams = Strict({ groupId: Type.String({ pattern: `^gbg_${ULID}$`, description: 'gbg_ id' }) });
const Campaign = Type.Object({ id: Type.String(), name: Type.String(), sku_id: Type.String(), group_price_fen: Type.Integer(), group_size: Type.Integer(), duration_minutes: Type.Integer(), ends_at: Type.String(), per_customer_limit: Type.Integer() });
const SeatResult = Type.Object({
  group: GroupStateSchema,
  order: MpOrder,
  payment: Type.Optional(Type.Object({ payment_id: Type.String(), trade_no: Type.String(), provider: Type.String(), amount_fen: Type.Integer(), client_params: Type.Record(Type.String(), Type.Unknown(), { description: 'the server-signed wx.requestPayment parameters' }) })),
});
const SeatBody = Strict({ payment: Type.Union([Type.Literal('balance'), Type.Literal('wechat')], { description: 'balance pays the seat at once; wechat holds it until wx.requestPayment completes (or the order is cancelled)' }) });
const Template = Type.Object({ template_id: Type.String(), purpose: Type.String({ description: 'expiry_reminder' }) });
const Unused = Type.Record(Type.String(), Type.Integer(), { description: 'unused acceptances per template id: each sends one message' });

export interface MpPartnerDeps {
  platform: Platform;
  orders: Pick<OrderService, 'keepWaiting' | 'get' | 'getRow'>;
  payments: Pick<PaymentService, 'refundOrder' | 'start' | 'configured'>;
  customers: Pick<CustomerService, 'get'>;
  groupBuys: GroupBuyService;
  referrals: ReferralCdkService;
  consents: SubscribeConsents;
  risk?: RiskService;
}

const customerIdOf = (request: FastifyRequest) => {
  if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
  return request.customer.customerId;
};
/** Signals "the key was free": the look-up transaction rolls back instead of keeping the claim. */
const KEY_FREE = Symbol('key free');

/**
 * The mini-program's partner-facing features for customers: the sold-out choice, subscribe consents, group buying
 * and the customer's referral code. Thin: each route calls one service with the session's customer.
 */
export async function mpPartnerRoutes(fastify: FastifyInstance, opts: MpPartnerDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { orders, groupBuys, referrals, consents, platform } = opts;
  const idempotency = createIdempotency(platform);
  const tags = ['mini-program'];

  /** The response stored for a key, without claiming it (the claim is made once the choice took effect). */
  async function storedFor(scope: string, key: string, body: unknown) {
    try {
      return await platform.db.transaction(async (tx) => {
        const prior = await idempotency.claim(tx, scope, key, body, { statusCode: 200, body: null });
        if (!prior) throw KEY_FREE;
        return prior;
      });
    } catch (err) {
      if (err === KEY_FREE) return null;
      throw err;
    }
  }

  app.post(
    '/mp/v1/orders/:id/choice',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'For my order paid while sold out (paid_awaiting_stock): keep waiting (delivered on restock) or take the money back to my balance now (Idempotency-Key required; a retry answers the same order). 404 for anybody else; 409 when the order is not waiting for stock',
        params: IdParams('ord'),
        headers: Type.Object({ 'idempotency-key': Key }),
        body: Strict({ choice: Type.Union([Type.Literal('wait'), Type.Literal('refund')]) }),
        response: { 200: MpOrder, ...errorResponses },
      },
    },
    async (request) => {
      const buyer = { type: 'customer' as const, id: customerIdOf(request) };
      const orderId = request.params.id;
      const scope = `customer:${buyer.id}:order-choice`;
      const key = request.headers['idempotency-key'];
      const body = { order_id: orderId, ...request.body };
      // Anybody else's order does not exist for this customer, whatever it is waiting for.
      const own = await orders.getRow(orderId);
      if (!own || own.buyerType !== buyer.type || own.buyerId !== buyer.id) throw notFound('order', orderId);
      if (await storedFor(scope, key, body)) return mpOrderView((await orders.getRow(orderId))!);
      if (request.body.choice === 'wait') {
        const order = await orders.keepWaiting(orderId, { buyer });
        await idempotency.claim(platform.db, scope, key, body, { statusCode: 200, body: { order_id: orderId } });
        return { ...order, awaiting_choice: 'wait' as const };
      }
      try {
        await opts.payments.refundOrder(orderId, { reason: 'buyer chose a refund to balance while the product was sold out', to: 'balance', onlyIf: { status: 'paid_awaiting_stock', owner: { buyer } } }, { id: buyer.id, type: 'customer' });
      } catch (err) {
        // A twin of this request refunded it first (the refund runs once, under the order's lock): the same answer.
        const o = err instanceof AppError && err.code === 'CONFLICT' ? await orders.getRow(orderId) : undefined;
        if (!(o && o.buyerType === 'customer' && o.buyerId === buyer.id && o.status === 'refunded' && (await storedFor(scope, key, body)))) throw err;
      }
      await idempotency.claim(platform.db, scope, key, body, { statusCode: 200, body: { order_id: orderId } });
      return orders.get(orderId);
    },
  );

  // ---- subscribe messages ----
  app.get(
    '/mp/v1/subscriptions/templates',
    { config: { customer: true }, schema: { tags, summary: 'The subscribe-message templates to ask for with wx.requestSubscribeMessage, and how many accepted ones I have unused', response: { 200: Type.Object({ templates: Type.Array(Template), unused: Unused }), ...errorResponses } } },
    async (request) => ({ templates: consents.templates(), unused: await consents.unusedCounts(customerIdOf(request)) }),
  );

  app.post(
    '/mp/v1/subscriptions',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Record the templates I just accepted in wx.requestSubscribeMessage (Idempotency-Key required): each acceptance lets the server send me one message (e.g. an expiry reminder). 422 for a template id the app does not use',
        headers: Type.Object({ 'idempotency-key': Key }),
        body: Strict({ template_ids: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 3, uniqueItems: true }) }),
        response: { 201: Type.Object({ unused: Unused }), 200: Type.Object({ unused: Unused }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const done = await consents.record(customerIdOf(request), request.body.template_ids, { key: request.headers['idempotency-key'] });
      return reply.code(done.statusCode).send({ unused: done.unused });
    },
  );

  // ---- group buying ----
  /** The seat's taker is the session's customer; WeChat pays with the openid it logged in with. */
  async function seatRequest(request: FastifyRequest, payment: 'balance' | 'wechat', what: string): Promise<{ req: SeatRequest; openid?: string }> {
    const customerId = customerIdOf(request);
    const customer = await opts.customers.get(customerId);
    const openid = customer.identities.find((i) => i.provider === 'miniprogram_openid')?.external_id;
    if (payment === 'wechat' && !opts.payments.configured('wechat')) throw new AppError('VALIDATION_FAILED', 'payment: wechat is not configured here', [{ field: 'payment', message: 'not configured' }]);
    if (payment === 'wechat' && !openid) throw new AppError('UNPROCESSABLE', 'payment: this account has no mini-program openid to pay with WeChat', [{ field: 'payment', message: 'no openid' }]);
    const risk = opts.risk;
    await risk?.warm();
    const key = (request.headers as Record<string, string>)['idempotency-key']!;
    const req: SeatRequest = {
      customerId,
      payment: payment === 'balance' ? 'balance' : 'external',
      provider: payment,
      channel: 'miniprogram',
      idempotency: { scope: `customer:${customerId}:group-buys`, key, request: { what, payment } },
      gate: risk
        ? async (priced) => {
            const d = await risk.assess({ action: 'order', ...gateInputOf(request), account: { type: 'customer', id: customerId, createdAt: new Date(customer.created_at) }, amountFen: priced.amountFen, agentId: priced.agentId });
            // A seat cannot wait for a manual review while the group's clock runs.
            if (refuseUnlessPassed(d) === 'review') throw new AppError('RISK_BLOCKED', `this purchase needs a risk review and cannot take a group seat; contact support with reference ${d.decision_id}`, { reference: d.decision_id });
            return 'allow';
          }
        : undefined,
    };
    return { req, openid };
  }

  async function seatAnswer(result: { group_id: string; order_id: string }, openid: string | undefined) {
    let order = await orders.get(result.order_id);
    let payment;
    if (order.status === 'pending_payment' && order.payment_provider === 'wechat' && openid) {
      try {
        payment = await opts.payments.start(order.id, 'wechat', { openid });
      } catch (err) {
        if (err instanceof AppError) throw err;
        platform.logger.error({ err, order_id: order.id }, 'payment provider did not start a payment');
        throw new AppError('SERVICE_UNAVAILABLE', 'the wechat payment could not be started; retry with the same Idempotency-Key', { order_id: order.id });
      }
      order = await orders.get(result.order_id);
    }
    return { group: await groupBuys.groupState(result.group_id), order, ...(payment ? { payment } : {}) };
  }

  app.get(
    '/mp/v1/group-buys',
    {
      config: { customer: true },
      schema: { tags, summary: 'Group-buy campaigns running now for a SKU (拼团), newest first', querystring: Strict({ sku_id: Id('sku'), limit: PageQuery.properties.limit, cursor: Type.Optional(Id('gbc')) }), response: { 200: Page(Campaign), ...errorResponses } },
    },
    async (request) => {
      const q = request.query;
      const page = await groupBuys.listCampaigns({ limit: q.limit, cursor: q.cursor, status: 'active', skuId: q.sku_id });
      const now = platform.clock.now().getTime();
      // next_cursor stays the raw page's: a campaign not started yet or past its end is left out of this page only.
      const data = page.data.filter((c) => Date.parse(c.starts_at) <= now && Date.parse(c.ends_at) > now).map((c) => ({ id: c.id, name: c.name, sku_id: c.sku_id, group_price_fen: c.group_price_fen, group_size: c.group_size, duration_minutes: c.duration_minutes, ends_at: c.ends_at, per_customer_limit: c.per_customer_limit }));
      return { ...page, data };
    },
  );

  app.get(
    '/mp/v1/group-buys/:id/groups',
    {
      config: { customer: true },
      schema: { tags, summary: "A campaign's open groups I can join, newest first (members' names masked)", params: IdParams('gbc'), querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 50, default: 10 }), cursor: Type.Optional(Type.String({ pattern: `^gbg_${ULID}$` })) }), response: { 200: Page(GroupStateSchema), ...errorResponses } },
    },
    async (request) => {
      const page = await groupBuys.listGroups(request.params.id, { ...request.query, status: 'open' });
      return { ...page, data: await Promise.all(page.data.map((g) => groupBuys.groupState(g.id))) };
    },
  );

  app.get(
    '/mp/v1/group-buys/groups/:groupId',
    { config: { customer: true }, schema: { tags, summary: "A group's share page: seats left, deadline, members (names masked)", params: GroupParams, response: { 200: GroupStateSchema, ...errorResponses } } },
    async (request) => groupBuys.groupState(request.params.groupId),
  );

  app.post(
    '/mp/v1/group-buys/:id/groups',
    {
      config: { customer: true },
      schema: { tags, summary: 'Open a group as its leader by paying the first seat (Idempotency-Key required); share the group id so friends can join. 409 when the campaign cannot open another group for me', params: IdParams('gbc'), headers: KeyHeaders, body: SeatBody, response: { 201: SeatResult, 200: SeatResult, ...errorResponses } },
    },
    async (request, reply) => {
      const { req, openid } = await seatRequest(request, request.body.payment, `open:${request.params.id}`);
      const result = await groupBuys.openGroup(request.params.id, req);
      return reply.code(result.status).send(await seatAnswer(result, openid));
    },
  );

  app.post(
    '/mp/v1/group-buys/groups/:groupId/join',
    {
      config: { customer: true },
      schema: { tags, summary: 'Join a group by paying a seat (Idempotency-Key required). 409 with the reason when it is full, finished, expired or I am already in it', params: GroupParams, headers: KeyHeaders, body: SeatBody, response: { 201: SeatResult, 200: SeatResult, ...errorResponses } },
    },
    async (request, reply) => {
      const { req, openid } = await seatRequest(request, request.body.payment, `join:${request.params.groupId}`);
      const result = await groupBuys.joinGroup(request.params.groupId, req);
      return reply.code(result.status).send(await seatAnswer(result, openid));
    },
  );

  // ---- referral ----
  app.get(
    '/mp/v1/referral',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'My referral code (created on first ask) with its link, a QR code of the link and the share poster',
        response: { 200: Type.Object({ code: Type.String(), link: Type.String(), rewarded_count: Type.Integer(), qr_png: Type.String({ description: 'data:image/png;base64,…' }), poster_svg: Type.String({ description: 'data:image/svg+xml;base64,… (750x1334)' }) }), ...errorResponses },
      },
    },
    async (request) => {
      const owner = { type: 'customer' as const, id: customerIdOf(request) };
      const ref = await referrals.withQr(await referrals.issue(owner));
      const poster = await referrals.poster(owner);
      return { code: ref.code, link: ref.link, rewarded_count: ref.rewarded_count, qr_png: ref.qr_png, poster_svg: `data:image/svg+xml;base64,${Buffer.from(poster, 'utf8').toString('base64')}` };
    },
  );
}
