import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../platform.js';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { runTogether } from '../../db/raw.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import type { CatalogService } from '../catalog/service.js';
import type { CustomerService } from '../customers/service.js';
import { orderStatuses } from '../orders/order-state.js';
import { createIdempotency } from '../orders/idempotency.js';
import { toView, type Buyer, type OrderService } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import type { RiskService } from '../risk/service.js';
import type { RiskReviews } from '../risk/reviews.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
/** The order as the open API shows it (same fields: the mini-program shares its client models). */
export const MpOrder = Type.Object({
  id: Type.String(), buyer_type: Type.String(), buyer_id: Type.String(), sku_id: Type.String(), quantity: Type.Integer(),
  unit_price_fen: Type.Integer(), discount_fen: Type.Integer(), amount_fen: Type.Integer(), coupon_id: Nullable(Type.String()),
  offer_kind: Nullable(Type.String()), offer_id: Nullable(Type.String()), campaign_id: Nullable(Type.String()), channel: Type.String(),
  agent_id: Nullable(Type.String()), status: Type.String(), payment_provider: Nullable(Type.String()), payment_deadline: Type.String(),
  delivered_quantity: Type.Integer(), refunded_fen: Type.Integer(), created_at: Type.String(), paid_at: Nullable(Type.String()), delivered_at: Nullable(Type.String()),
  awaiting_choice: Type.Optional(Nullable(Type.Literal('wait', { description: "the buyer's recorded sold-out choice: 'wait' once they chose to keep waiting (on one order's view and the choice's answer)" }))),
});

/** One order for the mini-program: the open API's view plus the recorded sold-out choice, so the page does not offer it twice. */
export function mpOrderView(o: Parameters<typeof toView>[0]) {
  return { ...toView(o), awaiting_choice: o.awaitingChoice === 'wait' ? ('wait' as const) : null };
}
const Code = Type.Object({ code_id: Type.String(), card_number: Nullable(Type.String()), secret: Type.String() });
const OrderResult = Type.Object({
  order: MpOrder,
  codes: Type.Array(Code),
  usage_instructions: Type.String(),
  payment: Type.Optional(Type.Object({ payment_id: Type.String(), trade_no: Type.String(), provider: Type.String(), amount_fen: Type.Integer(), client_params: Type.Record(Type.String(), Type.Unknown(), { description: 'for wechat: the server-signed wx.requestPayment parameters' }) })),
  review: Type.Optional(Type.Object({ decision_id: Type.String() })),
});

export interface MpOrderDeps {
  platform: Platform;
  orders: OrderService;
  payments: PaymentService;
  customers: Pick<CustomerService, 'get'>;
  catalog: CatalogService;
  usageInstructions: (skuId: string) => Promise<string>;
  risk?: RiskService;
  reviews?: RiskReviews;
}

const buyerOf = (request: FastifyRequest): Buyer => {
  if (!request.customer) throw new AppError('UNAUTHENTICATED', 'log in first (POST /mp/v1/login)');
  return { type: 'customer', id: request.customer.customerId };
};

/**
 * The customer's own orders. POST follows POST /open/v1/orders for a customer buyer step by step (same services, same
 * order: idempotency claim with the sale info, risk gate, createOrder in one transaction, then the payment); the buyer
 * is the session's customer and a WeChat payment's payer is the customer's own mini-program openid. Unlike the open
 * API the codes are not revealed by the purchase: the mini-program reveals on a tap, and an unrevealed code can be gifted.
 */
export async function mpOrderRoutes(fastify: FastifyInstance, opts: MpOrderDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { orders, platform } = opts;
  const idempotency = createIdempotency(platform);
  const tags = ['mini-program'];

  /** The openid WeChat Pay (JSAPI) needs: the one the customer logged in with. */
  const openidOf = async (customerId: string) => {
    const openid = (await opts.customers.get(customerId)).identities.find((i) => i.provider === 'miniprogram_openid')?.external_id;
    if (!openid) throw new AppError('UNPROCESSABLE', 'payment: this account has no mini-program openid to pay with WeChat', [{ field: 'payment', message: 'no openid' }]);
    return openid;
  };
  const startPayment = async (orderId: string, openid: string) => {
    try {
      return await opts.payments.start(orderId, 'wechat', { openid });
    } catch (err) {
      if (err instanceof AppError) throw err;
      platform.logger.error({ err, order_id: orderId, provider: 'wechat' }, 'payment provider did not start a payment');
      throw new AppError('SERVICE_UNAVAILABLE', 'the wechat payment could not be started; retry with the same Idempotency-Key', { order_id: orderId });
    }
  };

  app.post(
    '/mp/v1/orders',
    {
      config: { customer: true },
      schema: {
        tags,
        summary: 'Buy (Idempotency-Key required): balance pays and delivers at once; the codes stay unrevealed (codes is empty) until tapped (POST /mp/v1/orders/:id/reveal or the wallet), so they can still be gifted; wechat answers payment.client_params for wx.requestPayment. Risk: 403 RISK_BLOCKED / CHALLENGE_REQUIRED (retry with the same key and X-Captcha), 202 held for review',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({
          sku_id: Id('sku'),
          quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
          payment: Type.Union([Type.Literal('balance'), Type.Literal('wechat')]),
          coupon_id: Type.Optional(Id('ucp')),
        }),
        response: { 201: OrderResult, 200: OrderResult, 202: OrderResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const buyer = buyerOf(request);
      const b = request.body;
      const scope = `customer:${buyer.id}:orders`;
      const createdAt = new Date((await opts.customers.get(buyer.id)).created_at);
      const account = { type: 'customer' as const, id: buyer.id, createdAt };
      // Checked before anything is written, as the open route checks payer_openid.
      const openid = b.payment === 'wechat' ? await openidOf(buyer.id) : undefined;
      const orderId = newId('ord', platform.clock.now());
      const risk = opts.risk;
      let held: { decision_id: string } | undefined;
      await risk?.warm();
      const result = await platform.db.transaction(async (tx) => {
        const [claimed, skuRows, priorRows] = await runTogether(tx, [
          idempotency.claimStatement(scope, key, b, { statusCode: 201, body: { order_id: orderId } }),
          opts.catalog.saleInfoStatement(b.sku_id),
          ...(risk ? [orders.priorOrdersStatement(buyer)] : []),
        ]);
        const prior = await idempotency.settleClaim(tx, claimed!, scope, key, b);
        if (prior) return { status: 200, orderId: (prior.body as { order_id: string }).order_id, order: undefined };
        const saleInfo = opts.catalog.saleInfoFrom(skuRows!, b.sku_id);
        if (b.payment !== 'balance' && !opts.payments.configured(b.payment)) throw new AppError('VALIDATION_FAILED', `payment: ${b.payment} is not configured here`, [{ field: 'payment', message: 'not configured' }]);
        const gate = risk
          ? async (priced: { amountFen: number; agentId?: string }) => {
              const d = await risk.assess({ action: 'order', ...gateInputOf(request), account, amountFen: priced.amountFen, skuId: b.sku_id, agentId: priced.agentId, priorOrders: Number((priorRows as { n: number }[] | undefined)?.[0]?.n ?? 0) });
              const verdict = refuseUnlessPassed(d);
              if (verdict === 'review') {
                held = { decision_id: d.decision_id };
                await opts.reviews?.open(tx, { subjectType: 'order', subjectId: orderId, decisionId: d.decision_id });
              }
              return verdict;
            }
          : undefined;
        const order = await orders.createOrder({ buyer, skuId: b.sku_id, quantity: b.quantity, channel: 'miniprogram', payment: b.payment === 'balance' ? 'balance' : 'external', provider: b.payment, revealNow: false, orderId, saleInfo, gate, couponId: b.coupon_id }, tx);
        return { status: held ? 202 : 201, orderId: order.id, order };
      });
      const current = result.order ? toView(result.order) : await orders.get(result.orderId);
      if (current.status === 'held_for_review') {
        const review = held ?? (opts.reviews ? await opts.reviews.forSubject('order', current.id).then((r) => (r ? { decision_id: r.decision_id } : undefined)) : undefined);
        return reply.code(202).send({ order: current, codes: [], usage_instructions: result.order?.usageInstructions ?? (await opts.usageInstructions(current.sku_id)), ...(review ? { review } : {}) });
      }
      const payment = current.status === 'pending_payment' && openid ? await startPayment(result.orderId, openid) : undefined;
      const order = payment ? await orders.get(result.orderId) : current;
      const usage = result.order?.usageInstructions ?? (await opts.usageInstructions(order.sku_id));
      return reply.code(result.status).send({ order, codes: [], usage_instructions: usage, ...(payment ? { payment } : {}) });
    },
  );

  app.get(
    '/mp/v1/orders',
    {
      config: { customer: true },
      schema: { tags, summary: 'My orders, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('ord')), status: Type.Optional(Type.Union(orderStatuses.map((s) => Type.Literal(s)))) }), response: { 200: Page(MpOrder), ...errorResponses } },
    },
    async (request) => orders.list({ ...request.query, buyer: buyerOf(request) }),
  );

  app.get(
    '/mp/v1/orders/:id',
    { config: { customer: true }, schema: { tags, summary: 'One of my orders (without codes); anybody else\'s is not found', params: IdParams('ord'), response: { 200: MpOrder, ...errorResponses } } },
    async (request) => {
      const buyer = buyerOf(request);
      const o = await orders.getRow(request.params.id);
      if (!o || o.buyerType !== buyer.type || o.buyerId !== buyer.id) throw new AppError('NOT_FOUND', `order ${request.params.id} not found`);
      return mpOrderView(o);
    },
  );

  app.post(
    '/mp/v1/orders/:id/reveal',
    {
      config: { customer: true },
      schema: { tags, summary: 'Tap to reveal: the codes of my delivered order (marked revealed; codes given away are not shown). 404 for anybody else', params: IdParams('ord'), response: { 200: Type.Object({ order: MpOrder, codes: Type.Array(Code), usage_instructions: Type.String() }), ...errorResponses } },
    },
    async (request, reply) => {
      const codes = await orders.revealCodes(request.params.id, { buyer: buyerOf(request) });
      const order = await orders.get(request.params.id);
      return reply.header('cache-control', 'no-store').send({ order, codes, usage_instructions: await opts.usageInstructions(order.sku_id) });
    },
  );
}
