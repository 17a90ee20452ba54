import { WechatyBuilder, type Wechaty, type WechatyOptions } from 'wechaty';
import type { MessageInterface } from 'wechaty/impls';
import type * as PUPPET from 'wechaty-puppet';
import type { Platform } from '../../src/platform.js';
import type { ChannelSender, ChatCore, ChatPlace, ChatUser, Inbound } from '../core/types.js';
import { createWechatConversation } from './conversation.js';
import { looksLikeCommand, renderReplies } from './render.js';

/**
 * The personal/group WeChat bot through wechaty. Which puppet talks to WeChat
 * is configuration (WECHATY_PUPPET, WECHATY_PUPPET_TOKEN); tests hand in
 * wechaty-puppet-mock. A private chat is a conversation with the contact; in a
 * room the bot only answers when mentioned or when the text is a command (or
 * a number picking from the menu it just showed that member), and codes never
 * go to the room: the core sends them `elsewhere`, to the member's private chat.
 *
 * Identity: a wechaty contact id becomes provider 'wechat_openid'. The
 * customers module has no separate provider for puppet contact ids; they are
 * stable per WeChat account (wxid_... on most puppets) and do not collide with
 * Official Account openids (which start with "o" and are 28 characters), so one
 * provider keeps the model small. A unionid cannot be learned from a puppet.
 */
export interface WechatyBotOptions {
  /** A puppet instance (tests: PuppetMock), or nothing to build the configured one. */
  puppet?: PUPPET.impls.PuppetInterface;
  /** Messages older than this when they arrive are history replayed after a login: ignored. */
  maxAgeSeconds?: number;
}

export interface WechatyBot {
  bot: Wechaty;
  /** For the outbound queue (channel 'wechat'): codes after an external payment, announcements to rooms. */
  sender: ChannelSender;
  /** Settles when every message received so far has been answered (tests wait on it). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export async function startWechatyBot(p: Platform, core: ChatCore, opts: WechatyBotOptions = {}): Promise<WechatyBot> {
  const configured = p.config.wechatBots.wechaty;
  let options: WechatyOptions;
  if (opts.puppet) options = { name: 'kaquan', puppet: opts.puppet };
  else if (configured) options = { name: 'kaquan', puppet: configured.puppet as NonNullable<Extract<WechatyOptions, { puppetOptions?: unknown }>['puppet']>, puppetOptions: configured.puppetToken ? { token: configured.puppetToken } : {} };
  else throw new Error('wechaty: no puppet given and WECHATY_PUPPET is not set');

  const bot = WechatyBuilder.build(options);
  const conversation = createWechatConversation(p, core);
  const maxAge = opts.maxAgeSeconds ?? 120;
  const pending = new Set<Promise<void>>();

  async function onMessage(message: MessageInterface): Promise<void> {
    if (message.self() || message.type() !== bot.Message.Type.Text) return;
    if (message.age() > maxAge) return;
    const talker = message.talker();
    const room = message.room();
    let text = message.text();
    const user: ChatUser = { provider: 'wechat_openid', externalId: talker.id, displayName: talker.name() || undefined, languageHint: 'zh_CN' };
    const place: ChatPlace = room ? { channel: 'wechat', chatId: room.id, kind: 'group' } : { channel: 'wechat', chatId: talker.id, kind: 'private' };
    if (room) {
      const mentioned = await message.mentionSelf();
      if (mentioned) text = await message.mentionText();
      // A room is mostly people talking to each other: only commands, mentions and menu picks are for the bot.
      const isMenuPick = /^\s*[0-9０-９]{1,3}\s*$/.test(text) && (await conversation.hasMenu(place, user));
      if (!mentioned && !looksLikeCommand(text) && !isMenuPick) return;
    }
    const inbound: Inbound = { user, place, payload: { type: 'text', text: text.trim() }, messageId: message.id, receivedAt: message.date() };
    const answer = await conversation.handle(inbound);
    for (const t of answer.here) await (room ? room.say(t) : message.say(t));
    for (const e of answer.elsewhere) {
      if (e.place.channel !== 'wechat') continue;
      await sayTo(e.place, e.texts);
    }
  }

  async function sayTo(place: ChatPlace, texts: string[]): Promise<void> {
    const target = place.kind === 'private' ? await bot.Contact.find({ id: place.chatId }) : await bot.Room.find({ id: place.chatId });
    if (!target) throw new Error(`wechaty: no ${place.kind === 'private' ? 'contact' : 'room'} ${place.chatId}`);
    for (const t of texts) await target.say(t);
  }

  const sender: ChannelSender = {
    channel: 'wechat',
    async send(message) {
      const rendered = renderReplies(message.replies, { privateChat: message.place.kind === 'private', locale: message.user?.languageHint });
      if (message.user && rendered.menu.length > 0) await conversation.saveMenu(message.place, message.user, rendered.menu);
      await sayTo(message.place, rendered.texts);
    },
  };

  bot.on('message', (message) => {
    const run = onMessage(message).catch((err: unknown) => p.logger.error({ err, message_id: message.id }, 'wechaty: message failed'));
    pending.add(run);
    void run.finally(() => pending.delete(run));
  });
  bot.on('error', (err) => p.logger.error({ err }, 'wechaty error'));
  // Puppets that log in by QR code: the operator scans the link from the log.
  bot.on('scan', (qrcode) => p.logger.info({ qr: `https://wechaty.js.org/qrcode/${encodeURIComponent(qrcode)}` }, 'wechaty: scan to log in'));
  bot.on('login', (user) => p.logger.info({ user: user.name() }, 'wechaty: logged in'));
  await bot.start();

  return {
    bot,
    sender,
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    async stop() {
      await Promise.all([...pending]);
      await bot.stop();
    },
  };
}
