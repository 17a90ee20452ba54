import type { Chat, Update, User } from 'grammy/types';
import type { ChatPlace, ChatUser, Inbound } from '../core/types.js';

/** Telegram update -> the core's Inbound. Pure. */

export function chatUser(from: User): ChatUser {
  const name = [from.first_name, from.last_name].filter(Boolean).join(' ') || from.username;
  return { provider: 'telegram', externalId: String(from.id), ...(name ? { displayName: name } : {}), ...(from.language_code ? { languageHint: from.language_code } : {}) };
}

export function chatPlace(chat: Pick<Chat, 'id' | 'type'>): ChatPlace {
  return { channel: 'telegram', chatId: String(chat.id), kind: chat.type === 'private' ? 'private' : 'group' };
}

/**
 * "/cmd@ourbot args" -> "/cmd args"; a command addressed to another bot in a
 * group -> null (not ours). Anything else is left as it is.
 */
export function normaliseCommand(text: string, botUsername: string | undefined): string | null {
  const m = /^\/([A-Za-z0-9_]+)@([A-Za-z0-9_]+)(.*)$/s.exec(text);
  if (!m) return text;
  if (botUsername && m[2]!.toLowerCase() !== botUsername.toLowerCase()) return null;
  return `/${m[1]}${m[3]}`;
}

/** The platform message id the core dedupes by: update ids are unique per bot and stay the same when Telegram redelivers. */
export const messageIdOf = (update: Pick<Update, 'update_id'>) => `u${update.update_id}`;

/**
 * In a group, only what is meant for the bot: a command, a mention of it, or
 * a reply to one of its messages (the mention removed). With privacy mode off
 * the bot sees every message; the group's chatter is not a conversation with it.
 */
export function groupText(text: string, bot: { username?: string; id?: number }, replyToId?: number): string | null {
  if (text.startsWith('/')) return text;
  const mention = bot.username ? new RegExp(`@${bot.username}\\b`, 'i') : null;
  if (mention?.test(text)) return text.replace(mention, '').replace(/\s+/g, ' ').trim();
  return bot.id !== undefined && replyToId === bot.id ? text : null;
}

/** A text message or a button press from a person; null for anything else (edits, service messages, other bots, channel posts). */
export function inboundOf(update: Update, botUsername?: string, receivedAt?: Date, botId?: number): Inbound | null {
  const base = { messageId: messageIdOf(update), ...(receivedAt ? { receivedAt } : {}) };
  const msg = update.message;
  if (msg && msg.from && !msg.from.is_bot && typeof msg.text === 'string') {
    const addressed = msg.chat.type === 'private' ? msg.text.trim() : groupText(msg.text.trim(), { username: botUsername, id: botId }, msg.reply_to_message?.from?.id);
    const text = addressed === null ? null : normaliseCommand(addressed, botUsername);
    if (text === null || text === '') return null;
    return { ...base, user: chatUser(msg.from), place: chatPlace(msg.chat), payload: { type: 'text', text } };
  }
  const cb = update.callback_query;
  if (cb && !cb.from.is_bot && typeof cb.data === 'string' && cb.message) {
    return { ...base, user: chatUser(cb.from), place: chatPlace(cb.message.chat), payload: { type: 'button', data: cb.data } };
  }
  return null;
}
