import { Bot, Composer, type Api, type Context } from 'grammy';
import type { Update } from 'grammy/types';
import type { KeyValueStore } from '../../src/kv/index.js';
import type { Logger } from '../../src/lib/logger.js';
import type { PaymentService } from '../../src/modules/payments/service.js';
import type { ChatCore, ChatPlace, ChatUser, Inbound, OutboundMessage, Reply } from '../core/types.js';
import { chatPlace, chatUser, inboundOf, messageIdOf } from './inbound.js';
import { REVEAL_DATA, revealed } from './render.js';
import { sendReplies, TelegramSendError } from './send.js';

/**
 * The grammy bot: small composers per concern (payments, reveal, buttons,
 * start, text) over one core. Used by long polling (bot.start) and by the
 * webhook route (handleUpdate), the same way.
 */

export interface TelegramBotDeps {
  /** The core, made once the bot knows its own username (deep links). */
  core: (botUsername: string) => ChatCore;
  kv: KeyValueStore;
  logger: Logger;
  /** Stars updates (pre_checkout_query, successful_payment) go here, as /payments/notify/stars does. */
  payments?: Pick<PaymentService, 'preCheckout' | 'applyStarsPayment' | 'configured'>;
  /** Replies that could not be sent at once (429, network): handed to the outbound queue when there is one. */
  undelivered?: (message: OutboundMessage) => Promise<void>;
}

/** How long a revealed message stays marked so: longer than anyone keeps pressing an old button. */
const REVEAL_MARK_MS = 90 * 24 * 3600_000;

const zh = (user?: ChatUser) => (user?.languageHint ?? '').toLowerCase().startsWith('zh');
const texts = {
  alreadyRevealed: (u?: ChatUser) => (zh(u) ? '已经显示过了' : 'Already revealed'),
  revealFailed: (u?: ChatUser) => (zh(u) ? '暂时无法显示，请稍后再试' : 'Cannot reveal right now, please try again'),
  openPrivate: (u: ChatUser | undefined, bot: string) =>
    zh(u) ? `卡密只在私聊中发送。请先打开与 @${bot} 的私聊并发送 /start，然后再试一次。` : `Codes are only sent in a private chat. Please open a private chat with @${bot}, send /start, and try again.`,
  openPrivateButton: (u?: ChatUser) => (zh(u) ? '打开私聊' : 'Open private chat'),
};

export function createTelegramBot(config: { botToken: string; apiRoot: string }, deps: TelegramBotDeps): { bot: Bot; handleUpdate: (update: Update) => Promise<void> } {
  const { kv, logger } = deps;
  const bot = new Bot(config.botToken, { client: { apiRoot: config.apiRoot.replace(/\/+$/, ''), timeoutSeconds: 10 } });
  let core: ChatCore | undefined;
  const coreOf = () => (core ??= deps.core(bot.botInfo.username));

  /** Sends replies; what cannot be sent now goes to the outbound queue (or is logged when there is none). */
  async function deliver(api: Api, place: ChatPlace, replies: Reply[], user: ChatUser | undefined, dedupeKey: string): Promise<TelegramSendError | null> {
    if (!replies.length) return null;
    try {
      await sendReplies(api, logger, place, replies, user);
      return null;
    } catch (err) {
      const unreachable = err instanceof TelegramSendError && err.unreachable;
      logger.warn({ channel: 'telegram', chat_kind: place.kind, err: err instanceof Error ? err.message : String(err) }, 'telegram: reply not sent');
      if (!unreachable && deps.undelivered) await deps.undelivered({ place, ...(user ? { user } : {}), replies, reason: 'reply', dedupeKey });
      return err instanceof TelegramSendError ? err : null;
    }
  }

  /** One inbound message through the core, its answers back, and messages for other places (codes to a private chat). */
  async function converse(ctx: Context, inbound: Inbound): Promise<void> {
    // A core failure propagates: the webhook answers 500 and Telegram delivers the update again.
    const result = await coreOf().handle(inbound);
    const key = `tg:${messageIdOf(ctx.update)}`;
    await deliver(ctx.api, inbound.place, result.replies, inbound.user, `${key}:reply`);
    for (const [i, e] of (result.elsewhere ?? []).entries()) {
      if (e.place.channel !== 'telegram') {
        logger.warn({ channel: e.place.channel }, 'telegram: a reply for another channel ignored');
        continue;
      }
      const failed = await deliver(ctx.api, e.place, e.replies, e.user, `${key}:elsewhere:${i}`);
      // The user never started a private chat with the bot: tell them where to go, in the chat they asked from.
      if (failed?.unreachable) {
        const username = bot.botInfo.username;
        await deliver(ctx.api, inbound.place, [{ text: texts.openPrivate(inbound.user, username), url: { label: texts.openPrivateButton(inbound.user), href: `https://t.me/${username}?start=codes` } }], inbound.user, `${key}:open-private`);
      }
    }
  }

  // Stars payments (long polling; the webhook route hands them to the payments module before grammy sees them).
  const payments = new Composer();
  payments.on('pre_checkout_query', async (ctx) => {
    if (!deps.payments?.configured('stars')) return void logger.warn('telegram: pre_checkout_query but Stars payments are not configured');
    await deps.payments.preCheckout('stars', ctx.preCheckoutQuery);
  });
  payments.on('message:successful_payment', async (ctx) => {
    if (!deps.payments?.configured('stars')) return void logger.warn('telegram: successful_payment but Stars payments are not configured');
    const result = await deps.payments.applyStarsPayment(ctx.message);
    if (result.ack.statusCode >= 500) throw new Error(`telegram: Stars payment not applied (${result.outcome})`);
  });

  // The one-time reveal of a code sent behind a spoiler: the message is edited to plain text, the button removed.
  const reveal = new Composer();
  reveal.callbackQuery(REVEAL_DATA, async (ctx) => {
    const m = ctx.callbackQuery.message;
    const user = chatUser(ctx.callbackQuery.from);
    const next = m && m.date !== 0 && m.chat.type === 'private' && 'text' in m ? revealed(m) : null;
    if (!m || !next) return void (await ctx.answerCallbackQuery({ text: texts.alreadyRevealed(user) }));
    const mark = `tg:revealed:${m.chat.id}:${m.message_id}`;
    // Once across instances, even when the press is delivered twice.
    if (!(await kv.setIfAbsent(mark, '1', REVEAL_MARK_MS))) return void (await ctx.answerCallbackQuery({ text: texts.alreadyRevealed(user) }));
    try {
      await ctx.api.editMessageText(m.chat.id, m.message_id, next.text, { entities: next.entities, reply_markup: { inline_keyboard: next.keyboard }, link_preview_options: { is_disabled: true } });
    } catch (err) {
      await kv.del(mark);
      logger.warn({ channel: 'telegram', err: err instanceof Error ? err.message : String(err) }, 'telegram: reveal edit failed');
      return void (await ctx.answerCallbackQuery({ text: texts.revealFailed(user) }));
    }
    await ctx.answerCallbackQuery();
  });

  // Buttons the core sent: the spinner stops at once, then the core answers.
  const buttons = new Composer();
  buttons.on('callback_query:data', async (ctx) => {
    await ctx.answerCallbackQuery().catch(() => undefined);
    const inbound = inboundOf(ctx.update, ctx.me.username);
    if (inbound) await converse(ctx, inbound);
  });

  // Deep links t.me/<bot>?start=ref_XXX arrive as "/start ref_XXX": the core binds the referral.
  const start = new Composer();
  start.command('start', async (ctx) => {
    const from = ctx.from;
    if (!from || from.is_bot) return;
    const payload = ctx.match.trim();
    await converse(ctx, { user: chatUser(from), place: chatPlace(ctx.chat), payload: { type: 'text', text: payload ? `/start ${payload}` : '/start' }, messageId: messageIdOf(ctx.update) });
  });

  const text = new Composer();
  text.on('message:text', async (ctx) => {
    const inbound = inboundOf(ctx.update, ctx.me.username, undefined, ctx.me.id);
    if (inbound) await converse(ctx, inbound);
  });

  bot.use(payments, reveal, buttons, start, text);
  bot.catch((err) => logger.error({ channel: 'telegram', update_id: err.ctx.update.update_id, err: err.error instanceof Error ? err.error.message : String(err.error) }, 'telegram: update failed'));

  return {
    bot,
    /** One update (webhook): throws when it should be delivered again. */
    async handleUpdate(update) {
      if (!bot.isInited()) await bot.init();
      await bot.handleUpdate(update);
    },
  };
}
