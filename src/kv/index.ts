import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * Short-lived shared state: nonces, rate-limit counters, gates. Redis when
 * REDIS_URL is set (shared by every instance), an in-process stand-in
 * otherwise (the embedded single-instance mode).
 */
export interface KeyValueStore {
  readonly kind: 'redis' | 'memory';
  /** Sets the key only if absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<void>;
  rateLimiter(opts: RateLimiterOptions): RateLimiterAbstract;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The Redis client, for atomic scripts; absent in memory mode. */
  readonly redis?: Redis;
}

export interface RateLimiterOptions {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

export function openKeyValueStore(opts: { redisUrl?: string; prefix: string }): KeyValueStore {
  return opts.redisUrl ? new RedisStore(opts.redisUrl, opts.prefix) : new MemoryStore(opts.prefix);
}

class RedisStore implements KeyValueStore {
  readonly kind = 'redis' as const;
  readonly redis: Redis;
  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    // rate-limiter-flexible needs commands to fail fast, not queue, while Redis is down.
    this.redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
    this.redis.on('error', () => undefined);
  }
  async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    // Down and retrying (an outage, not the first connect): refuse at once instead of holding every request 5 s.
    if (this.redis.status === 'reconnecting' || this.redis.status === 'close' || this.redis.status === 'end') throw new Error('Redis did not become ready: it is unreachable');
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        // Removed, or every waiting request leaves a listener behind for the whole outage.
        this.redis.off('ready', onReady);
        reject(new Error('Redis did not become ready within 5 s'));
      }, 5000);
      this.redis.once('ready', onReady);
    });
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    return (await this.redis.set(this.prefix + key, value, 'PX', ttlMs, 'NX')) === 'OK';
  }
  async get(key: string): Promise<string | null> {
    await this.ready();
    return this.redis.get(this.prefix + key);
  }
  async del(key: string): Promise<void> {
    await this.ready();
    await this.redis.del(this.prefix + key);
  }
  rateLimiter(o: RateLimiterOptions): RateLimiterAbstract {
    return new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix: this.prefix + o.keyPrefix,
      points: o.points,
      duration: o.durationSeconds,
      blockDuration: o.blockSeconds ?? 0,
    });
  }
  async ping(): Promise<void> {
    await this.ready();
    await this.redis.ping();
  }
  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

class MemoryStore implements KeyValueStore {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;
  constructor(private readonly prefix: string) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }
  private live(key: string) {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
  private sweep() {
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    return true;
  }
  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }
  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }
  rateLimiter(o: RateLimiterOptions): RateLimiterAbstract {
    return new RateLimiterMemory({ keyPrefix: this.prefix + o.keyPrefix, points: o.points, duration: o.durationSeconds, blockDuration: o.blockSeconds ?? 0 });
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }
}
