import { randomBytes } from 'node:crypto';
import { AppError } from '../../../src/lib/errors.js';
import { accounts } from '../../../src/modules/ledger/accounts.js';
import type { ProductView, SkuView } from '../../../src/modules/catalog/service.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import { placeOrder, privateChatOf, type PlacedOrder } from '../place-order.js';
import type { BuyFlow } from '../session.js';
import type { Reply, ReplyButton } from '../types.js';
import { yuan } from '../texts.js';
import { codesReply } from './codes.js';

/**
 * The buy flow: product -> SKU -> quantity -> coupon -> pay -> codes. Each
 * step's button carries the flow id ("buy:<step>:<flow>:<value>"); a button of
 * an older flow is refused, and the pay step of a flow that already placed its
 * order answers with that order (see place-order.ts for the idempotency key).
 */
export const buyFeature: Feature = {
  name: 'buy',
  commands: {
    catalog: (ctx) => catalog(ctx),
    商品: (ctx) => catalog(ctx),
    buy: (ctx, args) => buyCommand(ctx, args[0]),
    购买: (ctx, args) => buyCommand(ctx, args[0]),
  },
  buttons: {
    cat: (ctx) => catalog(ctx),
    buy: (ctx, args) => step(ctx, args),
  },
  answers: {
    quantity: (ctx, [text]) => quantityAnswer(ctx, text ?? ''),
  },
};

const QUICK_QUANTITIES = [1, 2, 5, 10];
const MAX_PRODUCTS = 20;
const MAX_COUPONS = 5;

const newFlowId = () => randomBytes(8).toString('base64url');

async function catalog(ctx: Ctx): Promise<Reply[]> {
  const page = await ctx.s.catalog.listProducts({ limit: MAX_PRODUCTS });
  const products = page.data.filter((prd) => sellable(prd).length > 0);
  if (!products.length) return [{ text: ctx.t('catalogEmpty'), buttons: [backRow(ctx)] }];
  const flow: BuyFlow = { id: newFlowId() };
  ctx.session.buy = flow;
  delete ctx.session.awaiting;
  return [{ text: ctx.t('catalogTitle'), buttons: [...products.map((prd) => [btn(prd.name, 'buy', 'p', flow.id, prd.id)]), backRow(ctx)] }];
}

/** "购买 2" / "/buy 2": the quantity for the SKU being bought, or the catalogue when none is chosen yet. */
async function buyCommand(ctx: Ctx, arg?: string): Promise<Reply[]> {
  const flow = ctx.session.buy;
  if (arg && flow?.skuId && !flow.orderId) return quantityAnswer(ctx, arg);
  return catalog(ctx);
}

async function step(ctx: Ctx, [kind, flowId, value]: string[]): Promise<Reply[]> {
  const flow = ctx.session.buy;
  if (!flow || flow.id !== flowId) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  if (flow.orderId) return alreadyDone(ctx, flow.orderId);
  switch (kind) {
    case 'p':
      return chooseProduct(ctx, flow, value ?? '');
    case 's':
      return chooseSku(ctx, flow, value ?? '');
    case 'q':
      if (value === 'other') {
        ctx.session.awaiting = 'quantity';
        const sku = await ctx.s.catalog.getSku(flow.skuId ?? '');
        return [{ text: ctx.t('askQty', { max: sku.maxPerOrder }), buttons: [[btn(ctx.t('btnCancel'), 'cancel')]] }];
      }
      return quantityAnswer(ctx, value ?? '');
    case 'c':
      flow.couponId = value === 'none' ? null : (value ?? null);
      return confirm(ctx, flow);
    case 'pay':
      return pay(ctx, flow, value === 'stars' ? 'stars' : 'balance');
    default:
      return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  }
}

function sellable(prd: ProductView): SkuView[] {
  return prd.kind === 'topup' ? [] : prd.skus.filter((s) => s.on_sale);
}

async function chooseProduct(ctx: Ctx, flow: BuyFlow, productId: string): Promise<Reply[]> {
  const prd = await ctx.s.catalog.getProduct(productId);
  const skus = sellable(prd);
  flow.productId = prd.id;
  if (skus.length === 1) return chooseSku(ctx, flow, skus[0]!.id);
  if (!skus.length) return [{ text: ctx.t('catalogEmpty'), buttons: [backRow(ctx)] }];
  return [{ text: ctx.t('chooseSku', { product: prd.name }), buttons: [...skus.map((s) => [btn(ctx.t('skuLine', { name: s.name, price: yuan(s.retail_price_fen) }), 'buy', 's', flow.id, s.id)]), backRow(ctx)] }];
}

async function chooseSku(ctx: Ctx, flow: BuyFlow, skuId: string): Promise<Reply[]> {
  const sku = await ctx.s.catalog.getSku(skuId);
  if (!sku.onSale) return [{ text: ctx.t('catalogEmpty'), buttons: [backRow(ctx)] }];
  flow.skuId = sku.id;
  const quick = QUICK_QUANTITIES.filter((q) => q >= sku.minPerOrder && q <= sku.maxPerOrder);
  const row: ReplyButton[] = quick.map((q) => btn(String(q), 'buy', 'q', flow.id, String(q)));
  const prd = await ctx.s.catalog.getProduct(sku.productId);
  return [{ text: ctx.t('chooseQty', { sku: `${prd.name} ${sku.name}`, price: yuan(sku.retailPriceFen) }), buttons: [row, [btn(ctx.t('qtyOther'), 'buy', 'q', flow.id, 'other')], backRow(ctx)] }];
}

async function quantityAnswer(ctx: Ctx, text: string): Promise<Reply[]> {
  const flow = ctx.session.buy;
  if (!flow?.skuId) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  const sku = await ctx.s.catalog.getSku(flow.skuId);
  const n = /^\d{1,4}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isInteger(n) || n < sku.minPerOrder || n > sku.maxPerOrder) {
    ctx.session.awaiting = 'quantity';
    return [{ text: ctx.t('badQty', { max: sku.maxPerOrder }), buttons: [[btn(ctx.t('btnCancel'), 'cancel')]] }];
  }
  delete ctx.session.awaiting;
  flow.quantity = n;
  const coupons = (await ctx.s.coupons.listCoupons({ limit: MAX_COUPONS, customerId: ctx.customerId, state: 'available' })).data;
  if (!coupons.length) {
    flow.couponId = null;
    return confirm(ctx, flow);
  }
  const rows = coupons.map((c) => [btn(ctx.t('couponLine', { name: c.terms.name, off: c.terms.amount_off_fen !== null ? yuan(c.terms.amount_off_fen) : `${(c.terms.percent_off_bps ?? 0) / 100}%` }), 'buy', 'c', flow.id, c.id)]);
  return [{ text: ctx.t('chooseCoupon'), buttons: [...rows, [btn(ctx.t('noCoupon'), 'buy', 'c', flow.id, 'none')], backRow(ctx)] }];
}

async function balanceOf(ctx: Ctx): Promise<number> {
  const ids = [accounts.customerBalance(ctx.customerId).id, accounts.customerPromo(ctx.customerId).id];
  const b = await ctx.s.ledger.balances(ids);
  return ids.reduce((sum, id) => sum + (b[id] ?? 0), 0);
}

async function confirm(ctx: Ctx, flow: BuyFlow): Promise<Reply[]> {
  const sku = await ctx.s.catalog.getSku(flow.skuId ?? '');
  const quantity = flow.quantity ?? 1;
  // The list price; the agent's resale price and the coupon are applied by the order itself (shown on the receipt).
  const total = sku.retailPriceFen * quantity;
  // Others read a group along: the balance is only shown in a private chat.
  const balance = ctx.place.kind === 'private' ? yuan(await balanceOf(ctx)) : '***';
  const buttons: ReplyButton[][] = [[btn(ctx.t('payBalance', { total: yuan(total) }), 'buy', 'pay', flow.id, 'balance')]];
  if (ctx.place.channel === 'telegram' && ctx.s.payments.configured('stars')) buttons.push([btn(ctx.t('payStars'), 'buy', 'pay', flow.id, 'stars')]);
  buttons.push([btn(ctx.t('btnCancel'), 'cancel')]);
  const prd = await ctx.s.catalog.getProduct(sku.productId);
  return [{ text: ctx.t('confirmPay', { qty: quantity, sku: `${prd.name} ${sku.name}`, total: yuan(total), discount: flow.couponId ? ctx.t('couponChosen') : '', balance }), buttons }];
}

async function pay(ctx: Ctx, flow: BuyFlow, method: 'balance' | 'stars'): Promise<Reply[]> {
  if (!flow.skuId || !flow.quantity) return [{ text: ctx.t('expired'), buttons: [backRow(ctx)] }];
  let placed: PlacedOrder;
  try {
    placed = await placeOrder(ctx, { flowId: flow.id, skuId: flow.skuId, quantity: flow.quantity, couponId: flow.couponId ?? undefined, payment: method });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const refusal = refusalText(ctx, err, flow);
    if (refusal) return [{ text: await refusal, buttons: [backRow(ctx)] }];
    throw err;
  }
  flow.orderId = placed.order.id;
  if (placed.replay) return alreadyDone(ctx, placed.order.id);
  return delivered(ctx, placed);
}

function refusalText(ctx: Ctx, err: AppError, flow: BuyFlow): Promise<string> | null {
  switch (err.code) {
    case 'RISK_BLOCKED':
      return Promise.resolve(ctx.t('riskBlocked'));
    case 'CHALLENGE_REQUIRED':
      return Promise.resolve(ctx.t('riskChallenge'));
    case 'OUT_OF_STOCK':
      return Promise.resolve(ctx.t('outOfStock'));
    case 'UNPROCESSABLE':
    case 'CONFLICT':
      if (!/balance|insufficient|funds/i.test(err.message)) return null;
      return (async () => {
        const sku = await ctx.s.catalog.getSku(flow.skuId ?? '');
        return ctx.t('insufficient', { balance: yuan(await balanceOf(ctx)), total: yuan(sku.retailPriceFen * (flow.quantity ?? 1)) });
      })();
    default:
      return null;
  }
}

/** The receipt; the codes go to this chat when it is private, else to the user's private chat (elsewhere). */
function delivered(ctx: Ctx, placed: PlacedOrder): Reply[] {
  const { order } = placed;
  if (placed.reviewDecisionId || order.status === 'held_for_review') return [{ text: ctx.t('paidHeld', { order: order.id }), buttons: [backRow(ctx)] }];
  if (placed.invoiceLink) return [{ text: ctx.t('starsInvoice', { order: order.id }), invoiceLink: placed.invoiceLink }];
  if (!placed.codes.length) return [{ text: ctx.t('paidPending', { order: order.id }), buttons: [backRow(ctx)] }];
  const codes = codesReply(ctx, ctx.t('paid', { order: order.id, amount: yuan(order.amount_fen) }), placed.codes, placed.usageInstructions);
  if (ctx.place.kind === 'private') return [codes];
  ctx.elsewhere.push({ place: privateChatOf(ctx.user, ctx.place), user: ctx.user, replies: [codes] });
  return [{ text: ctx.t('groupNoCodes', { name: ctx.user.displayName ?? '' }) }];
}

async function alreadyDone(ctx: Ctx, orderId: string): Promise<Reply[]> {
  return [{ text: ctx.t('alreadyDone', { order: orderId }), buttons: [[btn(ctx.t('btnCodes'), 'codes', 'o', orderId)], backRow(ctx)] }];
}
