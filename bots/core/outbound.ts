import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Platform } from '../../src/platform.js';
import type { DbOrTx, Tx } from '../../src/db/client.js';
import { queryRows } from '../../src/db/raw.js';
import type { Clock } from '../../src/lib/clock.js';
import { newId } from '../../src/lib/ids.js';
import { retryDelayMs } from '../../src/modules/alerts/admin-chat.js';
import { ChannelLimiter, defaultLimits, type ChannelLimits, type Decision } from './outbound-limits.js';
import { openReplies, sealReplies, type StoredReply } from './outbound-store.js';
import { botInboundMarks, botOutboundMessages, botOutboundPauses } from './outbound-schema.js';
import { RetryAfter, type ChannelName, type ChannelSender, type ChatPlace, type ChatUser, type OutboundMessage } from './types.js';

/**
 * The outbound queue: chat messages that do not answer an inbound one go
 * through rows in bot_outbound_messages and leave within each platform's
 * limits (outbound-limits.ts), scheduled rather than dropped when they
 * cannot go now.
 *
 * Several instances: a run claims a channel's due rows in one short
 * transaction that holds a per-channel advisory lock, reads the channel's
 * recent sends from the table itself and claims (FOR UPDATE SKIP LOCKED)
 * only what the limits allow, so all instances share one budget and no row
 * is claimed twice. Sending happens after the commit; a claim is a lease, so
 * a crashed sender's rows come back after LEASE_MS (at least once: a crash
 * between the platform's answer and the status update may send one again).
 *
 * Latency: the job `bots.outbound-deliver` (every minute) drains what is due
 * for up to ~45 s. A process that runs the bots calls `start()`: every
 * enqueue (outside a transaction) and every inbound mark then kicks a run at
 * once, and a timer wakes up at the next scheduled send, so a broadcast
 * flows at the platform's pace instead of the cron's. After `enqueue(tx, ...)`
 * the caller calls `kick()` once its transaction has committed.
 */
export interface OutboundQueueDeps {
  clock?: Clock;
}

export interface DeliverReport {
  sent: number;
  retrying: number;
  failed: number;
  closed: number;
  /** Rows rescheduled by the limits (not counted as attempts). */
  deferred: number;
}

const LEASE_MS = 2 * 60_000;
const MAX_ATTEMPTS = 10;
const SEND_CONCURRENCY = 8;
const HISTORY_MS = 61_000;

type Row = typeof botOutboundMessages.$inferSelect;

export function createOutboundQueue(p: Platform, deps: OutboundQueueDeps = {}, limits: Partial<Record<ChannelName, Partial<ChannelLimits>>> = {}) {
  const clock = deps.clock ?? p.clock;
  const senders = new Map<ChannelName, ChannelSender>();
  const limitsOf = (c: ChannelName): ChannelLimits => ({ ...defaultLimits[c], ...limits[c] });
  const pumpHooks: (() => Promise<unknown>)[] = [];

  function registerSender(sender: ChannelSender): void {
    senders.set(sender.channel, sender);
    kick();
  }

  /**
   * Queues a message; with `tx`, it commits or rolls back with the caller's
   * change. The same dedupe key twice is a no-op (`created: false`). Secrets
   * go only to private chats: a secret for a group is a bug in the caller.
   */
  async function enqueue(tx: DbOrTx | undefined, m: OutboundMessage): Promise<{ id: string; created: boolean }> {
    if (m.place.kind !== 'private' && m.replies.some((r) => r.secret)) throw new Error(`outbound ${m.reason}: a secret may only go to a private chat`);
    if (m.replies.length === 0) throw new Error(`outbound ${m.reason}: no replies`);
    const now = clock.now();
    const id = newId('obm', now);
    const inserted = await (tx ?? p.db)
      .insert(botOutboundMessages)
      .values({
        id,
        channel: m.place.channel,
        chatId: m.place.chatId,
        chatKind: m.place.kind,
        chatUser: m.user ? { ...m.user } : null,
        replies: sealReplies(p, id, m.replies),
        weight: m.replies.length,
        reason: m.reason,
        dedupeKey: m.dedupeKey,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
      })
      .onConflictDoNothing({ target: botOutboundMessages.dedupeKey })
      .returning({ id: botOutboundMessages.id });
    if (inserted.length === 0) {
      const [prior] = await (tx ?? p.db).select({ id: botOutboundMessages.id }).from(botOutboundMessages).where(eq(botOutboundMessages.dedupeKey, m.dedupeKey));
      return { id: prior?.id ?? id, created: false };
    }
    if (!tx) kick();
    return { id, created: true };
  }

  /**
   * Records that a logical message will not be sent (nothing left to send,
   * no usable chat), so scans that look for unsent keys stop finding it.
   */
  async function markSkipped(place: { channel: string; chatId: string; kind: string }, dedupeKey: string, reason: string, why: string): Promise<void> {
    const now = clock.now();
    await p.db
      .insert(botOutboundMessages)
      .values({ id: newId('obm', now), channel: place.channel, chatId: place.chatId, chatKind: place.kind, replies: [], weight: 0, reason, dedupeKey, status: 'skipped', attempts: 0, nextAttemptAt: now, lastError: why.slice(0, 300), createdAt: now })
      .onConflictDoNothing({ target: botOutboundMessages.dedupeKey });
  }

  /**
   * A user wrote to us in this chat (adapters call this for every inbound
   * message of a reply-window channel; cheap elsewhere). It opens a new
   * WeChat OA window: messages that waited for quota are due again.
   */
  async function noteInbound(place: Pick<ChatPlace, 'channel' | 'chatId'>, at: Date = clock.now()): Promise<void> {
    await p.db
      .insert(botInboundMarks)
      .values({ channel: place.channel, chatId: place.chatId, lastInboundAt: at })
      .onConflictDoUpdate({ target: [botInboundMarks.channel, botInboundMarks.chatId], set: { lastInboundAt: sql`greatest(${botInboundMarks.lastInboundAt}, excluded.last_inbound_at)` } });
    if (limitsOf(place.channel).replyWindow) {
      await p.db
        .update(botOutboundMessages)
        .set({ nextAttemptAt: at })
        .where(and(eq(botOutboundMessages.channel, place.channel), eq(botOutboundMessages.chatId, place.chatId), eq(botOutboundMessages.status, 'pending'), sql`${botOutboundMessages.nextAttemptAt} > ${at.toISOString()}::timestamptz`));
      kick();
    }
  }

  /** The claim: under the channel's lock, decide each due row with the limits; claim, reschedule or close it. */
  async function claim(channel: ChannelName, limit: number): Promise<{ rows: Row[]; deferred: number; closed: number }> {
    const now = clock.now();
    const nowMs = now.getTime();
    return p.db.transaction(async (tx) => {
      await queryRows(tx, 'select pg_advisory_xact_lock(hashtext($1))', [`bot-outbound:${channel}`]);
      const due = await queryRows<{ id: string; chat_id: string; chat_kind: 'private' | 'group'; weight: number }>(
        tx,
        `select id, chat_id, chat_kind, weight from bot_outbound_messages
         where channel = $1 and status in ('pending', 'sending') and next_attempt_at <= $2::timestamptz
         order by next_attempt_at, id limit $3 for update skip locked`,
        [channel, now.toISOString(), limit],
      );
      if (due.length === 0) return { rows: [], deferred: 0, closed: 0 };
      const limiter = await limiterFor(tx, channel, now, [...new Set(due.map((d) => d.chat_id))]);
      const take: string[] = [];
      const later = new Map<number, string[]>();
      const close: string[] = [];
      for (const d of due) {
        const m = { chatId: d.chat_id, kind: d.chat_kind, weight: d.weight };
        const decision: Decision = limiter.decide(m, nowMs);
        if (decision.kind === 'send') {
          limiter.record(m, nowMs);
          take.push(d.id);
        } else if (decision.kind === 'close') close.push(d.id);
        else if (decision.scope === 'chat') later.set(decision.until, [...(later.get(decision.until) ?? []), d.id]);
        // The whole channel is at its limit: the rest stay due (in order) and go on the next run.
        else break;
      }
      for (const [until, ids] of later) await tx.update(botOutboundMessages).set({ status: 'pending', nextAttemptAt: new Date(until) }).where(inArray(botOutboundMessages.id, ids));
      if (close.length) await tx.update(botOutboundMessages).set({ status: 'window_closed', lastError: 'reply window closed' }).where(inArray(botOutboundMessages.id, close));
      const rows = take.length
        ? await tx
            .update(botOutboundMessages)
            .set({ status: 'sending', claimedAt: now, attempts: sql`${botOutboundMessages.attempts} + 1`, nextAttemptAt: new Date(nowMs + LEASE_MS) })
            .where(inArray(botOutboundMessages.id, take))
            .returning()
        : [];
      rows.sort((a, b) => take.indexOf(a.id) - take.indexOf(b.id));
      return { rows, deferred: [...later.values()].reduce((n, ids) => n + ids.length, 0), closed: close.length };
    });
  }

  /** The channel's limiter, from its sends of the last minute, its pauses and (reply windows) the chats' inbound marks. */
  async function limiterFor(tx: Tx, channel: ChannelName, now: Date, chatIds: string[]): Promise<ChannelLimiter> {
    const l = limitsOf(channel);
    const recent = await queryRows<{ chat_id: string; at: string | Date; weight: number }>(
      tx,
      'select chat_id, claimed_at as at, weight from bot_outbound_messages where channel = $1 and claimed_at > $2::timestamptz',
      [channel, new Date(now.getTime() - HISTORY_MS).toISOString()],
    );
    const pauses = await queryRows<{ scope: string; until: string | Date }>(tx, 'select scope, until from bot_outbound_pauses where channel = $1 and until > $2::timestamptz', [channel, now.toISOString()]);
    let windows: Map<string, { lastInboundAt: number; sentSince: number }> | undefined;
    if (l.replyWindow) {
      const marks = await queryRows<{ chat_id: string; last: string | Date; sent: number }>(
        tx,
        `select k.chat_id, k.last_inbound_at as last,
                (select coalesce(sum(m.weight), 0)::int from bot_outbound_messages m
                  where m.channel = k.channel and m.chat_id = k.chat_id and m.status in ('sending', 'sent') and m.claimed_at >= k.last_inbound_at) as sent
         from bot_inbound_marks k where k.channel = $1 and k.chat_id = any($2::text[])`,
        [channel, chatIds],
      );
      windows = new Map(marks.map((k) => [k.chat_id, { lastInboundAt: new Date(k.last).getTime(), sentSince: Number(k.sent) }]));
    }
    return new ChannelLimiter(l, {
      recent: recent.map((r) => ({ chatId: r.chat_id, at: new Date(r.at).getTime(), weight: Number(r.weight) })),
      pauses: pauses.map((x) => ({ scope: x.scope, until: new Date(x.until).getTime() })),
      windows,
    });
  }

  async function pause(channel: ChannelName, scope: string, until: Date): Promise<void> {
    await p.db
      .insert(botOutboundPauses)
      .values({ channel, scope, until })
      .onConflictDoUpdate({ target: [botOutboundPauses.channel, botOutboundPauses.scope], set: { until: sql`greatest(${botOutboundPauses.until}, excluded.until)` } });
  }

  function toMessage(row: Row): OutboundMessage {
    return {
      place: { channel: row.channel as ChannelName, chatId: row.chatId, kind: row.chatKind as ChatPlace['kind'] },
      user: (row.chatUser as ChatUser | null) ?? undefined,
      replies: openReplies(p, row.id, row.replies as StoredReply[]),
      reason: row.reason,
      dedupeKey: row.dedupeKey,
    };
  }

  /** Sends one claimed row and records the outcome, only while the claim is still ours. */
  async function sendOne(sender: ChannelSender, row: Row, report: DeliverReport): Promise<void> {
    const ours = and(eq(botOutboundMessages.id, row.id), eq(botOutboundMessages.status, 'sending'), eq(botOutboundMessages.nextAttemptAt, row.nextAttemptAt));
    try {
      await sender.send(toMessage(row));
      await p.db.update(botOutboundMessages).set({ status: 'sent', sentAt: clock.now(), lastError: null }).where(ours);
      report.sent++;
    } catch (err) {
      const at = clock.now();
      if (err instanceof RetryAfter) {
        // The platform's own wait: not a failure, so the attempt is given back.
        const until = new Date(at.getTime() + Math.max(1, err.seconds) * 1000);
        await pause(row.channel as ChannelName, err.scope === 'channel' ? '*' : row.chatId, until);
        await p.db.update(botOutboundMessages).set({ status: 'pending', attempts: Math.max(0, row.attempts - 1), nextAttemptAt: until, lastError: `retry after ${err.seconds}s` }).where(ours);
        report.retrying++;
        return;
      }
      // The error text of a sender names the platform's answer; it never holds the message (secrets).
      const message = (err instanceof Error ? err.message : String(err)).slice(0, 300);
      const dead = row.attempts >= MAX_ATTEMPTS;
      await p.db
        .update(botOutboundMessages)
        .set({ status: dead ? 'failed' : 'pending', lastError: message, nextAttemptAt: dead ? at : new Date(at.getTime() + retryDelayMs(row.attempts)) })
        .where(ours);
      p.logger.warn({ message: row.id, channel: row.channel, reason: row.reason, attempts: row.attempts, error: message }, 'outbound chat message not sent');
      if (dead) report.failed++;
      else report.retrying++;
    }
  }

  /** One run: every channel that has a sender here, what is due now and within its limits. */
  async function deliverDue(limit = 200): Promise<DeliverReport> {
    const report: DeliverReport = { sent: 0, retrying: 0, failed: 0, closed: 0, deferred: 0 };
    for (const [channel, sender] of senders) {
      const { rows, deferred, closed } = await claim(channel, limit);
      report.deferred += deferred;
      report.closed += closed;
      const queue = [...rows];
      await Promise.all(
        Array.from({ length: Math.min(SEND_CONCURRENCY, queue.length) }, async () => {
          for (let r = queue.shift(); r; r = queue.shift()) {
            try {
              await sendOne(sender, r, report);
            } catch (err) {
              // A database hiccup while recording: the lease runs out and the row is tried again.
              p.logger.warn({ err, message: r.id }, 'outbound chat message could not be recorded');
            }
          }
        }),
      );
    }
    return report;
  }

  /** The earliest time a row of a channel with a sender here is due (null: nothing waiting). */
  async function nextDueAt(): Promise<Date | null> {
    if (senders.size === 0) return null;
    const [row] = await queryRows<{ at: string | Date | null }>(p.db, `select min(next_attempt_at) as at from bot_outbound_messages where status in ('pending', 'sending') and channel = any($1::text[])`, [[...senders.keys()]]);
    return row?.at ? new Date(row.at) : null;
  }

  /** The job: runs, sleeps until the next scheduled send, runs again, for up to `budgetMs` (real time). */
  async function drain(budgetMs = 45_000): Promise<number> {
    const end = Date.now() + budgetMs;
    let sent = 0;
    for (;;) {
      sent += (await deliverDue()).sent;
      const next = await nextDueAt();
      const wait = next ? next.getTime() - clock.now().getTime() : Infinity;
      if (wait === Infinity || Date.now() + wait > end) return sent;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  // The in-process pump (after start()): one run at a time; a kick during a run asks for another.
  let started = false;
  let running: Promise<void> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let pumpEveryMs = 5_000;
  let hooksRanAt = 0;

  function kick(): void {
    if (!started) return;
    if (running) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    running = (async () => {
      do {
        again = false;
        // Hooks (a scan of recent orders) at most once per pump period, however many kicks a broadcast makes.
        if (Date.now() - hooksRanAt >= pumpEveryMs) {
          hooksRanAt = Date.now();
          for (const hook of pumpHooks) await hook();
        }
        await deliverDue();
      } while (again && started);
      const next = await nextDueAt();
      const wait = Math.min(pumpEveryMs, next ? Math.max(20, next.getTime() - clock.now().getTime()) : pumpEveryMs);
      if (started) {
        timer = setTimeout(kick, wait);
        timer.unref();
      }
    })()
      .catch((err) => p.logger.warn({ err }, 'outbound pump run failed; the job will retry'))
      .finally(() => {
        running = null;
      });
  }

  /** Starts the in-process pump (the process that runs the bots); `everyMs` bounds the time between runs (and pump hooks). */
  function start(opts: { everyMs?: number } = {}): void {
    pumpEveryMs = opts.everyMs ?? 5_000;
    started = true;
    kick();
  }

  async function stop(): Promise<void> {
    started = false;
    if (timer) clearTimeout(timer);
    timer = null;
    await running;
  }

  /** Resolves when the current pump run (if any) is over: for tests and shutdown. */
  async function idle(): Promise<void> {
    while (running) await running;
  }

  /** Work the pump does before each run (the order deliveries' scan). */
  function onPump(hook: () => Promise<unknown>): void {
    pumpHooks.push(hook);
  }

  return { enqueue, markSkipped, registerSender, noteInbound, deliverDue, drain, nextDueAt, kick, start, stop, idle, onPump, limitsOf };
}

export type OutboundQueue = ReturnType<typeof createOutboundQueue>;
