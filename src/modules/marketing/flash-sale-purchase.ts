import type { OrderReports } from '../orders/reports.js';
import type { Platform } from '../../platform.js';
import { queryRows, runTogether } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { CatalogService } from '../catalog/service.js';
import type { CustomerService, IdentityProvider } from '../customers/service.js';
import type { AgentService, SellerInfo } from '../agents/service.js';
import type { AgentAllocationRow, InventoryService } from '../inventory/service.js';
import { toView, type Buyer, type DeliveredCode, type OrderService, type OrderView } from '../orders/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { AssessInput, RiskService } from '../risk/service.js';
import type { RiskReviews } from '../risk/reviews.js';
import { refuseUnlessPassed } from '../risk/gate-http.js';
import type { GateRefusal } from './flash-sale-gate.js';
import type { FlashSaleService } from './flash-sale-service.js';
import { flashSalePurchases } from './flash-sale-schema.js';

export interface FlashPurchaseInput {
  saleId: string;
  /** The API key's owner ("partner:p1", "agent:agt_…"). */
  apiKeyOwner: string;
  /** An agent key buys for itself; a partner names the customer. */
  buyer: { type: 'agent'; agentId: string } | { type: 'customer'; provider: IdentityProvider; externalId: string };
  quantity: number;
  idempotencyKey: string;
  /** What the channel knows of the request, for the risk gate (ip, device, captcha). */
  client: Pick<AssessInput, 'ip' | 'deviceId' | 'deviceSignals' | 'captcha'>;
}

export interface FlashPurchaseResult {
  status: 200 | 201 | 202;
  order: OrderView;
  codes: DeliveredCode[];
  usageInstructions: string;
  review?: { decision_id: string };
}

const refusals: Record<GateRefusal, { code: 'OUT_OF_STOCK' | 'CONFLICT' | 'UNPROCESSABLE'; message: string }> = {
  sold_out: { code: 'OUT_OF_STOCK', message: 'this flash sale is sold out' },
  user_limit: { code: 'CONFLICT', message: 'you already bought as many as this flash sale allows per buyer' },
  not_started: { code: 'UNPROCESSABLE', message: 'this flash sale has not started yet' },
  ended: { code: 'UNPROCESSABLE', message: 'this flash sale has ended' },
  cancelled: { code: 'UNPROCESSABLE', message: 'this flash sale was cancelled' },
};

/** Thrown inside the order's transaction when the sale's counter has no room left (rolls the order back). */
class CounterSoldOut extends Error {}

/**
 * Takes `quantity` units from the sale's counter, or none. Run last in the order's transaction: the sale's row stays
 * locked from here to the commit, so every purchase of the sale queues on it only for that short tail, not for the
 * whole order (the stock claim, the ledger, the risk gate run before it, in parallel with other buyers).
 */
const takeUnitsSql = `update flash_sales set sold_units = sold_units + $2 where id = $1 and sold_units + $2 <= units returning sold_units`;

/**
 * Buying in a flash sale. The order of work is the point: the sale's
 * definition comes from memory, then the gate (one Redis script or the
 * memory twin) admits or refuses, and only an admitted attempt (or a retry
 * of one) reaches the database: a refused one makes no query at all, so a
 * crowd of 20,000 for 1,000 units costs the database about 1,000 orders.
 * The gate counts buyers by the identity the caller names (provider and
 * external id, or the agent), which needs no lookup; the database checks the
 * per-buyer limit again by customer, in the order's transaction.
 *
 * An admitted attempt whose order then fails (balance short, out of stock,
 * refused by risk) gives its units and the buyer's count back to the gate
 * and says so in the error (details.flash_sale.released).
 *
 * The gate is not trusted alone with the units: the order's transaction also
 * takes them from the sale's counter (flash_sales.sold_units) with one
 * conditional UPDATE, so a gate that lost its state (Redis flushed, failed
 * over without persistence, keys evicted, reloaded while admitted orders were
 * still committing) and admits again cannot sell past the units. When the
 * counter refuses, the buyer gets the gate's own sold-out answer, the attempt
 * is released and the gate is clamped to what the counter has left, so the
 * crowd behind is refused by the gate again without touching the database.
 */
export function createFlashPurchase(
  p: Platform,
  deps: { flashSales: FlashSaleService; orders: OrderService; orderReports: Pick<OrderReports, 'offerUnitsStatement'>; customers: Pick<CustomerService, 'resolve'>; catalog: Pick<CatalogService, 'saleInfoStatement' | 'saleInfoFrom' | 'getSku'>; agents: Pick<AgentService, 'sellerStatement'>; inventory: Pick<InventoryService, 'agentAllocationsStatement'>; risk?: RiskService; reviews?: RiskReviews },
) {
  const { flashSales, orders } = deps;
  const idempotency = createIdempotency(p);

  async function purchase(input: FlashPurchaseInput): Promise<FlashPurchaseResult> {
    const sale = await flashSales.definition(input.saleId);
    if (!sale) throw new AppError('NOT_FOUND', `flash sale ${input.saleId} not found`);
    if (input.quantity > sale.perUserLimit) throw new AppError('VALIDATION_FAILED', `quantity: at most ${sale.perUserLimit} per buyer in this sale`, [{ field: 'quantity', message: `at most ${sale.perUserLimit}` }]);
    const gateUser = input.buyer.type === 'agent' ? `agent:${input.buyer.agentId}` : `${input.buyer.provider}:${input.buyer.externalId}`;
    const now = p.clock.now().getTime();
    let verdict = await flashSales.gate.admit(sale.id, gateUser, input.idempotencyKey, input.quantity, now);
    if (verdict.outcome === 'not_loaded') {
      // This instance's first sight of the sale since a restart (memory twin) or a lost Redis: loaded once, from the orders.
      await flashSales.load(sale);
      verdict = await flashSales.gate.admit(sale.id, gateUser, input.idempotencyKey, input.quantity, now);
    }
    if (verdict.outcome !== 'admitted' && verdict.outcome !== 'replay') {
      if (verdict.outcome === 'not_loaded') throw new AppError('SERVICE_UNAVAILABLE', 'the flash sale could not be loaded; retry');
      const r = refusals[verdict.outcome];
      throw new AppError(r.code, r.message, { reason: verdict.outcome, sale_id: sale.id, ...(verdict.outcome === 'not_started' ? { starts_at: sale.startsAt.toISOString() } : {}) });
    }
    const admitted = verdict.outcome === 'admitted';
    let result: FlashPurchaseResult;
    try {
      result = await placeOrder(input, sale, gateUser, admitted);
    } catch (err) {
      if (err instanceof CounterSoldOut) {
        // The gate admitted what the database no longer has: give this attempt back, then lower the gate to the
        // counter's room (read after the rollback, so it includes every committed order).
        if (admitted) await flashSales.gate.release(sale.id, gateUser, input.idempotencyKey);
        const left = await flashSales.unitsLeft(sale.id);
        await flashSales.gate.clamp(sale.id, left);
        p.logger.warn({ sale_id: sale.id, units_left: left }, 'flash sale gate admitted past the database counter; gate clamped');
        throw new AppError(refusals.sold_out.code, refusals.sold_out.message, { reason: 'sold_out', sale_id: sale.id });
      }
      // Whatever failed after admission rolled the order back: nothing was bought with this attempt.
      if (!admitted) throw err;
      const released = await flashSales.gate.release(sale.id, gateUser, input.idempotencyKey);
      if (!(err instanceof AppError)) throw err;
      const details = err.details && typeof err.details === 'object' && !Array.isArray(err.details) ? (err.details as Record<string, unknown>) : { issues: err.details };
      throw new AppError(err.code, `${err.message}; your place in the flash sale was given back`, { ...details, flash_sale: { sale_id: sale.id, released } }, err.headers);
    }
    // A key whose order the gate had forgotten (reloaded without it) was admitted again, but the answer is the old order's.
    if (admitted && result.status === 200) await flashSales.gate.release(sale.id, gateUser, input.idempotencyKey);
    return result;
  }

  async function placeOrder(input: FlashPurchaseInput, sale: NonNullable<Awaited<ReturnType<FlashSaleService['definition']>>>, gateUser: string, admitted: boolean): Promise<FlashPurchaseResult> {
    const scope = `${input.apiKeyOwner}:flash-sales`;
    const request = { sale_id: sale.id, quantity: input.quantity, buyer: input.buyer };
    let buyer: Buyer;
    let account: AssessInput['account'];
    if (input.buyer.type === 'agent') {
      buyer = { type: 'agent', id: input.buyer.agentId };
      account = { type: 'agent', id: buyer.id };
    } else {
      const c = await deps.customers.resolve({ identity: { provider: input.buyer.provider, externalId: input.buyer.externalId } });
      buyer = { type: 'customer', id: c.customerId };
      account = { type: 'customer', id: c.customerId, ...(c.createdAt ? { createdAt: c.createdAt } : {}) };
    }
    const orderId = newId('ord', p.clock.now());
    let held: { decision_id: string } | undefined;
    await deps.risk?.warm();
    const result = await p.db.transaction(async (tx) => {
      // The per-buyer limit is checked again by customer (one customer may have several identities), under a lock per
      // buyer and sale taken first; the key's claim, the SKU's terms and the buyer's units so far then come in one round trip.
      await queryRows(tx, 'select pg_advisory_xact_lock(hashtext($1))', [`flash:${sale.id}:${buyer.type}:${buyer.id}`], { prepare: true });
      const [claimed, mineRows, skuRows, agentRows, allocationRows] = await runTogether(tx, [
        idempotency.claimStatement(scope, input.idempotencyKey, request, { statusCode: 201, body: { order_id: orderId } }),
        deps.orderReports.offerUnitsStatement({ kind: 'flash_sale', id: sale.id }, buyer),
        deps.catalog.saleInfoStatement(sale.skuId),
        ...(buyer.type === 'agent' ? [deps.agents.sellerStatement(buyer.id), deps.inventory.agentAllocationsStatement(sale.skuId)] : []),
      ]);
      const prior = await idempotency.settleClaim(tx, claimed!, scope, input.idempotencyKey, request);
      if (prior) return { status: 200 as const, orderId: (prior.body as { order_id: string }).order_id };
      // The gate knew this key as admitted, but the attempt that held it failed in between: its place is gone.
      if (!admitted) throw new AppError('CONFLICT', 'the earlier attempt with this Idempotency-Key failed; retry with a new key', [{ field: 'Idempotency-Key', message: 'its attempt failed' }]);
      const mine = Number((mineRows?.[0] as { n: number } | undefined)?.n ?? 0);
      if (mine + input.quantity > sale.perUserLimit) throw new AppError('CONFLICT', 'you already bought as many as this flash sale allows per buyer', { reason: 'user_limit', sale_id: sale.id });
      const saleInfo = deps.catalog.saleInfoFrom(skuRows!, sale.skuId);
      const buyerAgent = buyer.type === 'agent' ? (agentRows?.[0] as SellerInfo | undefined) : undefined;
      if (buyer.type === 'agent' && !buyerAgent) throw new AppError('NOT_FOUND', `agent ${buyer.id} not found`);
      const risk = deps.risk;
      const gate = risk
        ? async (priced: { amountFen: number; agentId?: string }) => {
            const d = await risk.assess({ action: 'order', ...input.client, account, amountFen: priced.amountFen, skuId: sale.skuId, agentId: priced.agentId });
            const v = refuseUnlessPassed(d);
            if (v === 'review') {
              held = { decision_id: d.decision_id };
              await deps.reviews?.open(tx, { subjectType: 'order', subjectId: orderId, decisionId: d.decision_id });
            }
            return v;
          }
        : undefined;
      const order = await orders.createOrder(
        {
          buyer, skuId: sale.skuId, quantity: input.quantity, channel: 'api', payment: 'balance', provider: 'balance', apiKeyOwner: input.apiKeyOwner, revealNow: true, orderId, saleInfo, buyerAgent, agentAllocations: allocationRows as AgentAllocationRow[] | undefined, gate,
          offer: { kind: 'flash_sale', id: sale.id, unitPriceFen: sale.priceFen, campaignId: sale.campaignId },
        },
        tx,
      );
      await tx.insert(flashSalePurchases).values({ orderId: order.id, saleId: sale.id, gateUser, idempotencyKey: input.idempotencyKey, buyerType: buyer.type, buyerId: buyer.id, quantity: input.quantity, createdAt: p.clock.now() });
      const taken = await queryRows(tx, takeUnitsSql, [sale.id, input.quantity], { prepare: true });
      if (!taken.length) throw new CounterSoldOut();
      return { status: held ? (202 as const) : (201 as const), orderId: order.id, order };
    });
    const created = 'order' in result ? result.order : undefined;
    const order = created ? toView(created) : await orders.get(result.orderId);
    if (order.status === 'held_for_review') {
      const review = held ?? (deps.reviews ? await deps.reviews.forSubject('order', order.id).then((r) => (r ? { decision_id: r.decision_id } : undefined)) : undefined);
      return { status: 202, order, codes: [], usageInstructions: created?.usageInstructions ?? (await deps.catalog.getSku(sale.skuId)).usageInstructions, ...(review ? { review } : {}) };
    }
    // Codes are never stored with the idempotent response: a replay reads them again for their owner.
    const codes = created ? (created.deliveredCodes ?? []) : order.status === 'delivered' || order.status === 'partially_delivered' ? await orders.revealCodes(order.id, { apiKeyOwner: input.apiKeyOwner }) : [];
    const usageInstructions = created?.usageInstructions ?? (await deps.catalog.getSku(sale.skuId)).usageInstructions;
    return { status: result.status, order, codes, usageInstructions };
  }

  return { purchase };
}

export type FlashPurchase = ReturnType<typeof createFlashPurchase>;
