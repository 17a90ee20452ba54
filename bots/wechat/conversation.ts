import type { Platform } from '../../src/platform.js';
import type { ChatCore, ChatPlace, ChatUser, Inbound } from '../core/types.js';
import { pickFromMenu, renderReplies } from './render.js';

/**
 * What every WeChat entry (wechaty, the Official Account, WeCom) does with one
 * inbound message: map a typed number back to the button of the last menu,
 * ask the core, render its replies as text, and remember the new menu. The
 * menu lives in the key-value store (Redis when configured) so any instance
 * can read the number the user types next.
 */
export interface WechatAnswer {
  /** Messages for the place the inbound came from. */
  here: string[];
  /** Messages for other places (codes to the private chat when a group asked). */
  elsewhere: { place: ChatPlace; user: ChatUser; texts: string[] }[];
}

const MENU_TTL_MS = 24 * 3600_000;

export function createWechatConversation(p: Platform, core: ChatCore) {
  const menuKey = (place: ChatPlace, user: ChatUser) => `wx:menu:${place.channel}:${place.chatId}:${user.provider}:${user.externalId}`;

  async function readMenu(place: ChatPlace, user: ChatUser): Promise<string[]> {
    const raw = await p.kv.get(menuKey(place, user));
    if (!raw) return [];
    try {
      const parsed: unknown = JSON.parse(raw);
      return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
    } catch {
      return [];
    }
  }

  /** The latest answer's menu replaces the previous one; an answer without buttons clears it, so a later "2" is text again. */
  async function saveMenu(place: ChatPlace, user: ChatUser, menu: string[]): Promise<void> {
    const key = menuKey(place, user);
    await p.kv.del(key);
    if (menu.length > 0) await p.kv.setIfAbsent(key, JSON.stringify(menu), MENU_TTL_MS);
  }

  /** Whether the user has a menu open here (a bare number in a group is only for the bot then). */
  async function hasMenu(place: ChatPlace, user: ChatUser): Promise<boolean> {
    return (await readMenu(place, user)).length > 0;
  }

  async function handle(inbound: Inbound): Promise<WechatAnswer> {
    let message = inbound;
    if (inbound.payload.type === 'text') {
      const data = pickFromMenu(inbound.payload.text, await readMenu(inbound.place, inbound.user));
      if (data !== undefined) message = { ...inbound, payload: { type: 'button', data } };
    }
    // The core drops a message id it has seen (a webhook delivered again) and answers nothing.
    const result = await core.handle(message);
    if (result.replies.length === 0 && !result.elsewhere?.length) return { here: [], elsewhere: [] };
    const locale = inbound.user.languageHint;
    const here = renderReplies(result.replies, { privateChat: inbound.place.kind === 'private', locale });
    if (here.withheldSecrets > 0) p.logger.warn({ channel: inbound.place.channel }, 'wechat: a secret addressed to a group was withheld');
    await saveMenu(inbound.place, inbound.user, here.menu);
    const elsewhere: WechatAnswer['elsewhere'] = [];
    for (const e of result.elsewhere ?? []) {
      const r = renderReplies(e.replies, { privateChat: e.place.kind === 'private', locale: e.user.languageHint ?? locale });
      if (r.menu.length > 0) await saveMenu(e.place, e.user, r.menu);
      elsewhere.push({ place: e.place, user: e.user, texts: r.texts });
    }
    return { here: here.texts, elsewhere };
  }

  return { handle, hasMenu, saveMenu };
}

export type WechatConversation = ReturnType<typeof createWechatConversation>;
