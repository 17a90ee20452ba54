import { AppError } from '../../../src/lib/errors.js';
import { backRow, btn, type Ctx, type Feature } from '../context.js';
import type { TextKey } from '../texts.js';
import type { Reply } from '../types.js';
import { codesReply } from './codes.js';

/**
 * Gifts from the wallet: "gift" / "赠送" lists the user's giftable codes as
 * buttons; a button makes the gift and answers with the card text (claim link
 * and token) to forward; "claim TOKEN" / "领取 TOKEN" claims one. Everything
 * goes through services.wallet, like the open API's /open/v1/wallet routes.
 */
export const giftFeature: Feature = {
  name: 'gift',
  commands: {
    gift: (ctx) => pick(ctx),
    赠送: (ctx) => pick(ctx),
    claim: (ctx, args) => claim(ctx, args[0]),
    领取: (ctx, args) => claim(ctx, args[0]),
  },
  buttons: {
    // gift:c:<code> make a gift, gift:x:<gift> cancel it, gift:r:<code> show a code received
    gift: (ctx, [kind, id]) => (kind === 'c' && id ? give(ctx, id) : kind === 'x' && id ? cancel(ctx, id) : kind === 'r' && id ? show(ctx, id) : pick(ctx)),
  },
};

const LIST_SIZE = 10;

const reasons: Record<string, TextKey> = {
  GIFT_CLAIMED: 'giftReasonClaimed',
  GIFT_EXPIRED: 'giftReasonExpired',
  GIFT_CANCELLED: 'giftReasonCancelled',
  OWN_GIFT: 'giftReasonOwn',
  CODE_REVEALED: 'giftReasonRevealed',
  GIFT_PENDING: 'giftReasonPending',
};

/** A refusal the user can act on, in its words; anything else is rethrown (the core answers with its error code). */
function failed(ctx: Ctx, err: unknown): Reply[] {
  if (!(err instanceof AppError)) throw err;
  const detail = (err.details as { code?: string } | null)?.code;
  const key = err.code === 'NOT_FOUND' ? 'giftReasonUnknown' : (detail && reasons[detail]) || 'giftReasonOther';
  return [{ text: ctx.t('giftFailed', { reason: ctx.t(key) }), buttons: [backRow(ctx)] }];
}

async function pick(ctx: Ctx): Promise<Reply[]> {
  if (ctx.place.kind !== 'private') return [{ text: ctx.t('giftPrivate') }];
  const page = await ctx.s.wallet.list(ctx.customerId, { limit: 100 });
  const giftable = page.data.filter((c) => c.giftable).slice(0, LIST_SIZE);
  if (!giftable.length) return [{ text: ctx.t('giftNone'), buttons: [backRow(ctx)] }];
  const rows = giftable.map((c) => [btn(`${c.product_name} ${c.sku_name} ${c.secret_masked}${c.expires_at ? ` · ${c.expires_at.slice(0, 10)}` : ''}`, 'gift', 'c', c.id)]);
  return [{ text: ctx.t('giftPick'), buttons: [...rows, backRow(ctx)] }];
}

async function give(ctx: Ctx, codeId: string): Promise<Reply[]> {
  // The token in the answer claims the code: never in a group.
  if (ctx.place.kind !== 'private') return [{ text: ctx.t('giftPrivate') }];
  try {
    const { gift } = await ctx.s.wallet.give({ codeId, giverId: ctx.customerId });
    const until = gift.expires_at.slice(0, 16).replace('T', ' ');
    return [{ text: `${ctx.t('giftCreated', { until })}\n\n${gift.card_text}`, buttons: [[btn(ctx.t('btnCancelGift'), 'gift', 'x', gift.id)], backRow(ctx)] }];
  } catch (err) {
    return failed(ctx, err);
  }
}

async function cancel(ctx: Ctx, giftId: string): Promise<Reply[]> {
  try {
    await ctx.s.wallet.cancel(giftId, ctx.customerId);
    return [{ text: ctx.t('giftCancelled'), buttons: [backRow(ctx)] }];
  } catch (err) {
    return failed(ctx, err);
  }
}

async function claim(ctx: Ctx, token: string | undefined): Promise<Reply[]> {
  if (!token || !/^[A-Za-z0-9_-]{20,128}$/.test(token)) return [{ text: ctx.t('claimHow'), buttons: [backRow(ctx)] }];
  try {
    const { code_id } = await ctx.s.wallet.claim(token, ctx.customerId);
    const item = (await ctx.s.wallet.list(ctx.customerId, { limit: 100 })).data.find((c) => c.id === code_id);
    const product = item ? `${item.product_name} ${item.sku_name}`.trim() : code_id;
    return [{ text: ctx.t('giftClaimed', { product }), buttons: [[btn(ctx.t('btnShowCode'), 'gift', 'r', code_id)], backRow(ctx)] }];
  } catch (err) {
    return failed(ctx, err);
  }
}

/** A code of the user's wallet in clear (a gift received, which its order-based /codes list does not show): private chats only. */
async function show(ctx: Ctx, codeId: string): Promise<Reply[]> {
  if (ctx.place.kind !== 'private') return [{ text: ctx.t('codesGroup') }];
  try {
    const code = await ctx.s.wallet.reveal(codeId, ctx.customerId);
    return [codesReply(ctx, ctx.t('codesTitle'), [{ code_id: code.code_id, card_number: code.card_number, secret: code.secret }], code.usage_instructions)];
  } catch (err) {
    return failed(ctx, err);
  }
}
