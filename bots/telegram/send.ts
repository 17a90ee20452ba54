import { Api, GrammyError, HttpError, InputFile } from 'grammy';
import type { Logger } from '../../src/lib/logger.js';
import type { Platform } from '../../src/platform.js';
import { RetryAfter, type ChannelSender, type ChatPlace, type ChatUser, type OutboundMessage, type Reply } from '../core/types.js';
import { planReplies, type PlannedMessage } from './render.js';

/**
 * Performs a render plan through the Bot API. Errors leave here as
 * TelegramSendError (or RetryAfter on a 429): never grammy's own error, whose
 * `payload` holds the message text, so a code cannot reach a log through it.
 */
export class TelegramSendError extends Error {
  override readonly name = 'TelegramSendError';
  constructor(
    readonly method: string,
    /** Telegram's error_code; undefined when no answer came. */
    readonly errorCode: number | undefined,
    readonly description: string,
    /** How many planned messages were sent before this one failed. */
    readonly sent: number,
  ) {
    super(`Telegram ${method}: ${errorCode ?? 'no answer'} ${description}`);
  }
  /** The user never opened a private chat with the bot, or blocked it (403), or the chat is gone. */
  get unreachable(): boolean {
    return this.errorCode === 403 || (this.errorCode === 400 && /chat not found/i.test(this.description));
  }
}

/** grammy's failure -> ours; a 429 with retry_after -> RetryAfter. */
export function cleanError(err: unknown, sent = 0): Error {
  if (err instanceof GrammyError) {
    const wait = err.parameters?.retry_after;
    if (err.error_code === 429 && typeof wait === 'number') return new RetryAfter(wait);
    return new TelegramSendError(err.method, err.error_code, err.description, sent);
  }
  if (err instanceof HttpError) return new TelegramSendError('?', undefined, err.message.replace(/bot\d+:[A-Za-z0-9_-]+/g, 'bot***'), sent);
  return err instanceof Error ? err : new Error(String(err));
}

async function sendOne(api: Api, chatId: string, m: PlannedMessage): Promise<void> {
  const reply_markup = m.keyboard?.length ? { inline_keyboard: m.keyboard } : undefined;
  if (m.kind === 'text') {
    await api.sendMessage(chatId, m.text, { ...(m.entities ? { entities: m.entities } : {}), ...(reply_markup ? { reply_markup } : {}), link_preview_options: { is_disabled: true } });
    return;
  }
  const photo = 'png' in m.photo ? new InputFile(m.photo.png, 'poster.png') : m.photo.url;
  await api.sendPhoto(chatId, photo, { ...(m.caption ? { caption: m.caption } : {}), ...(reply_markup ? { reply_markup } : {}) });
}

/**
 * Renders and sends replies to one place. A secret meant for anything but a
 * private chat is dropped here with a warning (codes never reach a group).
 */
export async function sendReplies(api: Api, logger: Logger, place: ChatPlace, replies: Reply[], user?: ChatUser): Promise<void> {
  const plan = planReplies(place, replies, user);
  for (const d of plan.dropped) logger.warn({ channel: 'telegram', chat_kind: place.kind, dropped: d.what, why: d.why, code_ids: d.codeIds }, d.what === 'secret' ? 'telegram: secret refused for a non-private chat' : 'telegram: part of a reply dropped');
  let sent = 0;
  for (const m of plan.messages) {
    try {
      await sendOne(api, place.chatId, m);
    } catch (err) {
      throw cleanError(err, sent);
    }
    sent++;
  }
}

/** The outbound queue's sender for Telegram: one OutboundMessage, rendered like a direct answer. */
export function createTelegramSender(api: Api, logger: Logger): ChannelSender {
  return {
    channel: 'telegram',
    async send(message: OutboundMessage) {
      if (message.place.channel !== 'telegram') throw new Error(`telegram sender given a ${message.place.channel} message`);
      await sendReplies(api, logger, message.place, message.replies, message.user);
    },
  };
}

/** The Telegram sender from configuration (TELEGRAM_BOT_ENABLED with its token and API root), or null when the bot is off. */
export function telegramSenderFor(p: Platform): ChannelSender | null {
  const c = p.config.telegramBot;
  if (!c) return null;
  return createTelegramSender(new Api(c.botToken, { apiRoot: c.apiRoot.replace(/\/+$/, ''), timeoutSeconds: 10 }), p.logger);
}
