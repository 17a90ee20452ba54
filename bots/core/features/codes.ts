import type { DeliveredCode } from '../../../src/modules/orders/service.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import type { Reply } from '../types.js';
import { yuan } from '../texts.js';

/** My orders and my codes (the wallet): codes are read through orders.revealCodes with the buyer as viewer, and only in a private chat. */
export const codesFeature: Feature = {
  name: 'codes',
  commands: {
    orders: (ctx) => myOrders(ctx),
    我的订单: (ctx) => myOrders(ctx),
    订单: (ctx) => myOrders(ctx),
    codes: (ctx, args) => (args[0] ? orderCodes(ctx, args[0]) : myCodes(ctx)),
    我的卡券: (ctx) => myCodes(ctx),
    卡券: (ctx) => myCodes(ctx),
    wallet: (ctx) => myCodes(ctx),
  },
  buttons: {
    ord: (ctx) => myOrders(ctx),
    codes: (ctx, [kind, orderId]) => (kind === 'o' && orderId ? orderCodes(ctx, orderId) : myCodes(ctx)),
  },
};

const LIST_SIZE = 10;
const deliveredStates = new Set(['delivered', 'partially_delivered']);

/** One reply with the codes as its secret part (one code per line: card number and secret) and the SKU's usage instructions. */
export function codesReply(ctx: Ctx, title: string, codes: DeliveredCode[], usageInstructions: string): Reply {
  const lines = codes.map((c) => (c.card_number ? `${c.card_number} ${c.secret}` : c.secret));
  const usage = usageInstructions.trim() ? `\n${ctx.t('usage', { usage: usageInstructions.trim() })}` : '';
  return { text: `${title}${usage}`, secret: { text: lines.join('\n'), codeIds: codes.map((c) => c.code_id) }, buttons: [backRow(ctx)] };
}

async function recentOrders(ctx: Ctx) {
  return (await ctx.s.orders.list({ limit: LIST_SIZE, buyer: { type: 'customer', id: ctx.customerId } })).data;
}

async function myOrders(ctx: Ctx): Promise<Reply[]> {
  const list = await recentOrders(ctx);
  if (!list.length) return [{ text: ctx.t('ordersEmpty'), buttons: [backRow(ctx)] }];
  const skuNames = await skuNamesOf(ctx, list.map((o) => o.sku_id));
  const lines = list.map((o) => ctx.t('orderLine', { order: o.id, sku: skuNames.get(o.sku_id) ?? o.sku_id, qty: o.quantity, total: yuan(o.amount_fen), status: o.status }));
  return [{ text: [ctx.t('ordersTitle'), ...lines].join('\n'), buttons: [backRow(ctx)] }];
}

async function myCodes(ctx: Ctx): Promise<Reply[]> {
  const list = (await recentOrders(ctx)).filter((o) => deliveredStates.has(o.status));
  if (!list.length) return [{ text: ctx.t('codesEmpty'), buttons: [backRow(ctx)] }];
  const skuNames = await skuNamesOf(ctx, list.map((o) => o.sku_id));
  return [{ text: ctx.t('codesTitle'), buttons: [...list.map((o) => [btn(`${skuNames.get(o.sku_id) ?? o.sku_id} × ${o.quantity} · ${o.created_at.slice(0, 10)}`, 'codes', 'o', o.id)]), backRow(ctx)] }];
}

async function orderCodes(ctx: Ctx, orderId: string): Promise<Reply[]> {
  // Never in a group, not even the user's own codes: others read along.
  if (ctx.place.kind !== 'private') return [{ text: ctx.t('codesGroup') }];
  const codes = await ctx.s.orders.revealCodes(orderId, { buyer: { type: 'customer', id: ctx.customerId } });
  const order = await ctx.s.orders.get(orderId);
  const sku = await ctx.s.catalog.getSku(order.sku_id);
  if (!codes.length) return [{ text: ctx.t('codesEmpty'), buttons: [backRow(ctx)] }];
  return [codesReply(ctx, ctx.t('codesOf', { order: orderId }), codes, sku.usageInstructions)];
}

/** "Product SKU" names of the SKUs. */
async function skuNamesOf(ctx: Ctx, ids: string[]): Promise<Map<string, string>> {
  const skus = await ctx.s.catalog.listSkus([...new Set(ids)]);
  const products = new Map<string, string>();
  for (const pid of new Set(skus.map((s) => s.product_id))) products.set(pid, (await ctx.s.catalog.getProduct(pid)).name);
  return new Map(skus.map((s) => [s.id, `${products.get(s.product_id) ?? ''} ${s.name}`.trim()]));
}
