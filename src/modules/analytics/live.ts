import type { Redis } from 'ioredis';
import type { Platform } from '../../platform.js';
import type { AnalyticsService } from './service.js';
import type { LiveOrderEvent } from './rollup.js';

export type LiveMessage =
  | { type: 'snapshot'; at: string; data: Awaited<ReturnType<AnalyticsService['dashboard']>> }
  | { type: 'order'; at: string; data: LiveOrderEvent }
  | { type: 'alert'; at: string; data: { kind: 'stock' | 'risk' | 'supplier'; message: string } };

export interface LiveSocket {
  send(text: string): void;
}

/**
 * The live dashboard's fan-out. Order events come from the rollup applier,
 * which reads changes the order transactions committed (so a rolled-back
 * order never shows) and publishes them after its own commit: through Redis
 * pub/sub when REDIS_URL is set, so every instance's sockets see every
 * instance's orders, else in process. While this instance has sockets it polls
 * the change queue every `pollMs` and sends each of them a snapshot every
 * `snapshotMs`, with an alert message for each stock, risk or supplier alert
 * that appeared since the last one.
 */
export function createLiveHub(p: Platform, analytics: AnalyticsService, o: { pollMs?: number; snapshotMs?: number } = {}) {
  const sockets = new Set<LiveSocket>();
  const channel = `${p.config.redisPrefix}analytics:live`;
  let subscriber: Redis | null = null;
  let poller: NodeJS.Timeout | null = null;
  let snapshots: NodeJS.Timeout | null = null;
  let seenAlerts: Set<string> | null = null;
  let polling = false;

  const deliver = (text: string) => {
    for (const s of sockets) {
      try {
        s.send(text);
      } catch {
        /* a socket closing under us is dropped by its close handler */
      }
    }
  };

  async function publishOrders(events: LiveOrderEvent[]) {
    if (events.length === 0) return;
    const at = p.clock.now().toISOString();
    const texts = events.map((data) => JSON.stringify({ type: 'order', at, data } satisfies LiveMessage));
    if (p.kv.redis) {
      const pipeline = p.kv.redis.pipeline();
      for (const t of texts) pipeline.publish(channel, t);
      await pipeline.exec();
    } else texts.forEach(deliver);
  }
  analytics.onCaughtUp((r) => void (r ? publishOrders(r.events).catch((err) => p.logger.warn({ err }, 'live: publish failed')) : undefined));

  /** Applies queued order changes (rollups) and publishes their events; returns how many changes it applied. */
  async function drain(): Promise<number> {
    let total = 0;
    for (let i = 0; i < 50; i++) {
      const r = await analytics.rollups.applyPending({ wait: false });
      if (!r) break;
      total += r.applied;
      await publishOrders(r.events);
      if (r.applied < 2000) break;
    }
    return total;
  }

  async function snapshotText(): Promise<string> {
    const data = await analytics.dashboard();
    return JSON.stringify({ type: 'snapshot', at: data.at, data } satisfies LiveMessage);
  }

  /** A snapshot for everyone, then an alert for each alert not in the previous snapshot. */
  async function tick() {
    const data = await analytics.dashboard();
    deliver(JSON.stringify({ type: 'snapshot', at: data.at, data } satisfies LiveMessage));
    const current = new Map<string, { kind: 'stock' | 'risk' | 'supplier'; message: string }>([
      ...data.stock_alerts.map((a) => [`stock:${a.sku_id}`, { kind: 'stock' as const, message: `${a.sku_name}: ${a.available} left (threshold ${a.threshold})` }] as const),
      ...data.risk_alerts.map((a) => [`risk:${a.id}`, { kind: 'risk' as const, message: a.message }] as const),
      ...data.supplier_failures.map((a) => [`supplier:${a.supplier_id}`, { kind: 'supplier' as const, message: `${a.supplier_name}: ${a.failures_1h} failed calls in the last hour${a.last_error ? ` (${a.last_error.slice(0, 120)})` : ''}` }] as const),
    ]);
    if (seenAlerts) for (const [key, alert] of current) if (!seenAlerts.has(key)) deliver(JSON.stringify({ type: 'alert', at: data.at, data: alert } satisfies LiveMessage));
    seenAlerts = new Set(current.keys());
  }

  async function ensureRunning() {
    if (p.kv.redis && !subscriber) {
      subscriber = p.kv.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      subscriber.on('error', (err) => p.logger.warn({ err }, 'live: Redis subscriber error'));
      subscriber.on('message', (_channel: string, text: string) => deliver(text));
      await subscriber.subscribe(channel);
    }
    poller ??= setInterval(() => {
      if (polling) return;
      polling = true;
      drain()
        .catch((err) => p.logger.warn({ err }, 'live: applying order changes failed'))
        .finally(() => (polling = false));
    }, o.pollMs ?? 1000);
    snapshots ??= setInterval(() => void tick().catch((err) => p.logger.warn({ err }, 'live: snapshot failed')), o.snapshotMs ?? 10_000);
  }

  function stopTimers() {
    if (poller) clearInterval(poller);
    if (snapshots) clearInterval(snapshots);
    poller = snapshots = null;
    seenAlerts = null;
  }

  return {
    /** A new socket: it gets a snapshot at once, then everything this instance delivers. */
    async join(socket: LiveSocket): Promise<() => void> {
      await ensureRunning();
      socket.send(await snapshotText());
      sockets.add(socket);
      return () => {
        sockets.delete(socket);
        if (sockets.size === 0) stopTimers();
      };
    },
    drain,
    publishOrders,
    /** Sends the periodic snapshot (and new alerts) now; the timer does this every `snapshotMs`. */
    tick,
    /** Connected sockets of this instance. */
    get size() {
      return sockets.size;
    },
    async close() {
      stopTimers();
      sockets.clear();
      if (subscriber) subscriber.disconnect();
      subscriber = null;
    },
  };
}

export type LiveHub = ReturnType<typeof createLiveHub>;
