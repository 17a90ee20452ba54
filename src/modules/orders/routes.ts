import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Platform } from '../../platform.js';
import { Page } from '../../lib/pagination.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { runTogether } from '../../db/raw.js';
import type { CatalogService } from '../catalog/service.js';
import type { AgentService, SellerInfo } from '../agents/service.js';
import type { AgentAllocationRow, InventoryService } from '../inventory/service.js';
import { IdParams, Strict, errorResponses } from '../../http/schemas.js';
import { staffOf } from '../../http/auth.js';
import type { CustomerService } from '../customers/service.js';
import { identityProviders } from '../customers/service.js';
import { orderStatuses } from './order-state.js';
import { createIdempotency } from './idempotency.js';
import { toView, type Buyer, type OrderService } from './service.js';
import type { PaymentService } from '../payments/service.js';
import type { AssessInput, RiskService } from '../risk/service.js';
import type { RiskReviews } from '../risk/reviews.js';
import { gateInputOf, refuseUnlessPassed } from '../risk/gate-http.js';

const Id = (prefix: string) => Type.String({ pattern: `^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$` });
const Order = Type.Object({
  id: Type.String(),
  buyer_type: Type.String(),
  buyer_id: Type.String(),
  sku_id: Type.String(),
  quantity: Type.Integer(),
  unit_price_fen: Type.Integer(),
  discount_fen: Type.Integer({ description: 'taken off by a coupon' }),
  amount_fen: Type.Integer({ description: 'what the buyer pays: unit_price_fen x quantity - discount_fen' }),
  coupon_id: Type.Union([Type.String(), Type.Null()]),
  offer_kind: Type.Union([Type.String(), Type.Null()], { description: 'the marketing offer that priced it: flash_sale, group_buy, cdk, points, ...' }),
  offer_id: Type.Union([Type.String(), Type.Null()]),
  campaign_id: Type.Union([Type.String(), Type.Null()]),
  channel: Type.String(),
  agent_id: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  payment_provider: Type.Union([Type.String(), Type.Null()]),
  payment_deadline: Type.String(),
  delivered_quantity: Type.Integer(),
  refunded_fen: Type.Integer(),
  created_at: Type.String(),
  paid_at: Type.Union([Type.String(), Type.Null()]),
  delivered_at: Type.Union([Type.String(), Type.Null()]),
});
const Code = Type.Object({ code_id: Type.String(), card_number: Type.Union([Type.String(), Type.Null()]), secret: Type.String() });
const OrderWithCodes = Type.Object({ order: Order, codes: Type.Array(Code), usage_instructions: Type.String() });
const OrderResult = Type.Object({
  order: Order,
  codes: Type.Array(Code),
  usage_instructions: Type.String(),
  payment: Type.Optional(Type.Object({ payment_id: Type.String(), trade_no: Type.String(), provider: Type.String(), amount_fen: Type.Integer(), client_params: Type.Record(Type.String(), Type.Unknown()) })),
  review: Type.Optional(Type.Object({ decision_id: Type.String() }, { description: 'set when the order is held for a risk review (202): no money taken, no stock held until it is decided' })),
});

/** The API key's owner, as orders record it ("partner:p1", "agent:agt_…"). */
const ownerOf = (request: FastifyRequest) => `${request.apiKey!.ownerType}:${request.apiKey!.ownerId}`;

export async function orderRoutes(fastify: FastifyInstance, opts: { platform: Platform; orders: OrderService; payments: PaymentService; customers: CustomerService; catalog: CatalogService; agents: AgentService; inventory: InventoryService; usageInstructions: (skuId: string) => Promise<string>; risk?: RiskService; reviews?: RiskReviews }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { orders, platform } = opts;
  const idempotency = createIdempotency(platform);

  /** Asks the provider for a payment; a provider that fails leaves the order unpaid (it expires) and says so clearly. */
  const startPayment = async (orderId: string, provider: 'wechat' | 'sandbox' | 'stars', openid?: string) => {
    try {
      return await opts.payments.start(orderId, provider, { openid });
    } catch (err) {
      if (err instanceof AppError) throw err;
      platform.logger.error({ err, order_id: orderId, provider }, 'payment provider did not start a payment');
      throw new AppError('SERVICE_UNAVAILABLE', `the ${provider} payment could not be started; retry with the same Idempotency-Key`, { order_id: orderId });
    }
  };

  app.post(
    '/open/v1/orders',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary:
          'Place an order (Idempotency-Key required). Paid from the prepaid balance: reserved, paid and delivered at once; the codes are in the response. The risk gate may refuse it (403 RISK_BLOCKED), ask for a captcha (403 CHALLENGE_REQUIRED: retry with the same key and X-Captcha) or hold it for review (202, held_for_review: nothing charged or reserved until decided; retry with the same key to see it).',
        headers: Type.Object({ 'idempotency-key': Type.String({ minLength: 8, maxLength: 255, pattern: '^[A-Za-z0-9_.:-]+$' }), 'x-device-id': Type.Optional(Type.String({ maxLength: 256 })), 'x-device-signals': Type.Optional(Type.String({ maxLength: 4096 })), 'x-captcha': Type.Optional(Type.String({ maxLength: 4096 })) }),
        body: Strict({
          sku_id: Id('sku'),
          quantity: Type.Integer({ minimum: 1, maximum: 1000 }),
          payment: Type.Union([Type.Literal('balance'), Type.Literal('wechat'), Type.Literal('stars'), Type.Literal('sandbox')], { description: 'balance pays at once; wechat, stars (Telegram Stars: an invoice link) and sandbox return what the client needs to pay' }),
          payer_openid: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'WeChat openid of the payer (JSAPI)' })),
          customer: Type.Optional(Strict({ provider: Type.Union(identityProviders.map((p) => Type.Literal(p))), external_id: Type.String({ minLength: 1, maxLength: 128 }) }, { description: 'for partners: the end customer the order is for' })),
          coupon_id: Type.Optional(Type.String({ pattern: '^ucp_[0-9A-HJKMNP-TV-Z]{26}$', description: "one of the customer's coupons: used atomically with the order, given back if the order is cancelled unpaid" })),
        }),
        response: { 201: OrderResult, 200: OrderResult, 202: OrderResult, ...errorResponses },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      let account: AssessInput['account'];
      const owner = ownerOf(request);
      const scope = `${owner}:orders`;
      const b = request.body;
      let buyer: Buyer;
      if (request.apiKey!.ownerType === 'agent') {
        buyer = { type: 'agent', id: request.apiKey!.ownerId };
        account = { type: 'agent', id: buyer.id };
      } else {
        if (!b.customer) throw new AppError('VALIDATION_FAILED', 'customer: required for partner orders', [{ field: 'customer', message: 'required' }]);
        // The customer's creation time comes with the identity lookup (the same read), for the new-account rules.
        const c = await opts.customers.resolve({ identity: { provider: b.customer.provider, externalId: b.customer.external_id } });
        buyer = { type: 'customer', id: c.customerId };
        account = { type: 'customer', id: c.customerId, ...(c.createdAt ? { createdAt: c.createdAt } : {}) };
      }
      // Checked before anything is written: a JSAPI payment cannot start without its payer.
      if (b.payment === 'wechat' && !b.payer_openid) throw new AppError('VALIDATION_FAILED', 'payer_openid: required to pay with WeChat (JSAPI)', [{ field: 'payer_openid', message: 'required for wechat' }]);
      const orderId = newId('ord', platform.clock.now());
      const risk = opts.risk;
      let held: { decision_id: string } | undefined;
      await risk?.warm();
      const result = await platform.db.transaction(async (tx) => {
        // The key is claimed first, with the response it will replay (the new order's id); a twin request waits for this
        // one. The SKU's terms are read in the same round trip.
        const [claimed, skuRows, agentRows, allocationRows] = await runTogether(tx, [
          idempotency.claimStatement(scope, key, b, { statusCode: 201, body: { order_id: orderId } }),
          opts.catalog.saleInfoStatement(b.sku_id),
          // An agent buyer: its level, status, chain and the chain's product scopes, and the SKU's agent quotas.
          ...(buyer.type === 'agent' ? [opts.agents.sellerStatement(buyer.id), opts.inventory.agentAllocationsStatement(b.sku_id)] : []),
          // A customer's earlier orders (capped), for the gate's first-order rules: in the same round trip.
          ...(buyer.type === 'customer' && risk ? [orders.priorOrdersStatement(buyer)] : []),
        ]);
        const priorRows = buyer.type === 'customer' ? (agentRows as { n: number }[] | undefined) : undefined;
        const prior = await idempotency.settleClaim(tx, claimed!, scope, key, b);
        if (prior) return { status: 200, orderId: (prior.body as { order_id: string }).order_id, order: undefined, codes: undefined };
        const saleInfo = opts.catalog.saleInfoFrom(skuRows!, b.sku_id);
        const buyerAgent = buyer.type === 'agent' ? (agentRows?.[0] as SellerInfo | undefined) : undefined;
        if (buyer.type === 'agent' && !buyerAgent) throw new AppError('NOT_FOUND', `agent ${buyer.id} not found`);
        const agentAllocations = allocationRows as AgentAllocationRow[] | undefined;
        if (b.payment !== 'balance' && !opts.payments.configured(b.payment)) throw new AppError('VALIDATION_FAILED', `payment: ${b.payment} is not configured here`, [{ field: 'payment', message: 'not configured' }]);
        // The gate sees the priced order before anything is written: a block or challenge rolls back the key's claim, so a
        // retry (with a captcha) is a new attempt; its counters are in Redis or memory and its log is buffered (no round trip).
        const gate = risk
          ? async (priced: { amountFen: number; agentId?: string }) => {
              const d = await risk.assess({ action: 'order', ...gateInputOf(request), account, amountFen: priced.amountFen, skuId: b.sku_id, agentId: priced.agentId, priorOrders: Number(priorRows?.[0]?.n ?? 0) });
              const verdict = refuseUnlessPassed(d);
              if (verdict === 'review') {
                held = { decision_id: d.decision_id };
                await opts.reviews?.open(tx, { subjectType: 'order', subjectId: orderId, decisionId: d.decision_id });
              }
              return verdict;
            }
          : undefined;
        const order = await orders.createOrder({ buyer, skuId: b.sku_id, quantity: b.quantity, channel: 'api', payment: b.payment === 'balance' ? 'balance' : 'external', provider: b.payment, apiKeyOwner: owner, revealNow: true, orderId, saleInfo, buyerAgent, agentAllocations, gate, couponId: b.coupon_id }, tx);
        return { status: held ? 202 : 201, orderId: order.id, order, codes: order.deliveredCodes };
      });
      // A new unpaid order asks its provider for a payment after the order (and its stock) is committed.
      // A replay of an unpaid order starts a fresh payment attempt: the client may have lost the first one's parameters.
      const current = result.order ? toView(result.order) : await orders.get(result.orderId);
      // A replay of a held order answers as the first time did (202 with its decision); it is not assessed again.
      if (current.status === 'held_for_review') {
        const review = held ?? (opts.reviews ? await opts.reviews.forSubject('order', current.id).then((r) => (r ? { decision_id: r.decision_id } : undefined)) : undefined);
        return reply.code(202).send({ order: current, codes: [], usage_instructions: result.order?.usageInstructions ?? (await opts.usageInstructions(current.sku_id)), ...(review ? { review } : {}) });
      }
      const payment = current.status === 'pending_payment' && b.payment !== 'balance' ? await startPayment(result.orderId, b.payment, b.payer_openid) : undefined;
      const order = payment ? await orders.get(result.orderId) : current;
      // Codes are never stored with the idempotent response: a replay reads them again for their owner.
      const codes = result.codes ?? (order.status === 'delivered' || order.status === 'partially_delivered' ? await orders.revealCodes(order.id, { apiKeyOwner: owner }) : []);
      const usage = result.order?.usageInstructions ?? (await opts.usageInstructions(order.sku_id));
      return reply.code(result.status).send({ order, codes, usage_instructions: usage, ...(payment ? { payment } : {}) });
    },
  );

  app.get(
    '/open/v1/orders/:id',
    { config: { signed: true }, schema: { tags: ['open api'], summary: 'One of your orders (without codes)', params: IdParams('ord'), response: { 200: Order, ...errorResponses } } },
    async (request) => orders.getOwned(request.params.id, ownerOf(request)),
  );

  app.get(
    '/open/v1/orders/:id/codes',
    { config: { signed: true }, schema: { tags: ['open api'], summary: 'The codes of one of your delivered orders (marks them revealed; audited)', params: IdParams('ord'), response: { 200: OrderWithCodes, ...errorResponses } } },
    async (request) => {
      const codes = await orders.revealCodes(request.params.id, { apiKeyOwner: ownerOf(request) });
      const order = await orders.get(request.params.id);
      return { order, codes, usage_instructions: await opts.usageInstructions(order.sku_id) };
    },
  );

  app.post(
    '/open/v1/orders/:id/awaiting-choice',
    {
      config: { signed: true },
      schema: {
        tags: ['open api'],
        summary: 'For an order paid while sold out: keep waiting (delivered on restock) or take the money back to the balance now',
        params: IdParams('ord'),
        body: Strict({ choice: Type.Union([Type.Literal('wait'), Type.Literal('refund_to_balance')]) }),
        response: { 200: Order, ...errorResponses },
      },
    },
    async (request) => {
      const owner = ownerOf(request);
      if (request.body.choice === 'wait') return orders.keepWaiting(request.params.id, { apiKeyOwner: owner });
      await orders.getOwned(request.params.id, owner); // anyone else: not found, before anything else is said
      const done = await opts.payments.refundOrder(
        request.params.id,
        { reason: 'buyer chose a refund to balance while the product was sold out', to: 'balance', onlyIf: { status: 'paid_awaiting_stock', owner: { apiKeyOwner: owner } } },
        { id: owner, type: 'customer' },
      );
      return done.order;
    },
  );

  app.get(
    '/open/v1/orders',
    {
      config: { signed: true },
      schema: { tags: ['open api'], summary: 'Your orders, newest first', querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('ord')), status: Type.Optional(Type.Union(orderStatuses.map((s) => Type.Literal(s)))) }), response: { 200: Page(Order), ...errorResponses } },
    },
    async (request) => orders.list({ ...request.query, apiKeyOwner: ownerOf(request) }),
  );

  // ---- admin ----
  const tags = ['admin: orders'];
  app.get(
    '/admin/orders',
    {
      config: { permission: 'orders:read' },
      schema: {
        tags,
        summary: 'Orders, newest first',
        querystring: Strict({ limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }), cursor: Type.Optional(Id('ord')), status: Type.Optional(Type.Union(orderStatuses.map((s) => Type.Literal(s)))), buyer_type: Type.Optional(Type.Union([Type.Literal('customer'), Type.Literal('agent')])), buyer_id: Type.Optional(Type.String({ maxLength: 64 })) }),
        response: { 200: Page(Order), ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      return orders.list({ limit: q.limit, cursor: q.cursor, status: q.status, buyer: q.buyer_type && q.buyer_id ? { type: q.buyer_type, id: q.buyer_id } : undefined });
    },
  );

  app.get('/admin/orders/:id', { config: { permission: 'orders:read' }, schema: { tags, summary: 'One order (codes are never shown here)', params: IdParams('ord'), response: { 200: Order, ...errorResponses } } }, async (request) => orders.get(request.params.id));

  const Refund = Type.Object({ order: Order, refund: Type.Object({ id: Type.Union([Type.String(), Type.Null()]), amount_fen: Type.Integer(), to: Type.String(), status: Type.String() }) });
  app.post(
    '/admin/orders/:id/refund',
    {
      config: { permission: 'orders:refund' },
      schema: {
        tags,
        summary: 'Refund an order, whole or in part (quantity or code_ids). Unrevealed codes return to stock; revealed ones need after_sales=true and are voided. The money goes back the way it came (to: original) or to the buyer\'s balance.',
        params: IdParams('ord'),
        body: Strict({
          reason: Type.String({ minLength: 3, maxLength: 500 }),
          after_sales: Type.Optional(Type.Boolean()),
          quantity: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          code_ids: Type.Optional(Type.Array(Id('cod'), { minItems: 1, maxItems: 1000, uniqueItems: true })),
          to: Type.Optional(Type.Union([Type.Literal('original'), Type.Literal('balance')], { description: 'default: original for provider payments, balance for balance payments' })),
        }),
        response: { 200: Refund, ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      if (b.quantity !== undefined && b.code_ids) throw new AppError('VALIDATION_FAILED', 'quantity: give either quantity or code_ids, not both', [{ field: 'quantity', message: 'not with code_ids' }]);
      return opts.payments.refundOrder(request.params.id, { reason: b.reason, afterSales: b.after_sales, quantity: b.quantity, codeIds: b.code_ids, to: b.to }, staffOf(request));
    },
  );

  app.post(
    '/admin/balances/credit',
    {
      config: { permission: 'finance:withdrawals' },
      schema: {
        tags: ['admin: finance'],
        summary: 'Credit a prepaid balance (an agent\'s bank transfer received, a customer\'s top-up); audited',
        body: Strict({ buyer_type: Type.Union([Type.Literal('customer'), Type.Literal('agent')]), buyer_id: Type.String({ pattern: '^(cus|agt)_[0-9A-HJKMNP-TV-Z]{26}$' }), amount_fen: Type.Integer({ minimum: 1, maximum: 100_000_000_00 }), reference: Type.String({ minLength: 3, maxLength: 128 }) }),
        response: { 200: Type.Object({ balance_fen: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => {
      const b = request.body;
      return { balance_fen: await orders.creditBalance({ type: b.buyer_type, id: b.buyer_id }, b.amount_fen, b.reference, staffOf(request)) };
    },
  );
}
