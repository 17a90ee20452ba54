/**
 * The channel-free conversation contract. Adapters (Telegram, WeChat
 * personal/group via wechaty, the Official Account and WeCom webhooks, the
 * terminal chat) turn what a platform delivers into an `Inbound`, hand it to
 * the core (`ChatCore.handle`), and render the `Reply` list the core answers
 * with in the platform's own way: buttons become an inline keyboard on
 * Telegram and a numbered text menu on WeChat; a `secret` part is shown behind
 * a spoiler with a one-time reveal button on Telegram and as plain text on
 * WeChat (only ever in a private chat).
 */

export type ChannelName = 'telegram' | 'wechat' | 'wechat_oa' | 'wecom' | 'terminal';
export type Locale = 'zh-CN' | 'en';

/** Who is talking: the platform identity the customers module resolves (provider + external id). */
export interface ChatUser {
  provider: 'telegram' | 'wechat_openid' | 'wecom_userid' | 'partner';
  externalId: string;
  displayName?: string;
  /** The platform's language hint (Telegram language_code, WeChat "zh_CN"); the user's own choice wins once made. */
  languageHint?: string;
}

/** Where a message came from and where a reply goes. */
export interface ChatPlace {
  channel: ChannelName;
  /** The chat/conversation id on the platform (Telegram chat id, wechaty room or contact id, OA openid). */
  chatId: string;
  kind: 'private' | 'group';
}

export type InboundPayload =
  /** Free text ("/start ref_ABC", "菜单", "购买 2", "佣金"), commands included. */
  | { type: 'text'; text: string }
  /** A button press: the `data` of a ReplyButton the core sent (Telegram callback_data, or the number typed for a WeChat menu, resolved by the adapter). */
  | { type: 'button'; data: string };

export interface Inbound {
  user: ChatUser;
  place: ChatPlace;
  payload: InboundPayload;
  /** Platform message id, for deduplication of retried deliveries (webhooks are at-least-once). */
  messageId?: string;
  receivedAt?: Date;
}

export interface ReplyButton {
  label: string;
  /** Opaque to adapters; at most 64 bytes (Telegram callback_data limit). */
  data: string;
}

export interface Reply {
  text: string;
  /** Rows of buttons. */
  buttons?: ReplyButton[][];
  /**
   * Secret content (card codes). Adapters must only send it to a private chat
   * (the core never puts one in a reply to a group); Telegram wraps it in a
   * spoiler entity.
   */
  secret?: { text: string; codeIds: string[] };
  /** A link the platform should show as a button/URL (pay page, poster, reveal link). */
  url?: { label: string; href: string };
  /** A picture to send (a QR poster), as a URL the server serves or PNG bytes. */
  image?: { url?: string; png?: Buffer; caption?: string };
  /** Telegram only: a Stars invoice link to pay (the adapter shows a pay button). */
  invoiceLink?: string;
}

/** What the core answers to one inbound message: replies to the same place, and possibly messages to other places (a private chat, when a group asked for codes). */
export interface HandleResult {
  replies: Reply[];
  /** Messages to other places (e.g. codes to the user's private chat when they bought from a group). */
  elsewhere?: { place: ChatPlace; user: ChatUser; replies: Reply[] }[];
}

/** The one thing adapters call. */
export interface ChatCore {
  handle(inbound: Inbound): Promise<HandleResult>;
}

/**
 * Outbound messages that do not answer an inbound one (a code delivered after
 * an external payment, an announcement to groups, an admin alert) go through
 * the outbound queue (bots/core/outbound.ts), which keeps to each platform's
 * limits. Adapters register a sender per channel.
 */
export interface OutboundMessage {
  place: ChatPlace;
  user?: ChatUser;
  replies: Reply[];
  /** Why it is sent (order.delivered, announcement, alert), for logs and dedupe. */
  reason: string;
  /** Unique per logical message, so a retried enqueue sends once. */
  dedupeKey: string;
}

export interface ChannelSender {
  channel: ChannelName;
  /** Sends one rendered message; throws RetryAfter when the platform asks to wait. */
  send(message: OutboundMessage): Promise<void>;
}

/** A platform said "too many requests": wait `seconds` before trying again (Telegram 429 parameters.retry_after). */
export class RetryAfter extends Error {
  constructor(
    readonly seconds: number,
    /** What must wait: the chat (Telegram's usual 429) or, for a bot-wide flood limit, the whole channel. */
    readonly scope: 'chat' | 'channel' = 'chat',
  ) {
    super(`retry after ${seconds}s`);
  }
}
