import { DAY, HOUR, MINUTE } from '../../../lib/clock.js';
import type { RiskFeatures } from '../features.js';
import type { Attempt, AttemptInput } from './traffic.js';

/**
 * Replays a time-ordered attempt stream through in-memory sliding windows and
 * yields the RiskFeatures the gate would have seen for each attempt — the same
 * meaning as the live engine's counters (features.ts), so a model trained here
 * scores live traffic. Pure: no clock, no database.
 *
 * Counts include the attempt itself. Failure counts do not: an attempt's
 * outcome (wrong password, invalid code) is unknown when the gate decides, so
 * using it would leak the answer into the features. The platform-wide
 * failure count is per action (key "all:<action>") over 10 minutes, like the
 * live engine's f:all:<action> counter.
 */

/** Timestamps per key, oldest first; entries older than `horizon` are dropped lazily. */
class WindowCounts {
  private readonly byKey = new Map<string, { times: number[]; head: number }>();
  constructor(private readonly horizon: number) {}

  add(key: string, at: number): void {
    let e = this.byKey.get(key);
    if (!e) {
      e = { times: [], head: 0 };
      this.byKey.set(key, e);
    }
    e.times.push(at);
  }

  /** Entries with time in (now - window, now]. */
  count(key: string, now: number, window: number): number {
    const e = this.byKey.get(key);
    if (!e) return 0;
    const times = e.times;
    while (e.head < times.length && (times[e.head] ?? 0) <= now - this.horizon) e.head++;
    if (e.head > 1024 && e.head * 2 > times.length) {
      times.splice(0, e.head);
      e.head = 0;
    }
    // First index with time > now - window (binary search over the live part).
    let lo = e.head;
    let hi = times.length;
    const from = now - window;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] ?? 0) > from) hi = mid;
      else lo = mid + 1;
    }
    return times.length - lo;
  }
}

/** Sum of values per key over a fixed window. */
class WindowSums {
  private readonly byKey = new Map<string, { items: Array<[number, number]>; head: number; sum: number }>();
  constructor(private readonly window: number) {}

  addAndSum(key: string, at: number, value: number): number {
    let e = this.byKey.get(key);
    if (!e) {
      e = { items: [], head: 0, sum: 0 };
      this.byKey.set(key, e);
    }
    e.items.push([at, value]);
    e.sum += value;
    while (e.head < e.items.length) {
      const first = e.items[e.head];
      if (!first || first[0] > at - this.window) break;
      e.sum -= first[1];
      e.head++;
    }
    return e.sum;
  }
}

/** Distinct values per key seen within a window (e.g. accounts per device in 24 h). */
class WindowDistinct {
  private readonly byKey = new Map<string, Map<string, number>>();
  constructor(private readonly window: number) {}

  addAndCount(key: string, value: string, at: number): number {
    let seen = this.byKey.get(key);
    if (!seen) {
      seen = new Map();
      this.byKey.set(key, seen);
    }
    seen.set(value, at);
    return this.count(key, at);
  }

  count(key: string, at: number): number {
    const seen = this.byKey.get(key);
    if (!seen) return 0;
    let n = 0;
    for (const [v, last] of seen) {
      if (last > at - this.window) n++;
      else seen.delete(v);
    }
    return n;
  }
}

/** The /24 of an IPv4 address (or the /48-ish prefix of an IPv6 one): the unit scripts rotate within. */
export function subnetOf(ip: string): string {
  if (ip.includes(':')) return ip.split(':').slice(0, 3).join(':');
  const dot = ip.lastIndexOf('.');
  return dot > 0 ? ip.slice(0, dot) : ip;
}

/** Hour of day in Asia/Shanghai (UTC+8, no daylight saving). */
export function shanghaiHour(at: Date): number {
  return Math.floor((at.getTime() / HOUR + 8) % 24);
}

export class FeatureReplayer {
  private readonly attempts = new WindowCounts(HOUR);
  private readonly failures = new WindowCounts(HOUR);
  private readonly sku1m = new WindowCounts(MINUTE);
  private readonly amounts = new WindowSums(DAY);
  private readonly accountsPerDevice = new WindowDistinct(DAY);
  private readonly devicesPerAccount = new WindowDistinct(DAY);
  private readonly accountsPerIp = new WindowDistinct(DAY);
  private readonly ordersByAccount = new Map<string, number>();
  private lastAt = -Infinity;

  /** Features of one attempt, then the attempt is recorded. Attempts must come in time order. */
  next(at: Date, input: AttemptInput): RiskFeatures {
    const now = at.getTime();
    if (now < this.lastAt) throw new Error('attempts must be replayed in time order');
    this.lastAt = now;
    const ipKey = `i:${input.ip}`;
    const netKey = `n:${subnetOf(input.ip)}`;
    const devKey = input.deviceId !== undefined ? `d:${input.deviceId}` : null;
    const accKey = input.accountId !== undefined ? `a:${input.accountId}` : null;
    const agentKey = input.agentId !== undefined ? `g:${input.agentId}` : null;
    const globalKey = `all:${input.action}`;

    for (const key of [ipKey, netKey, devKey, accKey, agentKey]) if (key !== null) this.attempts.add(key, now);
    if (input.skuId !== null) this.sku1m.add(input.skuId, now);
    const c = (key: string | null, window: number) => (key === null ? 0 : this.attempts.count(key, now, window));
    const f = (key: string | null) => (key === null ? 0 : this.failures.count(key, now, HOUR));

    const priorOrders = input.accountId !== undefined ? (this.ordersByAccount.get(input.accountId) ?? 0) : 0;
    const hasAccount = input.accountId !== undefined && input.accountCreatedAt !== undefined && input.action !== 'register';
    const features: RiskFeatures = {
      action: input.action,
      amountFen: input.amountFen,
      couponValueFen: input.couponValueFen,
      hourOfDay: shanghaiHour(at),
      accountAgeHours: hasAccount ? Math.max(0, (now - input.accountCreatedAt!.getTime()) / HOUR) : null,
      velocity: {
        ip_1m: c(ipKey, MINUTE),
        ip_10m: c(ipKey, 10 * MINUTE),
        ip_1h: c(ipKey, HOUR),
        subnet_10m: c(netKey, 10 * MINUTE),
        subnet_1h: c(netKey, HOUR),
        device_10m: c(devKey, 10 * MINUTE),
        device_1h: c(devKey, HOUR),
        account_10m: c(accKey, 10 * MINUTE),
        account_1h: c(accKey, HOUR),
        agent_1h: c(agentKey, HOUR),
        sku_1m: input.skuId === null ? 0 : this.sku1m.count(input.skuId, now, MINUTE),
        account_amount_24h: accKey === null ? 0 : this.amounts.addAndSum(accKey, now, input.amountFen),
        failures_ip_1h: f(ipKey),
        failures_device_1h: f(devKey),
        failures_account_1h: f(accKey),
        failures_global_10m: this.failures.count(globalKey, now, 10 * MINUTE),
      },
      links: {
        // Without an account (register, anonymous) the attempt adds nobody, but the device's and IP's crowd still counts.
        accounts_per_device: devKey === null ? 0 : accKey === null ? this.accountsPerDevice.count(devKey, now) : this.accountsPerDevice.addAndCount(devKey, accKey, now),
        devices_per_account: accKey === null ? 0 : devKey === null ? this.devicesPerAccount.count(accKey, now) : this.devicesPerAccount.addAndCount(accKey, devKey, now),
        accounts_per_ip: accKey === null ? this.accountsPerIp.count(ipKey, now) : this.accountsPerIp.addAndCount(ipKey, accKey, now),
      },
      missingDevice: input.deviceId === undefined,
      priorOrders,
    };

    // Outcomes are recorded after the decision.
    if (input.success === false) for (const key of [ipKey, devKey, accKey, globalKey]) if (key !== null) this.failures.add(key, now);
    if (input.action === 'order' && input.success !== false && input.accountId !== undefined) this.ordersByAccount.set(input.accountId, priorOrders + 1);
    return features;
  }
}

export interface LabelledFeatures {
  features: RiskFeatures;
  label: 0 | 1;
}

/** The whole stream as training samples, in time order. */
export function replayFeatures(attempts: readonly Attempt[]): LabelledFeatures[] {
  const replayer = new FeatureReplayer();
  return attempts.map((a) => ({ features: replayer.next(a.at, a.input), label: a.label === 'fraud' ? 1 : 0 }));
}
