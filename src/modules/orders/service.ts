import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import type { VaultService } from '../vault/service.js';
import type { LedgerService } from '../ledger/service.js';
import type { AgentService } from '../agents/service.js';
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
  amount_fen: number;
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
  /** Writes an outbox event in the caller's transaction (the webhooks module). */
  emit?: (tx: DbOrTx, event: { type: string; ownerType?: string; ownerId?: string; data: Record<string, unknown> }) => Promise<unknown>;
}

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
  const emit = async (tx: DbOrTx, type: string, order: { id: string; apiKeyOwner: string | null }, data: Record<string, unknown>) => {
    if (!deps.emit) return;
    const [ownerType, ownerId] = order.apiKeyOwner?.split(':') ?? [];
    await deps.emit(tx, { type, ownerType, ownerId, data: { order_id: order.id, ...data } });
  };

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

  /** Money in for a paid order (from the buyer's balance or the provider's cash) and its cost of goods, in one ledger transaction. */
  async function postSale(tx: Tx, o: { id: string; amountFen: number; quantity: number }, from: AccountSpec, unitCostFen: number) {
    const cost = unitCostFen * o.quantity;
    await deps.ledger.post(tx, {
      kind: 'order_payment',
      refType: 'order',
      refId: o.id,
      postings: [
        { account: from, amountFen: -o.amountFen },
        { account: accounts.revenue, amountFen: o.amountFen },
        ...(cost > 0 ? [{ account: accounts.costOfGoods, amountFen: -cost }, { account: accounts.supplierPayable, amountFen: cost }] : []),
      ],
    });
  }

  /** Sells and hands over the order's reserved codes. */
  async function fulfil(tx: Tx, o: typeof orders.$inferSelect) {
    const held = await deps.vault.codesOfOrder(o.id, tx);
    const reserved = held.filter((c) => c.state === 'reserved').map((c) => c.id);
    let order = await move(tx, o, 'fulfil');
    if (reserved.length < o.quantity) return move(tx, order, 'await_stock');
    const ctx = { actorType: 'order' as const, actorId: o.id, ref: o.id };
    await deps.vault.transition(reserved, 'sell', ctx, tx);
    await deps.vault.transition(reserved, 'deliver', ctx, tx);
    order = await move(tx, order, 'deliver', { deliveredQuantity: reserved.length, deliveredAt: p.clock.now() });
    await emit(tx, 'order.delivered', order, { quantity: reserved.length, sku_id: o.skuId });
    return order;
  }

  async function createOrder(
    input: { buyer: Buyer; skuId: string; quantity: number; channel: string; agentId?: string; payment: 'balance' | 'external'; provider?: string; apiKeyOwner?: string; deliveryTarget?: Record<string, unknown>; revealNow?: boolean },
    tx: Tx,
  ): Promise<typeof orders.$inferSelect & { deliveredCodes?: DeliveredCode[] }> {
    const sku = await deps.catalog.saleInfo(input.skuId, tx);
    if (!sku.onSale) throw new AppError('UNPROCESSABLE', `SKU is not on sale${sku.offSaleReason ? `: ${sku.offSaleReason}` : ''}`, [{ field: 'sku_id', message: 'not on sale' }]);
    if (sku.kind === 'topup') throw new AppError('UNPROCESSABLE', 'direct top-up orders go through the supplier purchase API', [{ field: 'sku_id', message: 'is a top-up SKU' }]);
    if (input.quantity < sku.minPerOrder || input.quantity > sku.maxPerOrder) {
      throw new AppError('VALIDATION_FAILED', `quantity: must be ${sku.minPerOrder}-${sku.maxPerOrder} for this SKU`, [{ field: 'quantity', message: `must be ${sku.minPerOrder}-${sku.maxPerOrder}` }]);
    }
    const hasLevelPrices = Object.keys(sku.agentPrices).length > 0;
    const level = input.buyer.type === 'agent' && hasLevelPrices ? (await deps.agents.get(input.buyer.id, tx)).depth : undefined;
    const unitPrice = deps.catalog.priceFor(sku, level);
    const now = p.clock.now();
    const deadline = new Date(now.getTime() + settings.paymentWindowMinutes * 60_000);
    const orderId = newId('ord', now);

    if (input.payment === 'balance') return sellFromBalance(tx, { ...input, orderId, unitPrice, costFen: sku.costFen, deadline });
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
        amountFen: unitPrice * input.quantity,
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
    await deps.vault.reserve({ skuId: sku.id, quantity: input.quantity, holder: orderId, until: deadline }, tx);
    await emit(tx, 'order.created', order, { sku_id: sku.id, quantity: input.quantity, amount_fen: order.amountFen });
    return order;
  }

  /**
   * Paid from a prepaid balance: claim, pay and deliver in one transaction and
   * few statements (the hot path of agents buying): the codes are claimed,
   * the money and cost posted in one ledger transaction, the codes sold and
   * delivered (and revealed to an API caller) in one step, and the order
   * written once, in its final state as the state machine computes it.
   */
  async function sellFromBalance(tx: Tx, input: { buyer: Buyer; skuId: string; quantity: number; channel: string; agentId?: string; apiKeyOwner?: string; deliveryTarget?: Record<string, unknown>; revealNow?: boolean; orderId: string; unitPrice: number; costFen: number; deadline: Date }) {
    const now = p.clock.now();
    const amount = input.unitPrice * input.quantity;
    // Money first: a buyer who cannot pay fails before touching stock, and the lock on the buyer's balance row
    // queues one buyer's simultaneous orders, so a doomed order never holds codes that others then miss.
    await postSale(tx, { id: input.orderId, amountFen: amount, quantity: input.quantity }, buyerAccount(input.buyer), input.costFen);
    const ids = await deps.vault.reserve({ skuId: input.skuId, quantity: input.quantity, holder: input.orderId, until: input.deadline }, tx);
    await deps.vault.transitionChain(ids, input.revealNow ? ['sell', 'deliver', 'reveal'] : ['sell', 'deliver'], { actorType: 'order', actorId: input.orderId, ref: input.orderId }, tx);
    let status: OrderStatus = 'pending_payment';
    for (const e of ['pay', 'fulfil', 'deliver'] as const) status = nextStatus(status, e);
    const [order] = await tx
      .insert(orders)
      .values({
        id: input.orderId,
        buyerType: input.buyer.type,
        buyerId: input.buyer.id,
        apiKeyOwner: input.apiKeyOwner ?? null,
        skuId: input.skuId,
        quantity: input.quantity,
        unitPriceFen: input.unitPrice,
        amountFen: amount,
        channel: input.channel,
        agentId: input.agentId ?? null,
        status,
        paymentProvider: 'balance',
        paymentDeadline: input.deadline,
        deliveredQuantity: ids.length,
        deliveryTarget: input.deliveryTarget ?? null,
        createdAt: now,
        updatedAt: now,
        paidAt: now,
        deliveredAt: now,
      })
      .returning();
    await emit(tx, 'order.paid', order!, { amount_fen: amount, provider: 'balance' });
    await emit(tx, 'order.delivered', order!, { quantity: ids.length, sku_id: input.skuId });
    if (!input.revealNow) return order!;
    const plain = await deps.vault.openCodes(ids, tx);
    return { ...order!, deliveredCodes: ids.map((id) => ({ code_id: id, card_number: plain.get(id)?.cardNumber ?? null, secret: plain.get(id)!.secret })) };
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
    await postSale(tx, o, payment.cashAccount ?? accounts.cash, sku.costFen);
    let order = await move(tx, o, 'pay', { paidAt: p.clock.now() });
    await emit(tx, 'order.paid', order, { amount_fen: o.amountFen, provider: payment.provider });
    if (o.status === 'cancelled') {
      // Its reservation was released at the deadline: claim again, if there is stock.
      try {
        await deps.vault.reserve({ skuId: o.skuId, quantity: o.quantity, holder: o.id, until: new Date(p.clock.now().getTime() + 60_000) }, tx);
      } catch (e) {
        if (!(e instanceof AppError && e.code === 'OUT_OF_STOCK')) throw e;
      }
    }
    order = await fulfil(tx, order);
    return { order, applied: true };
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
        await emit(tx, 'order.cancelled', order, { reason: 'payment deadline passed' });
        n++;
      });
    }
    return n;
  }

  /**
   * Refund. Unrevealed codes go back to stock automatically; a revealed code
   * is refunded only by an after-sales decision, and is then voided (it may
   * have been used). The money returns to the buyer's balance, and the
   * sale's ledger entries are reversed in proportion.
   */
  async function refund(orderId: string, input: { reason: string; afterSales?: boolean }, actor: { id: string; ip?: string; type?: 'staff' | 'system' }) {
    return p.db.transaction(async (tx) => {
      const o = await lockOrder(tx, orderId);
      const held = await deps.vault.codesOfOrder(orderId, tx);
      const delivered = held.filter((c) => c.state === 'delivered' || c.state === 'sold').map((c) => c.id);
      const revealed = held.filter((c) => c.state === 'revealed').map((c) => c.id);
      if (revealed.length && !input.afterSales) {
        throw new AppError('UNPROCESSABLE', `${revealed.length} code(s) of this order were revealed: only an after-sales decision can refund them`, { code: 'CODES_REVEALED', revealed: revealed.length });
      }
      const units = delivered.length + revealed.length + (o.status === 'paid_awaiting_stock' ? o.quantity : 0);
      if (units === 0) throw new AppError('CONFLICT', `nothing to refund on an order that is ${o.status}`);
      const ctx = { actorType: (actor.type ?? 'staff') as 'staff' | 'system', actorId: actor.id, ref: `${orderId} refund: ${input.reason}` };
      if (delivered.length) await deps.vault.transition(delivered, 'restock', ctx, tx);
      if (revealed.length) await deps.vault.transition(revealed, 'void', ctx, tx);
      const amount = o.unitPriceFen * units;
      const sku = await deps.catalog.getSku(o.skuId, tx);
      await deps.ledger.post(tx, { kind: 'order_refund', refType: 'order', refId: o.id, memo: input.reason, postings: [{ account: accounts.revenue, amountFen: -amount }, { account: buyerAccount({ type: o.buyerType as BuyerType, id: o.buyerId }), amountFen: amount }] });
      // Codes back in stock are no longer a cost; voided ones stay a loss.
      const restockedCost = sku.costFen * delivered.length;
      if (restockedCost > 0) await deps.ledger.post(tx, { kind: 'cost_of_goods_reversal', refType: 'order', refId: o.id, postings: [{ account: accounts.supplierPayable, amountFen: -restockedCost }, { account: accounts.costOfGoods, amountFen: restockedCost }] });
      const refundedFen = o.refundedFen + amount;
      const order = await move(tx, o, refundedFen >= o.amountFen ? 'refund' : 'refund_partly', { refundedFen });
      await deps.audit.record({ actorType: actor.type ?? 'staff', actorId: actor.id, action: 'order.refund', targetType: 'order', targetId: orderId, ip: actor.ip, details: { amount_fen: amount, restocked: delivered.length, voided: revealed.length, reason: input.reason } }, tx);
      await emit(tx, 'order.refunded', order, { amount_fen: amount, restocked: delivered.length, voided: revealed.length });
      return toView(order);
    });
  }

  /** The owner sees the clear codes: marked revealed, audited. */
  async function revealCodes(orderId: string, viewer: { apiKeyOwner?: string; buyer?: Buyer }): Promise<DeliveredCode[]> {
    return p.db.transaction(async (tx) => {
      const o = await lockOrder(tx, orderId);
      const isOwner = (viewer.apiKeyOwner && viewer.apiKeyOwner === o.apiKeyOwner) || (viewer.buyer && viewer.buyer.type === o.buyerType && viewer.buyer.id === o.buyerId);
      // Not "forbidden": an order number alone must not even confirm that the order exists.
      if (!isOwner) throw notFound('order', orderId);
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

  return { createOrder, applyPayment, dueForCancel, cancelExpired, refund, revealCodes, get, getOwned, list, creditBalance, buyerAccount, OrderTransitionError };
}

export function toView(o: typeof orders.$inferSelect): OrderView {
  return {
    id: o.id,
    buyer_type: o.buyerType,
    buyer_id: o.buyerId,
    sku_id: o.skuId,
    quantity: o.quantity,
    unit_price_fen: o.unitPriceFen,
    amount_fen: o.amountFen,
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
