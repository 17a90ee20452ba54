import type { Platform } from '../../src/platform.js';
import type { ChannelSender, ChatCore, ChatPlace, ChatUser, Inbound, OutboundMessage } from '../core/types.js';
import { createWechatConversation } from './conversation.js';
import { splitForWechat } from './render.js';

/**
 * The part the Official Account and WeCom callbacks share once a message is
 * verified and decrypted: XML fields -> Inbound -> core -> one passive text
 * reply. WeChat waits 5 seconds for the passive reply and takes one message;
 * what does not fit (a long list of codes) or is not ready in time goes out
 * afterwards as customer-service messages through the outbound queue.
 */

/** The outbound queue as the callbacks use it (bots/core/outbound.ts). */
export interface OutboundPort {
  enqueue(tx: undefined, m: OutboundMessage): Promise<unknown>;
  noteInbound(place: Pick<ChatPlace, 'channel' | 'chatId'>): Promise<void>;
  registerSender?(sender: ChannelSender): void;
}

export interface CallbackDeps {
  /** Queue for answers that do not fit the passive reply; without it they go `sendLater` directly. */
  outbound?: OutboundPort;
  /** Direct customer-service sending (the Official Account sender), used without a queue. */
  sendLater?: (openid: string, texts: string[]) => Promise<void>;
  /** Time the core may take before the passive reply gives up (WeChat waits 5 s). */
  replyBudgetMs?: number;
}

export type CallbackChannel = 'wechat_oa' | 'wecom';

/** What a WeChat message asks of the core: text, or a start with a referral from a parametric QR code. */
export function inboundText(fields: Record<string, string>): string | null {
  const type = fields.MsgType;
  if (type === 'text') return (fields.Content ?? '').trim() || null;
  if (type !== 'event') return null;
  const event = (fields.Event ?? '').toLowerCase();
  const key = fields.EventKey ?? '';
  // A parametric QR code (the agent's poster): "qrscene_ref_X" on follow, "ref_X" when already following.
  if (event === 'subscribe') return key.startsWith('qrscene_') ? `/start ${key.slice('qrscene_'.length)}` : '/start';
  if (event === 'scan') return key ? `/start ${key}` : null;
  // Menu buttons of the account carry a command word ("菜单", "我的卡券").
  if (event === 'click') return key || null;
  return null;
}

export function createCallbackHandler(p: Platform, core: ChatCore, channel: CallbackChannel, deps: CallbackDeps = {}) {
  const conversation = createWechatConversation(p, core);
  const budget = deps.replyBudgetMs ?? 4000;

  async function later(place: ChatPlace, user: ChatUser, texts: string[], key: string): Promise<void> {
    if (texts.length === 0) return;
    if (deps.outbound) {
      await deps.outbound.enqueue(undefined, { place, user, replies: texts.map((text) => ({ text })), reason: `${channel}.answer`, dedupeKey: `${channel}:${key}` });
    } else if (deps.sendLater && channel === 'wechat_oa') {
      await deps.sendLater(place.chatId, texts);
    } else {
      p.logger.warn({ channel, parts: texts.length }, 'wechat callback: an answer did not fit the passive reply and there is no way to send the rest');
    }
  }

  /**
   * Answers one verified message: the passive reply's text, or null for the
   * empty "success" answer (nothing to say, a duplicate, or late).
   */
  async function answer(fields: Record<string, string>): Promise<string | null> {
    const text = inboundText(fields);
    const from = fields.FromUserName;
    if (!text || !from) return null;
    const user: ChatUser = { provider: channel === 'wecom' ? 'wecom_userid' : 'wechat_openid', externalId: from, languageHint: 'zh_CN' };
    const place: ChatPlace = { channel, chatId: from, kind: 'private' };
    // Events carry no MsgId: WeChat's advice is FromUserName + CreateTime.
    const messageId = fields.MsgId || `${from}:${fields.CreateTime ?? ''}:${fields.Event ?? ''}`;
    if (deps.outbound) await deps.outbound.noteInbound(place).catch((err: unknown) => p.logger.error({ err }, 'wechat callback: noteInbound failed'));
    const inbound: Inbound = { user, place, payload: { type: 'text', text }, messageId, receivedAt: p.clock.now() };

    const work = conversation.handle(inbound).then(async (a) => {
      // Everything for this user goes here; other places (rare on these channels) through the queue.
      const mine = [...a.here, ...a.elsewhere.filter((e) => e.place.channel === channel && e.place.chatId === from).flatMap((e) => e.texts)];
      for (const [i, e] of a.elsewhere.entries()) if (!(e.place.channel === channel && e.place.chatId === from)) await later(e.place, e.user, e.texts, `${messageId}:e${i}`);
      return mine;
    });
    let timer: NodeJS.Timeout | undefined;
    const late = Symbol('late');
    const first = await Promise.race([work, new Promise<typeof late>((resolve) => (timer = setTimeout(() => resolve(late), budget)))]).finally(() => clearTimeout(timer));
    if (first === late) {
      // Too slow for the passive reply: the whole answer follows as customer-service messages.
      void work.then((texts) => later(place, user, texts, `${messageId}:late`)).catch((err: unknown) => p.logger.error({ err, channel }, 'wechat callback: late answer failed'));
      return null;
    }
    if (first.length === 0) return null;
    const parts = splitForWechat(first.join('\n\n'));
    await later(place, user, parts.slice(1), `${messageId}:rest`);
    return parts[0] ?? null;
  }

  return { answer };
}
