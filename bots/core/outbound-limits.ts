import type { ChannelName } from './types.js';

/**
 * The platforms' sending limits, as a pure decision over what was sent
 * recently: no clock, no database. The queue (outbound.ts) builds a limiter
 * from the channel's recent sends (read under a per-channel lock, so several
 * instances share one budget) and asks it, message by message, whether each
 * due message may go now, must wait until a given time, or can never go.
 */
export interface ChannelLimits {
  /** Least time between two platform messages to one chat (a message of n replies counts n). */
  perChatIntervalMs: number;
  /** Most platform messages to one group chat in any 60 s; null: no such limit. */
  groupPerMinute: number | null;
  /** Most platform messages over the whole channel in any 1 s; null: no such limit. */
  perSecond: number | null;
  /**
   * WeChat Official Account customer messages: at most `maxMessages` within
   * `hours` of the user's last message to us, none after.
   */
  replyWindow: { hours: number; maxMessages: number } | null;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Telegram: about 1 message/s per chat, 20/min per group, 30/s overall
 * (core.telegram.org/bots/faq). WeChat OA: 5 customer messages within 48 h
 * of the user's last one. wechaty drives a personal account, which WeChat
 * bans for bursts: slow on purpose. WeCom and the terminal: modest.
 */
export const defaultLimits: Record<ChannelName, ChannelLimits> = {
  telegram: { perChatIntervalMs: SECOND, groupPerMinute: 20, perSecond: 30, replyWindow: null },
  wechat_oa: { perChatIntervalMs: SECOND, groupPerMinute: null, perSecond: 20, replyWindow: { hours: 48, maxMessages: 5 } },
  wechat: { perChatIntervalMs: 2 * SECOND, groupPerMinute: 10, perSecond: 2, replyWindow: null },
  wecom: { perChatIntervalMs: SECOND, groupPerMinute: 20, perSecond: 10, replyWindow: null },
  terminal: { perChatIntervalMs: 0, groupPerMinute: null, perSecond: 50, replyWindow: null },
};

/** One send (or claimed attempt) the limits count: to which chat, when (ms), how many platform messages. */
export interface SendRecord {
  chatId: string;
  at: number;
  weight: number;
}

export interface LimiterSnapshot {
  /** The channel's sends of at least the last minute. */
  recent: SendRecord[];
  /** Active pauses: scope '*' for the whole channel, else a chat id; `until` in ms. */
  pauses: { scope: string; until: number }[];
  /** For reply-window channels: per chat, the user's last inbound (ms) and the platform messages sent to it since. */
  windows?: Map<string, { lastInboundAt: number; sentSince: number }>;
}

export interface LimitedMessage {
  chatId: string;
  kind: 'private' | 'group';
  weight: number;
}

export type Decision =
  | { kind: 'send' }
  /** Not now: try again at `until` (ms). `scope` 'channel' means nothing else on this channel can go before then either. */
  | { kind: 'wait'; until: number; scope: 'chat' | 'channel'; why: string }
  /** Never: the reply window is closed. */
  | { kind: 'close'; why: 'window_closed' };

/**
 * The time from which `count` more units fit into a sliding window of
 * `windowMs` holding at most `max`, given the sends in it (any order).
 */
function windowFreesAt(sends: SendRecord[], windowMs: number, max: number, weight: number, now: number): number | null {
  const inWindow = sends.filter((s) => s.at > now - windowMs).sort((a, b) => a.at - b.at);
  // A message heavier than the whole budget still goes once the window is empty, rather than never.
  const need = Math.min(weight, max);
  let used = inWindow.reduce((n, s) => n + s.weight, 0);
  if (used + need <= max) return null;
  for (const s of inWindow) {
    used -= s.weight;
    if (used + need <= max) return s.at + windowMs;
  }
  return now + windowMs;
}

export class ChannelLimiter {
  private readonly recent: SendRecord[];
  private readonly byChat = new Map<string, SendRecord[]>();
  private readonly pauses = new Map<string, number>();
  private readonly windows: Map<string, { lastInboundAt: number; sentSince: number }>;

  constructor(
    private readonly limits: ChannelLimits,
    snapshot: LimiterSnapshot,
  ) {
    this.recent = [...snapshot.recent];
    for (const s of this.recent) this.byChat.set(s.chatId, [...(this.byChat.get(s.chatId) ?? []), s]);
    for (const pz of snapshot.pauses) this.pauses.set(pz.scope, Math.max(pz.until, this.pauses.get(pz.scope) ?? 0));
    this.windows = new Map([...(snapshot.windows ?? [])].map(([k, v]) => [k, { ...v }]));
  }

  /** Whether `m` may go at `now` (ms); does not count it (call `record` when it is sent). */
  decide(m: LimitedMessage, now: number): Decision {
    const l = this.limits;
    const channelPause = this.pauses.get('*');
    if (channelPause !== undefined && channelPause > now) return { kind: 'wait', until: channelPause, scope: 'channel', why: 'channel paused (retry after)' };

    if (l.replyWindow) {
      const w = this.windows.get(m.chatId);
      const closesAt = w ? w.lastInboundAt + l.replyWindow.hours * HOUR : 0;
      if (!w || now >= closesAt) return { kind: 'close', why: 'window_closed' };
      // The quota comes back only with a new message from the user (which reschedules the chat); else the window closes.
      if (w.sentSince + m.weight > l.replyWindow.maxMessages) return { kind: 'wait', until: closesAt, scope: 'chat', why: 'reply quota used' };
    }

    const chatPause = this.pauses.get(m.chatId);
    if (chatPause !== undefined && chatPause > now) return { kind: 'wait', until: chatPause, scope: 'chat', why: 'chat paused (retry after)' };

    const chatSends = this.byChat.get(m.chatId) ?? [];
    if (l.perChatIntervalMs > 0 && chatSends.length) {
      const last = chatSends.reduce((a, b) => (b.at > a.at ? b : a));
      const next = last.at + l.perChatIntervalMs * last.weight;
      if (next > now) return { kind: 'wait', until: next, scope: 'chat', why: 'chat interval' };
    }
    if (m.kind === 'group' && l.groupPerMinute !== null) {
      const at = windowFreesAt(chatSends, MINUTE, l.groupPerMinute, m.weight, now);
      if (at !== null) return { kind: 'wait', until: at, scope: 'chat', why: 'group per minute' };
    }
    if (l.perSecond !== null) {
      const at = windowFreesAt(this.recent, SECOND, l.perSecond, m.weight, now);
      if (at !== null) return { kind: 'wait', until: at, scope: 'channel', why: 'channel per second' };
    }
    return { kind: 'send' };
  }

  /** Counts a send of `m` at `now`. */
  record(m: LimitedMessage, now: number): void {
    const s = { chatId: m.chatId, at: now, weight: m.weight };
    this.recent.push(s);
    this.byChat.set(m.chatId, [...(this.byChat.get(m.chatId) ?? []), s]);
    const w = this.windows.get(m.chatId);
    if (w) w.sentSince += m.weight;
  }

  /** Pauses a chat or ('*') the whole channel until `until` (a RetryAfter seen during this run). */
  pause(scope: string, until: number): void {
    this.pauses.set(scope, Math.max(until, this.pauses.get(scope) ?? 0));
  }
}
