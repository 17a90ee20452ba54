import type { Platform } from '../src/platform.js';
import type { Services } from '../src/services.js';
import { createChatCore } from './core/core.js';
import { createTelegramChannel, telegramSenderFor, type TelegramChannel } from './telegram/index.js';
import { startWechatyBot, type WechatyBot } from './wechat/wechaty.js';

/**
 * The chat channels of one running instance (src/main.ts): the Telegram bot
 * (long polling in development; in webhook mode the route is in the app and
 * Telegram is told where it is), the wechaty bot when a puppet is
 * configured, and the outbound queue with every sender this instance has
 * (the Official Account's is registered with its webhook route), so codes
 * after external payments, announcements and long answers leave at once
 * instead of at the next job run.
 */
export async function startChatChannels(p: Platform, s: Services): Promise<{ stop(): Promise<void> }> {
  const log = p.logger;
  const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const telegramSender = telegramSenderFor(p);
  if (telegramSender) s.outbound.registerSender(telegramSender);

  let telegram: TelegramChannel | null = null;
  if (p.config.telegramBot) {
    telegram = createTelegramChannel(p, s);
    if (p.config.telegramBot.mode === 'polling') void telegram.startPolling().catch((err: unknown) => log.error({ err: reason(err) }, 'telegram polling stopped'));
    else await telegram.setWebhook().catch((err: unknown) => log.error({ err: reason(err) }, 'telegram setWebhook failed'));
  }

  let wechaty: WechatyBot | null = null;
  if (p.config.wechatBots.wechaty) {
    wechaty = await startWechatyBot(p, createChatCore(p, s)).catch((err: unknown) => {
      log.error({ err: reason(err) }, 'wechaty did not start');
      return null;
    });
    if (wechaty) s.outbound.registerSender(wechaty.sender);
  }

  s.outbound.start();
  return {
    async stop() {
      await telegram?.stop();
      await wechaty?.stop();
      await s.outbound.stop();
    },
  };
}
