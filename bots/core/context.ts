import type { Platform } from '../../src/platform.js';
import type { Services } from '../../src/services.js';
import type { ChatPlace, ChatUser, HandleResult, Inbound, Locale, Reply, ReplyButton } from './types.js';
import type { SessionData } from './session.js';
import { text, type TextKey, type TextParams } from './texts.js';

export interface CoreOptions {
  /** The admin chat (defaults to config ADMIN_ALERT_TELEGRAM_CHAT_ID on Telegram). */
  adminChat?: { channel: ChatPlace['channel']; chatId: string };
  /** Where share links point (defaults to config PUBLIC_URL). */
  publicUrl?: string;
  /** Telegram bot username, for deep links t.me/<bot>?start=ref_XXX. */
  telegramBotUsername?: string;
}

/** Everything a feature handler sees for one inbound message. */
export interface Ctx {
  p: Platform;
  s: Services;
  opts: CoreOptions;
  inbound: Inbound;
  user: ChatUser;
  place: ChatPlace;
  /** mutable: saved after the handler returns */
  session: SessionData;
  locale: Locale;
  customerId: string;
  /** a new customer was created by this message */
  created: boolean;
  t(key: TextKey, params?: TextParams): string;
  /** messages for other places (codes to the private chat when asked from a group) */
  elsewhere: NonNullable<HandleResult['elsewhere']>;
}

export type Handler = (ctx: Ctx, args: string[]) => Promise<Reply[]>;

/**
 * A feature is a small composer: the commands it answers (with their Chinese
 * words), the button data prefixes it owns, and the free-text questions it
 * asked (session.awaiting). The engine combines them; no feature knows another's.
 */
export interface Feature {
  name: string;
  /** command word (without "/", lower case, or a Chinese word) -> handler; args are the following words */
  commands?: Record<string, Handler>;
  /** first segment of button data ("buy" in "buy:sku:<flow>:<id>") -> handler; args are the other segments */
  buttons?: Record<string, Handler>;
  /** session.awaiting value -> handler; args is [the whole text] */
  answers?: Partial<Record<NonNullable<SessionData['awaiting']>, Handler>>;
}

export const btn = (label: string, ...data: string[]): ReplyButton => ({ label, data: data.join(':') });

export function textFor(locale: Locale) {
  return (key: TextKey, params?: TextParams) => text(locale, key, params);
}

/** The main menu buttons, for any reply that ends a step. */
export function menuButtons(ctx: Ctx): ReplyButton[][] {
  const rows = [
    [btn(ctx.t('btnCatalog'), 'cat'), btn(ctx.t('btnOrders'), 'ord')],
    [btn(ctx.t('btnCodes'), 'codes'), btn(ctx.t('btnRedeem'), 'redeem')],
    [btn(ctx.t('btnAgent'), 'agent'), btn(ctx.t('btnHelp'), 'help'), btn(ctx.t('btnLang'), 'lang')],
  ];
  const admin = ctx.opts.adminChat;
  if (admin && admin.channel === ctx.place.channel && admin.chatId === ctx.place.chatId) rows.push([btn(ctx.t('btnAdmin'), 'adm')]);
  return rows;
}

export const backRow = (ctx: Ctx): ReplyButton[] => [btn(ctx.t('btnBack'), 'menu')];
