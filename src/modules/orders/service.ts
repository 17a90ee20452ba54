import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows, runTogether, type Statement } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService, SaleInfo } from '../catalog/service.js';
import type { ResalePriceService } from '../catalog/resale-prices.js';
import type { VaultService } from '../vault/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { AgentService, SellerInfo } from '../agents/service.js';
import type { AgentAllocationRow, InventoryService } from '../inventory/service.js';
import { accounts, type AccountSpec } from '../ledger/accounts.js';
import { orders } from './schema.js';
import { nextStatus, OrderTransitionError, type OrderEvent, type OrderStatus } from './order-state.js';

export type BuyerType = 'customer' | 'agent';
export interface Buyer {
  type: BuyerType;
  id: string;
}

export interface OrderView {
  id: string;
  buyer_type: string;
  buyer_id: string;
  sku_id: string;
  quantity: number;
  unit_price_fen: number;
  discount_fen: number;
  amount_fen: number;
  coupon_id: string | null;
  offer_kind: string | null;
  offer_id: string | null;
  campaign_id: string | null;
  channel: string;
  agent_id: string | null;
  status: string;
  payment_provider: string | null;
  payment_deadline: string;
  delivered_quantity: number;
  refunded_fen: number;
  created_at: string;
  paid_at: string | null;
  delivered_at: string | null;
}

export interface DeliveredCode {
  code_id: string;
  card_number: string | null;
  secret: string;
}

export interface OrderDeps {
  audit: AuditService;
  catalog: CatalogService;
  vault: VaultService;
  ledger: LedgerService;
  agents: AgentService;
  /** Agents' resale prices (the catalog's price control): what a customer pays when buying through an agent. */
  resalePrices?: Pick<ResalePriceService, 'customerPriceThrough'>;
  /** Agent quotas (stock allocations): an agent buyer claims from its own or its nearest upline's first. */
  inventory?: Pick<InventoryService, 'agentAllocationOf' | 'agentAllocationFor'>;
  /** Reverses the commissions an order caused, in proportion to a refund, in the refund's transaction (the commissions module). */
  commissions?: { reverse: (tx: Tx, orderId: string, refund: { refundedFen: number; amountFen: number; totalRefundedFen?: number }) => Promise<{ reversedFen: number; clawbackDueFen: number }> };
  /** Customers' coupons (the marketing module): applied to an order in its transaction, atomically within the coupon's limits. */
  coupons?: {
    applyToOrder: (tx: Tx, input: CouponUse) => Promise<{ discountFen: number; campaignId: string | null }>;
    /** A late payment of an order cancelled unpaid takes its coupon again (refuses if it was used meanwhile). */
    retakeForOrder: (tx: Tx, input: { couponId: string; orderId: string; discountFen: number }) => Promise<void>;
  };
  /** The outbox insert for events (the webhooks module), run by the orders module in its own transaction. */
  outbox?: (events: { type: string; ownerType?: string; ownerId?: string; data: Record<string, unknown> }[]) => Statement;
}

/** What the coupons module needs to judge and price a coupon on an order. */
export interface CouponUse {
  couponId: string;
  buyer: Buyer;
  orderId: string;
  sku: { id: string; productId: string; category: string };
  unitPriceFen: number;
  quantity: number;
  amountFen: number;
  offerKind?: string;
}

/** A marketing offer the marketing module validated: it prices the order instead of the list price. */
export interface OrderOffer {
  kind: 'flash_sale' | 'group_buy' | 'cdk' | 'points' | 'referral' | 'fission';
  id: string;
  unitPriceFen: number;
  campaignId?: string | null;
}

/** Statuses other modules may react to, in the transaction that moved the order there. */
export type HookedStatus = 'awaiting_group' | 'cancelled';
export type OrderRow = typeof orders.$inferSelect;

export interface OrderSettings {
  paymentWindowMinutes: number;
  maxUnpaidPerBuyer: number;
}

const buyerAccount = (b: Buyer): AccountSpec => (b.type === 'agent' ? accounts.agentBalance(b.id) : accounts.customerBalance(b.id));

/**
 * Orders: one database transaction per step, holding the stock claim, the
 * order row, the ledger entries and the outbox event together. Paying from a
 * prepaid balance (the usual way agents buy) reserves, pays and delivers in
 * one transaction; other providers reserve now and fulfil on a verified
 * payment notification.
 */
export function createOrderService(p: Platform, deps: OrderDeps, settings: OrderSettings) {
  /** Outbox events of one change, written in its transaction, in one statement. */
  const outbox = (order: { id: string; apiKeyOwner: string | null }, events: { type: string; data: Record<string, unknown> }[]): Statement[] => {
    if (!deps.outbox) return [];
    const [ownerType, ownerId] = order.apiKeyOwner?.split(':') ?? [];
    return [deps.outbox(events.map((e) => ({ type: e.type, ownerType, ownerId, data: { order_id: order.id, ...e.data } })))];
  };
  const emit = async (tx: DbOrTx, order: { id: string; apiKeyOwner: string | null }, events: { type: string; data: Record<string, unknown> }[]) => {
    for (const st of outbox(order, events)) await queryRows(tx, st.text, st.values);
  };

  const hooks = new Map<HookedStatus, ((tx: Tx, order: OrderRow) => Promise<void>)[]>();
  /** Another module reacts when an order enters a status (coupons released on cancel, group seats counted), in that transaction. */
  function onStatus(status: HookedStatus, hook: (tx: Tx, order: OrderRow) => Promise<void>) {
    hooks.set(status, [...(hooks.get(status) ?? []), hook]);
  }
  const runHooks = async (tx: Tx, order: OrderRow) => {
    for (const h of hooks.get(order.status as HookedStatus) ?? []) await h(tx, order);
  };

  /**
   * Who pays a balance order, as ledger postings summing to -amount: the
   * promotion budget for a promotion-paid order (points, CDK), a customer's
   * promotional balance first and then its cash balance, or the agent's
   * balance. The promotional account row is locked, so one customer's
   * simultaneous orders take from it one after the other.
   */
  async function balancePayers(tx: DbOrTx, buyer: Buyer, amountFen: number, paidBy?: 'promotion'): Promise<{ postings: { account: AccountSpec; amountFen: number }[]; promoFen: number }> {
    if (paidBy === 'promotion') return { postings: [{ account: accounts.promotionExpense, amountFen: -amountFen }], promoFen: 0 };
    if (buyer.type !== 'customer') return { postings: [{ account: buyerAccount(buyer), amountFen: -amountFen }], promoFen: 0 };
    const promo = accounts.customerPromo(buyer.id);
    const [row] = await queryRows<{ balance_fen: string }>(tx, 'select balance_fen from ledger_accounts where id = $1 for update', [promo.id]);
    const promoFen = Math.min(amountFen, Number(row?.balance_fen ?? 0));
    const postings = [
      ...(promoFen > 0 ? [{ account: promo, amountFen: -promoFen }] : []),
      ...(amountFen - promoFen > 0 ? [{ account: buyerAccount(buyer), amountFen: -(amountFen - promoFen) }] : []),
    ];
    return { postings, promoFen };
  }

  async function lockOrder(tx: Tx, orderId: string) {
    const [o] = await tx.select().from(orders).where(eq(orders.id, orderId)).for('update');
    if (!o) throw notFound('order', orderId);
    return o;
  }

  async function move(tx: Tx, o: typeof orders.$inferSelect, event: OrderEvent, extra: Partial<typeof orders.$inferInsert> = {}) {
    const status = nextStatus(o.status as OrderStatus, event);
    const [row] = await tx.update(orders).set({ status, updatedAt: p.clock.now(), ...extra }).where(eq(orders.id, o.id)).returning();
    return row!;
  }

  /** Money in for a paid order (from balances, the promotion budget or the provider's cash) and its cost of goods, in one ledger transaction. */
  async function postSale(tx: Tx, o: { id: string; amountFen: number; quantity: number; campaignId?: string | null }, from: AccountSpec | { account: AccountSpec; amountFen: number }[], unitCostFen: number) {
    const cost = unitCostFen * o.quantity;
    await deps.ledger.post(tx, {
      kind: 'order_payment',
      refType: 'order',
      refId: o.id,
      campaignId: o.campaignId,
      postings: [
        ...(Array.isArray(from) ? from : [{ account: from, amountFen: -o.amountFen }]),
        { account: accounts.revenue, amountFen: o.amountFen },
        ...(cost > 0 ? [{ account: accounts.costOfGoods, amountFen: -cost }, { account: accounts.supplierPayable, amountFen: cost }] : []),
      ],
    });
  }

  /**
   * Sells and hands over the order's codes: those it reserved, topped up from
   * stock if some were lost (a late payment after the deadline released or
   * expired them). All or nothing: short of stock, it holds no codes and waits.
   */
  async function fulfil(tx: Tx, o: typeof orders.$inferSelect) {
    let reserved = (await deps.vault.codesOfOrder(o.id, tx)).filter((c) => c.state === 'reserved').map((c) => c.id);
    let order = await move(tx, o, 'fulfil');
    const ctx = { actorType: 'order' as const, actorId: o.id, ref: o.id };
    if (reserved.length < o.quantity) {
      try {
        reserved = [...reserved, ...(await deps.vault.reserve({ skuId: o.skuId, quantity: o.quantity - reserved.length, holder: o.id, until: new Date(p.clock.now().getTime() + 60_000) }, tx))];
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'OUT_OF_STOCK')) throw e;
        if (reserved.length) await deps.vault.transition(reserved, 'release', { ...ctx, ref: `${o.id} waits for stock` }, tx);
        return move(tx, order, 'await_stock');
      }
    }
    await deps.vault.transition(reserved, 'sell', ctx, tx);
    await deps.vault.transition(reserved, 'deliver', ctx, tx);
    order = await move(tx, order, 'deliver', { deliveredQuantity: reserved.length, deliveredAt: p.clock.now() });
    await emit(tx, order, [{ type: 'order.delivered', data: { quantity: reserved.length, sku_id: o.skuId } }]);
    return order;
  }

  async function createOrder(
    input: {
      buyer: Buyer; skuId: string; quantity: number; channel: string; agentId?: string; payment: 'balance' | 'external'; provider?: string; apiKeyOwner?: string; deliveryTarget?: Record<string, unknown>; revealNow?: boolean; orderId?: string; saleInfo?: SaleInfo; buyerAgent?: SellerInfo; agentAllocations?: AgentAllocationRow[];
      /**
       * The risk gate, asked once the order is priced and before anything is written (it throws to refuse).
       * `review` creates the order held_for_review: no money taken, no stock claimed, until risk staff decide.
       */
      gate?: (priced: { unitPriceFen: number; amountFen: number; agentId?: string }) => Promise<'allow' | 'review'>;
      /** A validated marketing offer (flash sale, group buy, points, CDK): its price replaces the list price. */
      offer?: OrderOffer;
      /** A customer's coupon (ucp_…), applied atomically in this transaction. */
      couponId?: string;
      /** With payment 'balance': paid from the promotion budget (points exchange, CDK for a product); no buyer money moves. */
      paidBy?: 'promotion';
      /** A group-buy member's order: once paid it waits in awaiting_group, holding no codes, until the group fills or expires. */
      awaitGroup?: boolean;
    },
    tx: Tx,
  ): Promise<typeof orders.$inferSelect & { deliveredCodes?: DeliveredCode[]; usageInstructions: string }> {
    // The caller may have read it already, in the same transaction (the API reads it with the idempotency claim).
    const sku = input.saleInfo ?? (await deps.catalog.saleInfo(input.skuId, tx));
    if (!sku.onSale) throw new AppError('UNPROCESSABLE', `SKU is not on sale${sku.offSaleReason ? `: ${sku.offSaleReason}` : ''}`, [{ field: 'sku_id', message: 'not on sale' }]);
    if (sku.kind === 'topup') throw new AppError('UNPROCESSABLE', 'direct top-up orders go through the supplier purchase API', [{ field: 'sku_id', message: 'is a top-up SKU' }]);
    if (input.quantity < sku.minPerOrder || input.quantity > sku.maxPerOrder) {
      throw new AppError('VALIDATION_FAILED', `quantity: must be ${sku.minPerOrder}-${sku.maxPerOrder} for this SKU`, [{ field: 'quantity', message: `must be ${sku.minPerOrder}-${sku.maxPerOrder}` }]);
    }
    // A frozen agent neither buys nor sells, from the moment it is frozen.
    // (The API reads the agent, its chain's product scopes and the SKU's agent quotas with the SKU, in one round trip.)
    const buyerAgent = input.buyer.type === 'agent' ? (input.buyerAgent ?? (await deps.agents.seller(input.buyer.id, tx))) : undefined;
    if (buyerAgent && buyerAgent.status !== 'active') throw new AppError('FORBIDDEN', 'this agent is frozen: its purchases and sales are stopped');
    if (input.agentId && input.agentId !== buyerAgent?.id) {
      const seller = await deps.agents.seller(input.agentId, tx);
      if (seller.status !== 'active') throw new AppError('FORBIDDEN', 'the selling agent is frozen: its sales are stopped', [{ field: 'agent_id', message: 'frozen' }]);
      deps.agents.assertInScope(seller, sku);
    }
    // A downline never sells more than its upline: every scope on the buyer agent's chain must cover the SKU.
    if (buyerAgent) deps.agents.assertInScope(buyerAgent, sku);
    // The agent's level (depth) prices it: explicit level price, else markup rules, else retail (see level-pricing.ts).
    let unitPrice = deps.catalog.priceFor(sku, buyerAgent?.depth);
    // An agent buyer claims from its own quota, else its nearest upline's, then from the free pool; nobody else touches them.
    const allocationId = (buyerAgent && deps.inventory
      ? input.agentAllocations ? deps.inventory.agentAllocationOf(input.agentAllocations, buyerAgent.path) : await deps.inventory.agentAllocationFor(sku.id, buyerAgent.path, tx)
      : null) ?? undefined;
    const now = p.clock.now();
    const deadline = new Date(now.getTime() + settings.paymentWindowMinutes * 60_000);
    const orderId = input.orderId ?? newId('ord', now);
    // A customer's order without a named agent goes to the agent the customer is bound to (referral binding), if any.
    if (input.buyer.type === 'customer' && !input.agentId) input = { ...input, agentId: (await deps.agents.boundAgentOf(input.buyer.id, tx)) ?? undefined };
    // A customer buying through an agent pays that agent's resale price (never below the SKU's minimum): price control
    // holds on the agents' own channels, not only on what they declare.
    if (input.buyer.type === 'customer' && input.agentId && deps.resalePrices) unitPrice = (await deps.resalePrices.customerPriceThrough(input.agentId, sku.id, tx)) ?? unitPrice;
    // A marketing offer (already validated by its module: window, units, limits) sets the price.
    if (input.offer) unitPrice = input.offer.unitPriceFen;
    if (input.paidBy && input.payment !== 'balance') throw new Error('a promotion-paid order is a balance order');
    const gross = unitPrice * input.quantity;
    // The coupon is taken (atomically, within its limits) before the gate, so the gate sees what the buyer really pays.
    let discountFen = 0;
    let campaignId = input.offer?.campaignId ?? null;
    if (input.couponId) {
      if (!deps.coupons) throw new AppError('VALIDATION_FAILED', 'coupon_id: coupons are not available here', [{ field: 'coupon_id', message: 'not available' }]);
      const used = await deps.coupons.applyToOrder(tx, { couponId: input.couponId, buyer: input.buyer, orderId, sku: { id: sku.id, productId: sku.productId, category: sku.category }, unitPriceFen: unitPrice, quantity: input.quantity, amountFen: gross, offerKind: input.offer?.kind });
      if (!Number.isSafeInteger(used.discountFen) || used.discountFen < 0 || used.discountFen >= gross) throw new Error(`coupon discount ${used.discountFen} outside 0..${gross - 1}`);
      discountFen = used.discountFen;
      campaignId ??= used.campaignId;
    }
    const marketing = { discountFen, couponId: input.couponId ?? null, offerKind: input.offer?.kind ?? null, offerId: input.offer?.id ?? null, campaignId };
    const amount = gross - discountFen;
    const provider = input.paidBy === 'promotion' ? 'promotion' : input.payment === 'balance' ? 'balance' : (input.provider ?? null);

    if (input.gate && (await input.gate({ unitPriceFen: unitPrice, amountFen: amount, agentId: input.agentId })) === 'review') {
      const [held] = await tx
        .insert(orders)
        .values({ id: orderId, buyerType: input.buyer.type, buyerId: input.buyer.id, apiKeyOwner: input.apiKeyOwner ?? null, skuId: sku.id, quantity: input.quantity, unitPriceFen: unitPrice, amountFen: amount, ...marketing, channel: input.channel, agentId: input.agentId ?? null, status: 'held_for_review', paymentProvider: provider, paymentDeadline: deadline, deliveryTarget: input.deliveryTarget ?? null, createdAt: now, updatedAt: now })
        .returning();
      return { ...held!, usageInstructions: sku.usageInstructions };
    }
    if (input.payment === 'balance') return { ...(await sellFromBalance(tx, { ...input, orderId, unitPrice, amount, marketing, costFen: sku.costFen, deadline, allocationId })), usageInstructions: sku.usageInstructions };
    // One buyer's unpaid orders are created one at a time, so the unpaid-reservation limit holds under concurrency.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`order-buyer:${input.buyer.type}:${input.buyer.id}`}))`);
    {
      const [unpaid] = await tx.select({ n: sql<number>`count(*)::int` }).from(orders).where(and(eq(orders.buyerType, input.buyer.type), eq(orders.buyerId, input.buyer.id), eq(orders.status, 'pending_payment')));
      if (Number(unpaid?.n ?? 0) >= settings.maxUnpaidPerBuyer) throw new AppError('RATE_LIMITED', `at most ${settings.maxUnpaidPerBuyer} unpaid orders at once; pay or cancel one first`);
    }
    const [inserted] = await tx
      .insert(orders)
      .values({
        id: orderId,
        buyerType: input.buyer.type,
        buyerId: input.buyer.id,
        apiKeyOwner: input.apiKeyOwner ?? null,
        skuId: sku.id,
        quantity: input.quantity,
        unitPriceFen: unitPrice,
        amountFen: amount,
        ...marketing,
        channel: input.channel,
        agentId: input.agentId ?? null,
        status: 'pending_payment',
        paymentProvider: input.provider ?? null,
        paymentDeadline: deadline,
        deliveryTarget: input.deliveryTarget ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    const order = inserted!;
    // A group-buy seat holds no codes: they are claimed when the group fills.
    if (!input.awaitGroup) await deps.vault.reserve({ skuId: sku.id, quantity: input.quantity, holder: orderId, until: deadline, allocationId }, tx);
    await emit(tx, order, [{ type: 'order.created', data: { sku_id: sku.id, quantity: input.quantity, amount_fen: order.amountFen } }]);
    return { ...order, usageInstructions: sku.usageInstructions };
  }

  /**
   * Paid from a prepaid balance: claim, pay and deliver in one transaction and
   * few statements (the hot path of agents buying): the codes are claimed,
   * the money and cost posted in one ledger transaction, the codes sold and
   * delivered (and revealed to an API caller) in one step, and the order
   * written once, in its final state as the state machine computes it.
   */
  async function sellFromBalance(
    tx: Tx,
    input: { buyer: Buyer; skuId: string; quantity: number; channel: string; agentId?: string; apiKeyOwner?: string; deliveryTarget?: Record<string, unknown>; revealNow?: boolean; orderId: string; unitPrice: number; amount: number; marketing: Pick<OrderRow, 'discountFen' | 'couponId' | 'offerKind' | 'offerId' | 'campaignId'>; paidBy?: 'promotion'; awaitGroup?: boolean; costFen: number; deadline: Date; allocationId?: string },
  ) {
    const now = p.clock.now();
    const amount = input.amount;
    // Money first: a buyer who cannot pay fails before touching stock, and the lock on the buyer's balance row
    // queues one buyer's simultaneous orders, so a doomed order never holds codes that others then miss.
    const payers = input.buyer.type === 'agent' && !input.paidBy ? { postings: buyerAccount(input.buyer), promoFen: 0 } : await balancePayers(tx, input.buyer, amount, input.paidBy);
    await postSale(tx, { id: input.orderId, amountFen: amount, quantity: input.quantity, campaignId: input.marketing.campaignId }, payers.postings, input.costFen);
    if (input.awaitGroup) {
      // A group-buy member: paid now, codes when the group fills.
      const order: OrderRow = { ...newOrderRow(input, now), ...input.marketing, promoPaidFen: payers.promoFen, amountFen: amount, status: nextStatus(nextStatus('pending_payment', 'pay'), 'await_group'), paymentProvider: input.paidBy ?? 'balance', paidAt: now };
      await runTogether(tx, [insertOrderStatement(order), ...outbox(order, [{ type: 'order.paid', data: { amount_fen: amount, provider: order.paymentProvider } }])]);
      await runHooks(tx, order);
      return order;
    }
    // Claimed straight into their final state (sold, delivered, and revealed for an API caller) with their history.
    // (read straight away, in the same statement, when they go to an API caller now).
    const claim = { skuId: input.skuId, quantity: input.quantity, holder: input.orderId, until: input.deadline, allocationId: input.allocationId, ctx: { actorType: 'order' as const, actorId: input.orderId, ref: input.orderId } };
    const { ids, plain } = input.revealNow
      ? await deps.vault.claimAndOpen({ ...claim, then: ['sell', 'deliver', 'reveal'] }, tx)
      : { ids: await deps.vault.reserve({ ...claim, then: ['sell', 'deliver'] }, tx), plain: undefined };
    let status: OrderStatus = 'pending_payment';
    for (const e of ['pay', 'fulfil', 'deliver'] as const) status = nextStatus(status, e);
    const order: OrderRow = { ...newOrderRow(input, now), ...input.marketing, promoPaidFen: payers.promoFen, amountFen: amount, status, paymentProvider: input.paidBy ?? 'balance', deliveredQuantity: ids.length, paidAt: now, deliveredAt: now };
    // The order row and its outbox events in one round trip.
    await runTogether(tx, [
      insertOrderStatement(order),
      ...outbox(order, [
        { type: 'order.paid', data: { amount_fen: amount, provider: order.paymentProvider } },
        { type: 'order.delivered', data: { quantity: ids.length, sku_id: input.skuId } },
      ]),
    ]);
    if (!input.revealNow) return order;
    return { ...order, deliveredCodes: ids.map((id) => ({ code_id: id, card_number: plain!.get(id)?.cardNumber ?? null, secret: plain!.get(id)!.secret })) };
  }

  /** A balance order's row before its outcome is filled in (status, payment, delivery). */
  function newOrderRow(input: { buyer: Buyer; skuId: string; quantity: number; channel: string; agentId?: string; apiKeyOwner?: string; deliveryTarget?: Record<string, unknown>; orderId: string; unitPrice: number; deadline: Date }, now: Date): OrderRow {
    return {
      id: input.orderId, buyerType: input.buyer.type, buyerId: input.buyer.id, apiKeyOwner: input.apiKeyOwner ?? null, skuId: input.skuId, quantity: input.quantity, unitPriceFen: input.unitPrice,
      discountFen: 0, amountFen: input.unitPrice * input.quantity, channel: input.channel, agentId: input.agentId ?? null, couponId: null, offerKind: null, offerId: null, campaignId: null, promoPaidFen: 0,
      status: 'pending_payment', paymentProvider: 'balance', paymentDeadline: input.deadline, awaitingChoice: null, deliveredQuantity: 0, refundedFen: 0, deliveryTarget: input.deliveryTarget ?? null,
      failureReason: null, createdAt: now, updatedAt: now, paidAt: null, deliveredAt: null,
    };
  }

  /** The order row, written once per sale by hand-written SQL (the hot path; see sellFromBalance). */
  function insertOrderStatement(o: OrderRow): Statement {
    const ts = (d: Date | null) => d?.toISOString() ?? null;
    return {
      text: `insert into orders (id, buyer_type, buyer_id, api_key_owner, sku_id, quantity, unit_price_fen, discount_fen, amount_fen, channel, agent_id, coupon_id, status, payment_provider,
               payment_deadline, awaiting_choice, delivered_quantity, refunded_fen, delivery_target, failure_reason, created_at, updated_at, paid_at, delivered_at, offer_kind, offer_id, campaign_id, promo_paid_fen)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::timestamptz, $16, $17, $18, $19::jsonb, $20, $21::timestamptz, $22::timestamptz, $23::timestamptz, $24::timestamptz, $25, $26, $27, $28)`,
      values: [o.id, o.buyerType, o.buyerId, o.apiKeyOwner, o.skuId, o.quantity, o.unitPriceFen, o.discountFen, o.amountFen, o.channel, o.agentId, o.couponId, o.status, o.paymentProvider,
        ts(o.paymentDeadline), o.awaitingChoice, o.deliveredQuantity, o.refundedFen, o.deliveryTarget ? JSON.stringify(o.deliveryTarget) : null, o.failureReason, ts(o.createdAt), ts(o.updatedAt), ts(o.paidAt), ts(o.deliveredAt),
        o.offerKind, o.offerId, o.campaignId, o.promoPaidFen],
    };
  }

  /**
   * A verified payment for an order (exactly its amount). Safe to call any
   * number of times: only a pending or cancelled order moves; a paid one is
   * left alone. A payment that arrives after the deadline re-claims stock and
   * delivers, or waits for stock.
   */
  async function applyPayment(tx: Tx, orderId: string, payment: { amountFen: number; cashAccount?: AccountSpec; provider: string }) {
    const o = await lockOrder(tx, orderId);
    if (o.status !== 'pending_payment' && o.status !== 'cancelled') return { order: o, applied: false };
    if (payment.amountFen !== o.amountFen) throw new AppError('UNPROCESSABLE', `paid ${payment.amountFen} fen for an order of ${o.amountFen}`, { code: 'AMOUNT_MISMATCH' });
    const sku = await deps.catalog.getSku(o.skuId, tx);
    // A payment after the deadline: the cancel gave the coupon back, so it is taken again. If it was used meanwhile the
    // money paid is still honoured (the buyer paid the discounted price in good faith); the overspend is logged.
    if (o.status === 'cancelled' && o.couponId && deps.coupons) {
      await tx.execute(sql`savepoint retake_coupon`);
      try {
        await deps.coupons.retakeForOrder(tx, { couponId: o.couponId, orderId: o.id, discountFen: o.discountFen });
        await tx.execute(sql`release savepoint retake_coupon`);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        await tx.execute(sql`rollback to savepoint retake_coupon`);
        p.logger.warn({ order_id: o.id, coupon_id: o.couponId, reason: err.message }, 'late payment: the coupon was used again meanwhile; the discount is honoured');
      }
    }
    await postSale(tx, o, payment.cashAccount ?? accounts.cash, sku.costFen);
    let order = await move(tx, o, 'pay', { paidAt: p.clock.now() });
    await emit(tx, order, [{ type: 'order.paid', data: { amount_fen: o.amountFen, provider: payment.provider } }]);
    order = await afterPayment(tx, order);
    return { order, applied: true };
  }

  /** A paid order goes on: a group-buy member waits for its group (the group module is told), any other is fulfilled. */
  async function afterPayment(tx: Tx, order: OrderRow) {
    if (order.offerKind !== 'group_buy') return fulfil(tx, order);
    const waiting = await move(tx, order, 'await_group');
    await runHooks(tx, waiting);
    return waiting;
  }

  /** The group filled: a member's order claims its codes and is delivered (or waits for stock, paid). */
  async function releaseGroupOrder(tx: Tx, orderId: string) {
    const o = await lockOrder(tx, orderId);
    if (o.status !== 'awaiting_group') throw new AppError('CONFLICT', `the order is ${o.status}, not waiting for its group`);
    return toView(await fulfil(tx, o));
  }

  /**
   * Risk staff approved a held order (in their transaction): it continues as a
   * new order would. A balance order is paid, claimed and delivered now (or
   * waits for stock, paid); any other becomes pending_payment with a fresh
   * deadline and its stock reserved, and the client's retry with the same
   * Idempotency-Key starts the payment.
   */
  async function releaseHeld(tx: Tx, orderId: string) {
    const o = await lockOrder(tx, orderId);
    let order = await move(tx, o, 'approve', { paymentDeadline: new Date(p.clock.now().getTime() + settings.paymentWindowMinutes * 60_000) });
    const agent = o.buyerType === 'agent' ? await deps.agents.seller(o.buyerId, tx) : undefined;
    if (agent && agent.status !== 'active') throw new AppError('FORBIDDEN', 'the buying agent is frozen: its purchases are stopped; reject the order instead');
    const allocationId = (agent && deps.inventory ? await deps.inventory.agentAllocationFor(o.skuId, agent.path, tx) : null) ?? undefined;
    if (o.paymentProvider === 'balance' || o.paymentProvider === 'promotion') {
      const sku = await deps.catalog.getSku(o.skuId, tx);
      const payers = await balancePayers(tx, { type: o.buyerType as BuyerType, id: o.buyerId }, o.amountFen, o.paymentProvider === 'promotion' ? 'promotion' : undefined);
      await postSale(tx, o, payers.postings, sku.costFen);
      order = await move(tx, order, 'pay', { paidAt: p.clock.now(), promoPaidFen: payers.promoFen });
      await emit(tx, order, [{ type: 'order.paid', data: { amount_fen: o.amountFen, provider: o.paymentProvider } }]);
      if (order.offerKind === 'group_buy') return toView(await afterPayment(tx, order));
      if (allocationId) await deps.vault.reserve({ skuId: o.skuId, quantity: o.quantity, holder: o.id, until: new Date(p.clock.now().getTime() + 60_000), allocationId }, tx).catch((e: unknown) => {
        if (!(e instanceof AppError && e.code === 'OUT_OF_STOCK')) throw e;
      });
      return toView(await fulfil(tx, order));
    }
    if (order.offerKind !== 'group_buy') await deps.vault.reserve({ skuId: o.skuId, quantity: o.quantity, holder: o.id, until: order.paymentDeadline, allocationId }, tx);
    await emit(tx, order, [{ type: 'order.created', data: { sku_id: o.skuId, quantity: o.quantity, amount_fen: o.amountFen } }]);
    return toView(order);
  }

  /** Risk staff rejected a held order: cancelled; it never held money or stock, so nothing else moves. */
  async function rejectHeld(tx: Tx, orderId: string, reason: string) {
    const o = await lockOrder(tx, orderId);
    const order = await move(tx, o, 'reject', { failureReason: `rejected by risk review: ${reason}`.slice(0, 500) });
    await emit(tx, order, [{ type: 'order.cancelled', data: { reason: 'rejected by risk review' } }]);
    await runHooks(tx, order);
    return toView(order);
  }

  /** How many orders the customer had before (capped at 5: rules only ask "first order?"); run with the API's first round trip. */
  function priorOrdersStatement(buyer: Buyer): Statement {
    return {
      text: `select count(*)::int as n from (select 1 from orders where buyer_type = $1 and buyer_id = $2 and status not in ('held_for_review', 'cancelled') limit 5) x`,
      values: [buyer.type, buyer.id],
    };
  }

  /** Unpaid provider orders past their deadline (to ask the provider about before cancelling). */
  async function dueForCancel(limit = 200): Promise<string[]> {
    const rows = await p.db.select({ id: orders.id }).from(orders).where(and(eq(orders.status, 'pending_payment'), lt(orders.paymentDeadline, p.clock.now()))).limit(limit);
    return rows.map((r) => r.id);
  }

  /** Unpaid orders past their deadline: cancelled, their codes back in stock. */
  async function cancelExpired(limit = 200): Promise<number> {
    const due = await p.db.select({ id: orders.id }).from(orders).where(and(eq(orders.status, 'pending_payment'), lt(orders.paymentDeadline, p.clock.now()))).limit(limit);
    let n = 0;
    for (const { id } of due) {
      await p.db.transaction(async (tx) => {
        const o = await lockOrder(tx, id);
        if (o.status !== 'pending_payment' || o.paymentDeadline >= p.clock.now()) return;
        const held = (await deps.vault.codesOfOrder(id, tx)).filter((c) => c.state === 'reserved').map((c) => c.id);
        if (held.length) await deps.vault.transition(held, 'release', { actorType: 'system', ref: `${id} payment deadline passed` }, tx);
        const order = await move(tx, o, 'cancel', { failureReason: 'payment deadline passed' });
        await emit(tx, order, [{ type: 'order.cancelled', data: { reason: 'payment deadline passed' } }]);
        await runHooks(tx, order);
        n++;
      });
    }
    return n;
  }

  /**
   * Refund, whole or in part, in the caller's transaction. Unrevealed codes
   * go back to stock automatically; a revealed code is refunded only by an
   * after-sales decision, and is then voided (it may have been used). A
   * partial refund names its codes or a quantity (unrevealed codes first).
   * The money goes to `destination` (the buyer's balance unless the caller,
   * the payments module, books it for the provider), and the sale's ledger
   * entries are reversed in proportion. Returns what was refunded.
   */
  async function refundInTx(
    tx: Tx,
    orderId: string,
    input: { reason: string; afterSales?: boolean; quantity?: number; codeIds?: string[]; destination?: AccountSpec; onlyIf?: { status: OrderStatus; owner?: { apiKeyOwner?: string; buyer?: Buyer } } },
    actor: { id: string; ip?: string; type?: 'staff' | 'system' | 'customer' },
  ) {
    const o = await lockOrder(tx, orderId);
    if (input.onlyIf) {
      // A buyer's own request: checked under the lock, so it cannot race the restock that completes the order.
      const viewer = input.onlyIf.owner;
      if (viewer && !ownedBy(o, viewer)) throw notFound('order', orderId);
      if (o.status !== input.onlyIf.status) throw new AppError('CONFLICT', `the order is ${o.status}, not ${input.onlyIf.status}`);
    }
    // Refunds are priced per unit of what was paid (floor(amount x units / quantity)), so the units already refunded are recovered by rounding.
    const refundedUnits = o.amountFen > 0 ? Math.round((o.refundedFen * o.quantity) / o.amountFen) : 0;
    let restock: string[] = [];
    let voided: string[] = [];
    let undelivered = 0;
    if (o.status === 'paid_awaiting_stock' || o.status === 'awaiting_group') {
      // Nothing was handed over: the whole outstanding quantity is refunded.
      undelivered = o.quantity - refundedUnits;
      if (input.quantity !== undefined && input.quantity !== undelivered) throw new AppError('VALIDATION_FAILED', `quantity: an order waiting for stock is refunded whole (${undelivered})`, [{ field: 'quantity', message: `must be ${undelivered}` }]);
      if (input.codeIds?.length) throw new AppError('VALIDATION_FAILED', 'code_ids: this order has no codes yet', [{ field: 'code_ids', message: 'order has no codes' }]);
    } else {
      const held = await deps.vault.codesOfOrder(orderId, tx);
      const unrevealed = held.filter((c) => c.state === 'delivered' || c.state === 'sold').map((c) => c.id);
      const revealed = held.filter((c) => c.state === 'revealed').map((c) => c.id);
      if (input.codeIds?.length) {
        const wanted = [...new Set(input.codeIds)];
        const foreign = wanted.filter((id) => !unrevealed.includes(id) && !revealed.includes(id));
        if (foreign.length) throw new AppError('VALIDATION_FAILED', `code_ids: ${foreign.length} code(s) are not refundable codes of this order`, [{ field: 'code_ids', message: `not refundable here: ${foreign.slice(0, 5).join(', ')}` }]);
        restock = wanted.filter((id) => unrevealed.includes(id));
        voided = wanted.filter((id) => revealed.includes(id));
      } else {
        const want = input.quantity ?? unrevealed.length + revealed.length;
        if (want > unrevealed.length + revealed.length) throw new AppError('VALIDATION_FAILED', `quantity: only ${unrevealed.length + revealed.length} code(s) of this order can be refunded`, [{ field: 'quantity', message: `at most ${unrevealed.length + revealed.length}` }]);
        restock = unrevealed.slice(0, want);
        voided = revealed.slice(0, want - restock.length);
      }
      if (voided.length && !input.afterSales) {
        throw new AppError('UNPROCESSABLE', `${voided.length} code(s) of this order were revealed: only an after-sales decision can refund them`, { code: 'CODES_REVEALED', revealed: voided.length });
      }
    }
    const units = restock.length + voided.length + undelivered;
    if (units === 0) throw new AppError('CONFLICT', `nothing to refund on an order that is ${o.status}`);
    const ctx = { actorType: (actor.type ?? 'staff') as 'staff' | 'system' | 'customer', actorId: actor.id, ref: `${orderId} refund: ${input.reason}` };
    if (restock.length) await deps.vault.transition(restock, 'restock', ctx, tx);
    if (voided.length) await deps.vault.transition(voided, 'void', ctx, tx);
    // What the refunded units cost the buyer (with a coupon, less than the list price); a whole refund returns exactly what was paid.
    const paidFor = (n: number) => Math.floor((o.amountFen * Math.min(n, o.quantity)) / o.quantity);
    const amount = paidFor(refundedUnits + units) - o.refundedFen;
    if (amount <= 0) throw new AppError('CONFLICT', 'nothing left to refund on this order');
    const destination = input.destination ?? buyerAccount({ type: o.buyerType as BuyerType, id: o.buyerId });
    await deps.ledger.post(tx, { kind: 'order_refund', refType: 'order', refId: o.id, memo: input.reason, campaignId: o.campaignId, postings: [{ account: accounts.revenue, amountFen: -amount }, ...refundPostings(o, amount, destination)] });
    // Codes back in stock are no longer a cost; voided ones stay a loss.
    const sku = await deps.catalog.getSku(o.skuId, tx);
    const restockedCost = sku.costFen * restock.length;
    if (restockedCost > 0) await deps.ledger.post(tx, { kind: 'cost_of_goods_reversal', refType: 'order', refId: o.id, campaignId: o.campaignId, postings: [{ account: accounts.supplierPayable, amountFen: -restockedCost }, { account: accounts.costOfGoods, amountFen: restockedCost }] });
    const refundedFen = o.refundedFen + amount;
    const order = await move(tx, o, refundedFen >= o.amountFen ? 'refund' : 'refund_partly', { refundedFen });
    // The commissions this sale caused shrink with it (negative entries); up to the order's refunded total, so a repeat changes nothing.
    const commissions = (await deps.commissions?.reverse(tx, orderId, { refundedFen: amount, amountFen: o.amountFen, totalRefundedFen: refundedFen })) ?? { reversedFen: 0, clawbackDueFen: 0 };
    await deps.audit.record({ actorType: actor.type ?? 'staff', actorId: actor.id, action: 'order.refund', targetType: 'order', targetId: orderId, ip: actor.ip, details: { amount_fen: amount, units, restocked: restock.length, voided: voided.length, to: destination.id, reason: input.reason } }, tx);
    await emit(tx, order, [{ type: 'order.refunded', data: { amount_fen: amount, units, restocked: restock.length, voided: voided.length } }]);
    return { order: toView(order), amountFen: amount, units, restocked: restock.length, voided: voided.length, commissions };
  }

  /**
   * Where refunded money goes: back to the promotion budget for a
   * promotion-paid order; to the promotional balance for the part of a
   * customer's payment that came from it (in proportion, so promotional
   * money never turns into cash); the rest to `destination`.
   */
  function refundPostings(o: OrderRow, amount: number, destination: AccountSpec): { account: AccountSpec; amountFen: number }[] {
    if (o.paymentProvider === 'promotion') return [{ account: accounts.promotionExpense, amountFen: amount }];
    if (o.promoPaidFen <= 0 || o.amountFen <= 0) return [{ account: destination, amountFen: amount }];
    const promoShare = (refunded: number) => Math.floor((o.promoPaidFen * refunded) / o.amountFen);
    const promo = promoShare(o.refundedFen + amount) - promoShare(o.refundedFen);
    const rest = amount - promo;
    return [
      ...(promo > 0 ? [{ account: accounts.customerPromo(o.buyerId), amountFen: promo }] : []),
      ...(rest > 0 ? [{ account: destination, amountFen: rest }] : []),
    ];
  }

  /** A refund to the buyer's balance, in its own transaction. */
  async function refund(orderId: string, input: { reason: string; afterSales?: boolean; quantity?: number; codeIds?: string[] }, actor: { id: string; ip?: string; type?: 'staff' | 'system' | 'customer' }) {
    return (await p.db.transaction((tx) => refundInTx(tx, orderId, input, actor))).order;
  }

  /**
   * Orders paid while their SKU was sold out, completed now that there is
   * stock: oldest payment first, each in its own transaction, all of an
   * order's quantity or none of it. A SKU still short is skipped for the rest
   * of the run. Buyers who chose a refund are not here any more.
   */
  async function fulfilAwaiting(limit = 100): Promise<number> {
    const due = await queryRows<{ id: string; sku_id: string }>(p.db, `select id, sku_id from orders where status = 'paid_awaiting_stock' order by paid_at asc nulls last, id limit $1`, [limit]);
    const soldOut = new Set<string>();
    let delivered = 0;
    for (const { id, sku_id } of due) {
      if (soldOut.has(sku_id)) continue;
      delivered += await p.db.transaction(async (tx) => {
        const o = await lockOrder(tx, id);
        if (o.status !== 'paid_awaiting_stock') return 0;
        const order = await fulfil(tx, o);
        if (order.status !== 'delivered') soldOut.add(sku_id);
        return order.status === 'delivered' ? 1 : 0;
      });
    }
    return delivered;
  }

  /** The buyer of an order waiting for stock chooses to keep waiting (it is completed on restock). */
  async function keepWaiting(orderId: string, viewer: { apiKeyOwner?: string; buyer?: Buyer }) {
    return p.db.transaction(async (tx) => {
      const o = await lockOrder(tx, orderId);
      if (!ownedBy(o, viewer)) throw notFound('order', orderId);
      if (o.status !== 'paid_awaiting_stock') throw new AppError('CONFLICT', `the order is ${o.status}, not waiting for stock`);
      const [row] = await tx.update(orders).set({ awaitingChoice: 'wait', updatedAt: p.clock.now() }).where(eq(orders.id, orderId)).returning();
      return toView(row!);
    });
  }

  /** The owner sees the clear codes: marked revealed, audited. */
  async function revealCodes(orderId: string, viewer: { apiKeyOwner?: string; buyer?: Buyer }): Promise<DeliveredCode[]> {
    return p.db.transaction(async (tx) => {
      const o = await lockOrder(tx, orderId);
      // Not "forbidden": an order number alone must not even confirm that the order exists.
      if (!ownedBy(o, viewer)) throw notFound('order', orderId);
      const held = (await deps.vault.codesOfOrder(orderId, tx)).filter((c) => c.state === 'delivered' || c.state === 'revealed');
      const firstTime = held.filter((c) => c.state === 'delivered').map((c) => c.id);
      // The owner's reveal is recorded in each code's own history (who, when, which order). The hash-chained
      // audit trail is for staff and privileged actions; putting every sale through its single writer lock
      // would make it the bottleneck of all selling.
      if (firstTime.length) await deps.vault.transition(firstTime, 'reveal', { actorType: viewer.apiKeyOwner ? 'order' : 'customer', actorId: viewer.apiKeyOwner ?? o.buyerId, ref: orderId }, tx);
      const plain = await deps.vault.openCodes(held.map((c) => c.id), tx);
      return held.map((c) => ({ code_id: c.id, card_number: plain.get(c.id)?.cardNumber ?? null, secret: plain.get(c.id)!.secret }));
    });
  }

  async function get(orderId: string, db: DbOrTx = p.db): Promise<OrderView> {
    const [o] = await db.select().from(orders).where(eq(orders.id, orderId));
    if (!o) throw notFound('order', orderId);
    return toView(o);
  }

  /** The whole order row, for modules that need more than the view (after-sales: the partner that placed it, its chat); undefined if none. */
  async function getRow(orderId: string, db: DbOrTx = p.db): Promise<OrderRow | undefined> {
    const [o] = await db.select().from(orders).where(eq(orders.id, orderId));
    return o;
  }

  /** An order as seen by the API key that placed it; anybody else is told it does not exist. */
  async function getOwned(orderId: string, apiKeyOwner: string): Promise<OrderView> {
    const [o] = await p.db.select().from(orders).where(and(eq(orders.id, orderId), eq(orders.apiKeyOwner, apiKeyOwner)));
    if (!o) throw notFound('order', orderId);
    return toView(o);
  }

  async function list(q: { limit: number; cursor?: string; status?: string; buyer?: Buyer; apiKeyOwner?: string }) {
    const where = pageFilter(
      orders.id,
      q.cursor,
      q.status ? eq(orders.status, q.status) : undefined,
      q.buyer ? and(eq(orders.buyerType, q.buyer.type), eq(orders.buyerId, q.buyer.id)) : undefined,
      q.apiKeyOwner ? eq(orders.apiKeyOwner, q.apiKeyOwner) : undefined,
    );
    const rows = await p.db.select().from(orders).where(where).orderBy(desc(orders.id)).limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  /** Credits a buyer's prepaid balance (an agent's or customer's top-up), e.g. after a bank transfer confirmed by finance. */
  async function creditBalance(buyer: Buyer, amountFen: number, ref: string, actor: { id: string; ip?: string }) {
    if (!Number.isSafeInteger(amountFen) || amountFen <= 0) throw new AppError('VALIDATION_FAILED', 'amount_fen: must be a positive whole number of fen', [{ field: 'amount_fen', message: 'must be positive' }]);
    return p.db.transaction(async (tx) => {
      await deps.ledger.post(tx, { kind: 'balance_topup', refType: 'manual', refId: ref, postings: [{ account: accounts.cash, amountFen: -amountFen }, { account: buyerAccount(buyer), amountFen }] });
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'balance.credit', targetType: buyer.type, targetId: buyer.id, ip: actor.ip, details: { amount_fen: amountFen, ref } }, tx);
      return deps.ledger.balance(buyerAccount(buyer).id, tx);
    });
  }

  return { getRow, onStatus, releaseGroupOrder, createOrder, releaseHeld, rejectHeld, priorOrdersStatement, applyPayment, dueForCancel, cancelExpired, fulfilAwaiting, keepWaiting, refund, refundInTx, revealCodes, get, getOwned, list, creditBalance, buyerAccount, OrderTransitionError };
}

/** Whether the order belongs to this viewer: the API key that placed it, or its buyer. */
function ownedBy(o: typeof orders.$inferSelect, viewer: { apiKeyOwner?: string; buyer?: Buyer }): boolean {
  return Boolean((viewer.apiKeyOwner && viewer.apiKeyOwner === o.apiKeyOwner) || (viewer.buyer && viewer.buyer.type === o.buyerType && viewer.buyer.id === o.buyerId));
}

export function toView(o: typeof orders.$inferSelect): OrderView {
  return {
    id: o.id,
    buyer_type: o.buyerType,
    buyer_id: o.buyerId,
    sku_id: o.skuId,
    quantity: o.quantity,
    unit_price_fen: o.unitPriceFen,
    discount_fen: o.discountFen,
    amount_fen: o.amountFen,
    coupon_id: o.couponId,
    offer_kind: o.offerKind,
    offer_id: o.offerId,
    campaign_id: o.campaignId,
    channel: o.channel,
    agent_id: o.agentId,
    status: o.status,
    payment_provider: o.paymentProvider,
    payment_deadline: o.paymentDeadline.toISOString(),
    delivered_quantity: o.deliveredQuantity,
    refunded_fen: o.refundedFen,
    created_at: o.createdAt.toISOString(),
    paid_at: o.paidAt?.toISOString() ?? null,
    delivered_at: o.deliveredAt?.toISOString() ?? null,
  };
}

export type OrderService = ReturnType<typeof createOrderService>;
