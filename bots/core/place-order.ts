import { queryRows } from '../../src/db/raw.js';
import { AppError } from '../../src/lib/errors.js';
import { newId } from '../../src/lib/ids.js';
import { createIdempotency } from '../../src/modules/orders/idempotency.js';
import { refuseUnlessPassed } from '../../src/modules/risk/gate-http.js';
import type { AssessInput } from '../../src/modules/risk/service.js';
import type { DeliveredCode, OrderView } from '../../src/modules/orders/service.js';
import type { Ctx } from './context.js';
import type { ChatPlace, ChatUser } from './types.js';

export interface PlacedOrder {
  order: OrderView;
  /** the codes, when paid from balance and delivered now (never stored with the idempotent answer) */
  codes: DeliveredCode[];
  usageInstructions: string;
  /** true when this flow step had already placed the order (a double tap, a duplicated webhook) */
  replay: boolean;
  /** set when the risk gate held the order for review */
  reviewDecisionId?: string;
  /** Telegram Stars: the invoice to pay */
  invoiceLink?: string;
}

/** What the gate knows about a chat user: no IP or device, so the chat identity stands in for both (per-user counters, not one shared "bot IP"). */
export function gateInputOfChat(user: ChatUser, place: ChatPlace): Pick<AssessInput, 'ip' | 'deviceId' | 'deviceSignals' | 'telegramId' | 'openid'> {
  const id = `${user.provider}:${user.externalId}`;
  return {
    ip: `chat:${id}`,
    deviceId: `chat:${id}`,
    deviceSignals: { channel: place.channel, chat_kind: place.kind, ...(user.languageHint ? { language: user.languageHint.slice(0, 16) } : {}) },
    ...(user.provider === 'telegram' ? { telegramId: user.externalId } : {}),
    ...(user.provider === 'wechat_openid' ? { openid: user.externalId } : {}),
  };
}

/**
 * Places the customer's order like POST /open/v1/orders does, in one
 * transaction: the idempotency key (derived from the buy flow, so the same
 * step pressed twice or delivered twice places one order), the risk gate
 * (block and challenge refuse, review holds the order), the order with its
 * coupon, and where to deliver it later (delivery_target) when it is paid
 * outside the balance.
 */
export async function placeOrder(ctx: Ctx, input: { flowId: string; skuId: string; quantity: number; couponId?: string; payment: 'balance' | 'stars' }): Promise<PlacedOrder> {
  const { p, s } = ctx;
  const idempotency = createIdempotency(p);
  const buyer = { type: 'customer' as const, id: ctx.customerId };
  const scope = `bot:${ctx.customerId}:orders`;
  const key = `flow:${input.flowId}`;
  const request = { sku_id: input.skuId, quantity: input.quantity, coupon_id: input.couponId ?? null, payment: input.payment };
  // Codes delivered later (after an external payment) go to the buyer's private chat, never to a group.
  const deliveryTarget = { channel: ctx.place.channel, chat_id: privateChatOf(ctx.user, ctx.place).chatId, provider: ctx.user.provider, external_id: ctx.user.externalId, locale: ctx.locale };
  if (input.payment !== 'balance' && !s.payments.configured(input.payment)) throw new AppError('VALIDATION_FAILED', `payment: ${input.payment} is not configured here`, [{ field: 'payment', message: 'not configured' }]);
  const orderId = newId('ord', p.clock.now());
  let reviewDecisionId: string | undefined;
  await s.risk.warm();
  const result = await p.db.transaction(async (tx) => {
    const claimSt = idempotency.claimStatement(scope, key, request, { statusCode: 201, body: { order_id: orderId } });
    const prior = await idempotency.settleClaim(tx, await queryRows(tx, claimSt.text, claimSt.values), scope, key, request);
    if (prior) return { replay: true, orderId: (prior.body as { order_id: string }).order_id };
    const priorSt = s.orders.priorOrdersStatement(buyer);
    const [priorRow] = await queryRows<{ n: number }>(tx, priorSt.text, priorSt.values);
    const gate = async (priced: { amountFen: number; agentId?: string }) => {
      const d = await s.risk.assess({ action: 'order', ...gateInputOfChat(ctx.user, ctx.place), account: { type: 'customer', id: ctx.customerId }, amountFen: priced.amountFen, skuId: input.skuId, agentId: priced.agentId, priorOrders: Number(priorRow?.n ?? 0) });
      const verdict = refuseUnlessPassed(d);
      if (verdict === 'review') {
        reviewDecisionId = d.decision_id;
        await s.riskReviews.open(tx, { subjectType: 'order', subjectId: orderId, decisionId: d.decision_id });
      }
      return verdict;
    };
    const order = await s.orders.createOrder(
      { buyer, skuId: input.skuId, quantity: input.quantity, channel: `bot_${ctx.place.channel}`, payment: input.payment === 'balance' ? 'balance' : 'external', provider: input.payment, revealNow: true, orderId, gate, couponId: input.couponId, deliveryTarget },
      tx,
    );
    return { replay: false, orderId: order.id, codes: order.deliveredCodes, usage: order.usageInstructions };
  });
  const order = await s.orders.get(result.orderId);
  const usageInstructions = 'usage' in result && result.usage !== undefined ? result.usage : (await s.catalog.getSku(order.sku_id)).usageInstructions;
  let invoiceLink: string | undefined;
  if (input.payment === 'stars' && order.status === 'pending_payment') {
    const started = await s.payments.start(order.id, 'stars', { telegramUserId: ctx.user.externalId });
    const link = (started.client_params as { invoice_link?: unknown } | undefined)?.invoice_link;
    if (typeof link === 'string') invoiceLink = link;
  }
  return { order, codes: ('codes' in result ? result.codes : undefined) ?? [], usageInstructions, replay: result.replay, reviewDecisionId, invoiceLink };
}

/** The user's private chat on the same channel (Telegram: the chat id is the user id; wechaty: the contact id; the OA: the openid). */
export function privateChatOf(user: ChatUser, place: ChatPlace): ChatPlace {
  return place.kind === 'private' ? place : { channel: place.channel, chatId: user.externalId, kind: 'private' };
}
