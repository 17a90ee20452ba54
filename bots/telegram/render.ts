import type { InlineKeyboardButton, MessageEntity } from 'grammy/types';
import type { ChatPlace, ChatUser, Reply, ReplyButton } from '../core/types.js';

/**
 * Core replies -> the Bot API calls that show them. Pure: plans what to send
 * (testable without Telegram); bots/telegram/send.ts performs the plan.
 * Messages go as plain text with entities, never parse_mode, so nothing in a
 * product name or a code can break the markup.
 */

/** callback_data of the one-time reveal button; the core's button data never starts with "tg:". */
export const REVEAL_DATA = 'tg:reveal';
/** Telegram's limits (https://core.telegram.org/bots/api#sendmessage, #inlinekeyboardbutton). */
export const MAX_TEXT = 4096;
export const MAX_CAPTION = 1024;
export const MAX_CALLBACK_DATA_BYTES = 64;

export type PlannedMessage =
  | { kind: 'text'; text: string; entities?: MessageEntity[]; keyboard?: InlineKeyboardButton[][] }
  | { kind: 'photo'; photo: { url: string } | { png: Buffer }; caption?: string; keyboard?: InlineKeyboardButton[][] };

export interface Plan {
  messages: PlannedMessage[];
  /** What was left out and why (logged as warnings, never with the secret). */
  dropped: { what: 'secret' | 'button' | 'url'; why: string; codeIds?: string[] }[];
}

const zh = (user?: ChatUser) => (user?.languageHint ?? '').toLowerCase().startsWith('zh');
export const revealLabel = (user?: ChatUser) => (zh(user) ? '👁 显示卡密（仅一次）' : '👁 Reveal (once)');
const payLabel = (user?: ChatUser) => (zh(user) ? '⭐ 用 Telegram Stars 支付' : '⭐ Pay with Telegram Stars');

/** Telegram refuses URL buttons to hosts it cannot reach; such links go into the text instead. */
function buttonableUrl(href: string): boolean {
  try {
    const u = new URL(href);
    if (u.protocol === 'tg:') return true;
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return false;
    return !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$/i.test(u.hostname) && u.hostname.includes('.');
  } catch {
    return false;
  }
}

function keyboardOf(buttons: ReplyButton[][] | undefined, dropped: Plan['dropped']): InlineKeyboardButton[][] {
  const rows: InlineKeyboardButton[][] = [];
  for (const row of buttons ?? []) {
    const out: InlineKeyboardButton[] = [];
    for (const b of row) {
      const bytes = Buffer.byteLength(b.data);
      if (bytes < 1 || bytes > MAX_CALLBACK_DATA_BYTES) {
        dropped.push({ what: 'button', why: `callback_data of ${bytes} bytes (1-${MAX_CALLBACK_DATA_BYTES})` });
        continue;
      }
      out.push({ text: b.label, callback_data: b.data });
    }
    if (out.length) rows.push(out);
  }
  return rows;
}

/** Cuts text into pieces of at most `max` UTF-16 units, at line ends where possible, never inside a surrogate pair. */
export function splitText(text: string, max = MAX_TEXT): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n', max);
    if (cut < max / 2) cut = max;
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut--;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  if (rest.length) parts.push(rest);
  return parts;
}

/**
 * One reply -> messages. A secret is appended to the text as a spoiler
 * entity with the reveal button under it, only in a private chat: anywhere
 * else it is dropped (the core never sends one there; this is the last line).
 */
export function planReply(place: ChatPlace, reply: Reply, user?: ChatUser): Plan {
  const dropped: Plan['dropped'] = [];
  const messages: PlannedMessage[] = [];
  const keyboard = keyboardOf(reply.buttons, dropped);
  let text = reply.text;

  if (reply.url) {
    if (buttonableUrl(reply.url.href)) keyboard.push([{ text: reply.url.label, url: reply.url.href }]);
    else text = `${text}\n${reply.url.label}: ${reply.url.href}`;
  }
  if (reply.invoiceLink) {
    if (buttonableUrl(reply.invoiceLink)) keyboard.unshift([{ text: payLabel(user), url: reply.invoiceLink }]);
    else dropped.push({ what: 'url', why: 'invoice link is not an http(s) or tg link' });
  }

  let secret = reply.secret;
  if (secret && place.kind !== 'private') {
    dropped.push({ what: 'secret', why: `a secret for a ${place.kind} chat`, codeIds: secret.codeIds });
    secret = undefined;
  }

  if (reply.image) {
    const photo = reply.image.png ? { png: reply.image.png } : reply.image.url ? { url: reply.image.url } : null;
    if (photo) {
      // The reply's own text rides along as the caption when it fits and nothing else needs the message.
      const captionIsText = !reply.image.caption && !secret && text.length <= MAX_CAPTION;
      messages.push({ kind: 'photo', photo, caption: captionIsText ? text : reply.image.caption?.slice(0, MAX_CAPTION), keyboard: captionIsText && keyboard.length ? keyboard : undefined });
      if (captionIsText) return { messages, dropped };
    }
  }

  if (!secret) {
    const parts = splitText(text.length ? text : '…');
    parts.forEach((part, i) => messages.push({ kind: 'text', text: part, keyboard: i === parts.length - 1 && keyboard.length ? keyboard : undefined }));
    return { messages, dropped };
  }

  // The secret in spoilers, with the one-time reveal button first.
  const revealKeyboard = [[{ text: revealLabel(user), callback_data: REVEAL_DATA }], ...keyboard];
  const joined = `${text}\n\n${secret.text}`;
  if (joined.length <= MAX_TEXT) {
    messages.push({ kind: 'text', text: joined, entities: [{ type: 'spoiler', offset: text.length + 2, length: secret.text.length }], keyboard: revealKeyboard });
    return { messages, dropped };
  }
  // Too long for one message: the text first, then the secret in pieces, each all spoiler with its own reveal button.
  for (const part of splitText(text)) messages.push({ kind: 'text', text: part });
  const pieces = splitText(secret.text);
  pieces.forEach((piece, i) =>
    messages.push({ kind: 'text', text: piece, entities: [{ type: 'spoiler', offset: 0, length: piece.length }], keyboard: i === pieces.length - 1 ? revealKeyboard : [[{ text: revealLabel(user), callback_data: REVEAL_DATA }]] }),
  );
  return { messages, dropped };
}

export function planReplies(place: ChatPlace, replies: Reply[], user?: ChatUser): Plan {
  const plan: Plan = { messages: [], dropped: [] };
  for (const r of replies) {
    const one = planReply(place, r, user);
    plan.messages.push(...one.messages);
    plan.dropped.push(...one.dropped);
  }
  return plan;
}

/**
 * The revealed form of a message the reveal button sits under: the same text
 * without spoiler entities, and the keyboard without the reveal button.
 * Null when there is nothing (left) to reveal.
 */
export function revealed(message: { text?: string; entities?: MessageEntity[]; reply_markup?: { inline_keyboard: InlineKeyboardButton[][] } }): { text: string; entities: MessageEntity[]; keyboard: InlineKeyboardButton[][] } | null {
  if (!message.text || !(message.entities ?? []).some((e) => e.type === 'spoiler')) return null;
  const keyboard = (message.reply_markup?.inline_keyboard ?? []).map((row) => row.filter((b) => !('callback_data' in b && b.callback_data === REVEAL_DATA))).filter((row) => row.length > 0);
  return { text: message.text, entities: (message.entities ?? []).filter((e) => e.type !== 'spoiler'), keyboard };
}
