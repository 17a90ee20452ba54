import { describe, expect, it } from 'vitest';
import { ManualClock, HOUR, MINUTE, SECOND } from '../../src/lib/clock.js';
import { ChannelLimiter, defaultLimits, type LimitedMessage, type LimiterSnapshot } from './outbound-limits.js';

const tg = defaultLimits.telegram;
const empty: LimiterSnapshot = { recent: [], pauses: [] };
const priv = (chatId: string, weight = 1): LimitedMessage => ({ chatId, kind: 'private', weight });
const group = (chatId: string): LimitedMessage => ({ chatId, kind: 'group', weight: 1 });

/** Sends `queue` in order as fast as the limiter allows, ticking a manual clock; returns each send's time. */
function run(limiter: ChannelLimiter, queue: LimitedMessage[], clock: ManualClock, tickMs: number, maxTicks = 100_000) {
  const sends: { chatId: string; at: number }[] = [];
  const notBefore = new Map<LimitedMessage, number>();
  let pending = [...queue];
  for (let i = 0; i < maxTicks && pending.length; i++) {
    const now = clock.now().getTime();
    const left: LimitedMessage[] = [];
    let channelBlocked = false;
    for (const m of pending) {
      if (channelBlocked || (notBefore.get(m) ?? 0) > now) {
        left.push(m);
        continue;
      }
      const d = limiter.decide(m, now);
      if (d.kind === 'send') {
        limiter.record(m, now);
        sends.push({ chatId: m.chatId, at: now });
      } else if (d.kind === 'wait') {
        left.push(m);
        if (d.scope === 'channel') channelBlocked = true;
        else notBefore.set(m, d.until);
      }
    }
    pending = left;
    clock.advance(tickMs);
  }
  return { sends, pending };
}

const maxInWindow = (times: number[], windowMs: number) => {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i++) {
    while (t[i]! - t[j]! >= windowMs) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
};

describe('Telegram limits', () => {
  it('a broadcast to 1,000 private chats: never more than 30 in any second, all sent in about 34 s', () => {
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const start = clock.now().getTime();
    const { sends, pending } = run(new ChannelLimiter(tg, empty), Array.from({ length: 1000 }, (_, i) => priv(`u${i}`)), clock, 37);
    expect(pending).toEqual([]);
    expect(sends).toHaveLength(1000);
    expect(maxInWindow(sends.map((s) => s.at), SECOND)).toBe(30);
    const took = Math.max(...sends.map((s) => s.at)) - start;
    expect(took).toBeGreaterThanOrEqual(33 * SECOND);
    expect(took).toBeLessThan(35 * SECOND);
  });

  it('one private chat: at least 1 s between two messages; a message of 3 replies holds the chat 3 s', () => {
    const limiter = new ChannelLimiter(tg, empty);
    limiter.record(priv('a'), 0);
    expect(limiter.decide(priv('a'), 999)).toMatchObject({ kind: 'wait', until: 1000, scope: 'chat' });
    expect(limiter.decide(priv('a'), 1000)).toEqual({ kind: 'send' });
    expect(limiter.decide(priv('b'), 10)).toEqual({ kind: 'send' });
    limiter.record(priv('c', 3), 0);
    expect(limiter.decide(priv('c'), 2999)).toMatchObject({ kind: 'wait', until: 3000 });
  });

  it('a group gets at most 20 in any minute (and 1 a second)', () => {
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const { sends } = run(new ChannelLimiter(tg, empty), Array.from({ length: 50 }, () => group('g')), clock, 100, 2_000);
    expect(sends).toHaveLength(50);
    const times = sends.map((s) => s.at);
    expect(maxInWindow(times, MINUTE)).toBe(20);
    expect(maxInWindow(times, SECOND)).toBe(1);
    // The 21st waits for the first to leave the 60 s window.
    expect(times[20]! - times[0]!).toBeGreaterThanOrEqual(MINUTE);
  });

  it('a chat pause (RetryAfter) holds that chat only; a channel pause holds all', () => {
    const limiter = new ChannelLimiter(tg, { recent: [], pauses: [{ scope: 'a', until: 5000 }] });
    expect(limiter.decide(priv('a'), 0)).toMatchObject({ kind: 'wait', until: 5000, scope: 'chat' });
    expect(limiter.decide(priv('b'), 0)).toEqual({ kind: 'send' });
    limiter.pause('*', 7000);
    expect(limiter.decide(priv('b'), 6999)).toMatchObject({ kind: 'wait', until: 7000, scope: 'channel' });
    expect(limiter.decide(priv('a'), 7000)).toEqual({ kind: 'send' });
  });

  it('sends recorded by other instances (the snapshot) count', () => {
    const recent = Array.from({ length: 30 }, (_, i) => ({ chatId: `x${i}`, at: 500, weight: 1 }));
    const limiter = new ChannelLimiter(tg, { recent, pauses: [] });
    expect(limiter.decide(priv('new'), 1499)).toMatchObject({ kind: 'wait', until: 1500, scope: 'channel' });
    expect(limiter.decide(priv('new'), 1500)).toEqual({ kind: 'send' });
  });
});

describe('WeChat Official Account reply window', () => {
  const oa = defaultLimits.wechat_oa;
  const at0 = 1_000_000;
  const windowOf = (sentSince: number) => new Map([['open1', { lastInboundAt: at0, sentSince }]]);

  it('five messages within 48 h of the last inbound; the sixth waits for the window end, then closes', () => {
    const limiter = new ChannelLimiter(oa, { recent: [], pauses: [], windows: windowOf(0) });
    for (let i = 0; i < 5; i++) {
      const now = at0 + i * 2 * SECOND;
      expect(limiter.decide(priv('open1'), now)).toEqual({ kind: 'send' });
      limiter.record(priv('open1'), now);
    }
    expect(limiter.decide(priv('open1'), at0 + 20 * SECOND)).toMatchObject({ kind: 'wait', until: at0 + 48 * HOUR, scope: 'chat' });
    expect(limiter.decide(priv('open1'), at0 + 48 * HOUR)).toEqual({ kind: 'close', why: 'window_closed' });
  });

  it('after 48 h, or with no inbound at all, nothing is sent', () => {
    expect(new ChannelLimiter(oa, { recent: [], pauses: [], windows: windowOf(0) }).decide(priv('open1'), at0 + 48 * HOUR + 1)).toEqual({ kind: 'close', why: 'window_closed' });
    expect(new ChannelLimiter(oa, { recent: [], pauses: [], windows: new Map() }).decide(priv('open1'), at0)).toEqual({ kind: 'close', why: 'window_closed' });
  });

  it('does not change the snapshot it was built from', () => {
    const windows = windowOf(4);
    const limiter = new ChannelLimiter(oa, { recent: [], pauses: [], windows });
    limiter.record(priv('open1'), at0 + 1);
    expect(windows.get('open1')!.sentSince).toBe(4);
  });
});
