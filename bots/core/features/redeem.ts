import { randomBytes } from 'node:crypto';
import { AppError } from '../../../src/lib/errors.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import { gateInputOfChat } from '../place-order.js';
import type { Reply } from '../types.js';
import { yuan } from '../texts.js';
import { codesReply } from './codes.js';

/**
 * Redeem a CDK ("/redeem CODE", "兑换 CODE", or the button then the code).
 * Goes through cdk.redeem like POST /open/v1/cdks/redeem: the lockout after
 * repeated failures, the risk gate and the failure counters are inside it.
 */
export const redeemFeature: Feature = {
  name: 'redeem',
  commands: {
    redeem: (ctx, args) => (args[0] ? redeem(ctx, args[0]) : ask(ctx)),
    兑换: (ctx, args) => (args[0] ? redeem(ctx, args[0]) : ask(ctx)),
  },
  buttons: { redeem: (ctx) => ask(ctx) },
  answers: { redeem: (ctx, [text]) => redeem(ctx, (text ?? '').trim()) },
};

async function ask(ctx: Ctx): Promise<Reply[]> {
  ctx.session.awaiting = 'redeem';
  return [{ text: ctx.t('askRedeem'), buttons: [[btn(ctx.t('btnCancel'), 'cancel')]] }];
}

async function redeem(ctx: Ctx, code: string): Promise<Reply[]> {
  delete ctx.session.awaiting;
  // A code typed in a group is seen by everybody; a product reward's codes must not land there either.
  if (ctx.place.kind !== 'private') return [{ text: ctx.t('groupOpenPrivate') }];
  try {
    const r = await ctx.s.cdk.redeem({
      code,
      customer: { id: ctx.customerId },
      apiKeyOwner: `bot_${ctx.place.channel}`,
      // The message is the attempt: a redelivered message is deduped before this; a new message is a new attempt.
      idempotencyKey: `redeem:${ctx.inbound.messageId ?? randomBytes(8).toString('hex')}`,
      ...gateInputOfChat(ctx.user, ctx.place),
    });
    const reward = r.reward;
    const what = !reward
      ? ''
      : reward.kind === 'points'
        ? `+${reward.points ?? 0} points`
        : reward.amount_fen !== undefined
          ? `¥${yuan(reward.amount_fen)}`
          : reward.coupon_id
            ? `coupon ${reward.coupon_id}`
            : reward.order_id
              ? `order ${reward.order_id}`
              : reward.kind;
    const title = ctx.t('redeemed', { reward: what });
    if (r.codes.length) {
      const order = reward?.order_id ? await ctx.s.orders.get(reward.order_id) : null;
      const usage = order ? (await ctx.s.catalog.getSku(order.sku_id)).usageInstructions : '';
      return [codesReply(ctx, title, r.codes, usage)];
    }
    return [{ text: title, buttons: [backRow(ctx)] }];
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return [{ text: ctx.t('redeemFailed', { reason: reasonOf(ctx, err) }), buttons: [backRow(ctx)] }];
  }
}

/** The refusal in the user's language, from the error's code and its field detail's reason (cdk-redeem.ts). */
function reasonOf(ctx: Ctx, err: AppError): string {
  if (err.code === 'RISK_BLOCKED') return ctx.t('riskBlocked');
  if (err.code === 'CHALLENGE_REQUIRED') return ctx.t('riskChallenge');
  if (err.code === 'RATE_LIMITED') return ctx.t('redeemLocked');
  const detail = Array.isArray(err.details) ? (err.details[0] as { reason?: string; message?: string } | undefined) : undefined;
  switch (detail?.reason) {
    case 'unknown':
      return ctx.t('redeemUnknown');
    case 'used':
      return ctx.t('redeemUsed');
    case 'expired':
      return ctx.t('redeemExpired');
    case 'voided':
      return ctx.t('redeemVoided');
    case 'not_started':
      return ctx.t('redeemNotStarted');
  }
  if (detail?.message?.includes('already redeemed')) return ctx.t('redeemMine');
  return err.message.replace(/^code:\s*/, '');
}
