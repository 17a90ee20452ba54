import type { Api, Bot } from 'grammy';
import type { Update } from 'grammy/types';
import type { Platform } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import { createChatCore } from '../core/core.js';
import type { ChannelSender, ChatCore, OutboundMessage } from '../core/types.js';
import { createTelegramBot } from './bot.js';
import { createTelegramSender } from './send.js';
import { WEBHOOK_PATH } from './routes.js';

export { telegramBotRoutes, WEBHOOK_PATH } from './routes.js';
export { createTelegramSender, telegramSenderFor, TelegramSendError } from './send.js';

/** How long an update id stays claimed: Telegram gives up redelivering well within a day. */
const UPDATE_CLAIM_MS = 24 * 3600_000;
/** The webhook answers by then even if the update is still being handled (Telegram's own timeout is longer, but a slow answer backs up its queue). */
const DEFAULT_ANSWER_BUDGET_MS = 8_000;

export type WebhookOutcome = { statusCode: 200; outcome: 'handled' | 'duplicate' | 'payment' | 'late' } | { statusCode: 500; outcome: 'failed' | 'payment' };

export interface TelegramChannel {
  bot: Bot;
  api: Api;
  /** For the outbound queue. */
  sender: ChannelSender;
  /** One update from the webhook (secret already checked): claimed once across instances, payment updates to the payments module. */
  handleWebhookUpdate(update: Update, raw: { headers: Record<string, string | string[] | undefined>; rawBody: string }): Promise<WebhookOutcome>;
  /** Registers PUBLIC_URL/bots/telegram/webhook with the secret token (webhook mode, at start). */
  setWebhook(): Promise<void>;
  /** Long polling (development); resolves when stopped. */
  startPolling(): Promise<void>;
  stop(): Promise<void>;
}

export interface TelegramChannelOptions {
  /** The conversation core; by default createChatCore with the bot's username for deep links. */
  core?: ChatCore;
  /** Where replies that could not be sent at once go (the outbound queue). */
  undelivered?: (message: OutboundMessage) => Promise<void>;
  answerBudgetMs?: number;
}

export function createTelegramChannel(p: Platform, s: Services, opts: TelegramChannelOptions = {}): TelegramChannel {
  const config = p.config.telegramBot;
  if (!config) throw new Error('the Telegram bot is not configured (TELEGRAM_BOT_ENABLED)');
  const { bot, handleUpdate } = createTelegramBot(config, {
    core: (username) => opts.core ?? createChatCore(p, s, { telegramBotUsername: username }),
    kv: p.kv,
    logger: p.logger,
    payments: s.payments,
    undelivered: opts.undelivered,
  });
  const botId = config.botToken.split(':')[0]!;
  const budget = opts.answerBudgetMs ?? DEFAULT_ANSWER_BUDGET_MS;
  const log = p.logger;

  async function handleWebhookUpdate(update: Update, raw: { headers: Record<string, string | string[] | undefined>; rawBody: string }): Promise<WebhookOutcome> {
    const claim = `tg:update:${botId}:${update.update_id}`;
    if (!(await p.kv.setIfAbsent(claim, '1', UPDATE_CLAIM_MS))) return { statusCode: 200, outcome: 'duplicate' };
    const release = () => p.kv.del(claim).catch(() => undefined);

    // Stars: exactly what POST /payments/notify/stars does with the same update (secret checked again there).
    if (update.pre_checkout_query || update.message?.successful_payment) {
      if (!s.payments.configured('stars')) {
        log.warn({ update_id: update.update_id }, 'telegram: a Stars payment update but Stars payments are not configured');
        return { statusCode: 200, outcome: 'payment' };
      }
      const result = await s.payments.handleTelegramUpdate(raw.headers, raw.rawBody).catch((err: unknown) => {
        log.error({ update_id: update.update_id, err: err instanceof Error ? err.message : String(err) }, 'telegram: Stars update failed');
        return null;
      });
      if (result && result.ack.statusCode < 300) return { statusCode: 200, outcome: 'payment' };
      await release();
      return { statusCode: 500, outcome: 'payment' };
    }

    let timer: NodeJS.Timeout | undefined;
    const work = handleUpdate(update).then(
      () => 'handled' as const,
      (err: unknown) => err,
    );
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), budget)));
    const first = await Promise.race([work, late]);
    clearTimeout(timer);
    if (first === 'handled') return { statusCode: 200, outcome: 'handled' };
    if (first === 'late') {
      // Answered now; the claim stays, so a redelivery meanwhile is not handled twice.
      void work.then((r) => r !== 'handled' && log.error({ update_id: update.update_id, err: errorMessage(r) }, 'telegram: update failed after the webhook was answered'));
      return { statusCode: 200, outcome: 'late' };
    }
    log.error({ update_id: update.update_id, err: errorMessage(first) }, 'telegram: update failed, Telegram will deliver it again');
    await release();
    return { statusCode: 500, outcome: 'failed' };
  }

  return {
    bot,
    api: bot.api,
    sender: createTelegramSender(bot.api, p.logger),
    handleWebhookUpdate,
    async setWebhook() {
      if (!config.webhookSecret) throw new Error('TELEGRAM_WEBHOOK_SECRET is required for the webhook');
      await bot.api.setWebhook(`${p.config.publicUrl.replace(/\/+$/, '')}${WEBHOOK_PATH}`, { secret_token: config.webhookSecret, allowed_updates: ['message', 'callback_query', 'pre_checkout_query'] });
    },
    async startPolling() {
      // A webhook left from a production run would make getUpdates fail.
      await bot.api.deleteWebhook();
      await bot.start({ allowed_updates: ['message', 'callback_query', 'pre_checkout_query'], onStart: (me) => log.info({ bot: me.username }, 'telegram bot polling') });
    },
    async stop() {
      if (bot.isRunning()) await bot.stop();
    },
  };
}

/** The message of a failure, never the error object (grammy's carries the request payload). */
function errorMessage(err: unknown): string {
  const inner = err && typeof err === 'object' && 'error' in err ? (err as { error: unknown }).error : err;
  return inner instanceof Error ? inner.message : String(inner);
}
