import type { Redis } from 'ioredis';
import type { RiskAction, RiskFeatures } from './features.js';

/**
 * Sliding-window counters: minute buckets (hour buckets for the 24 h amount)
 * per dimension, summed over the windows the rules read, and distinct-link
 * counts (accounts per device, devices per account, accounts per IP) over
 * 24 h. One call per decision increments and reads everything at once: in
 * Redis as ONE Lua script (EVALSHA), in memory with the same arithmetic, so
 * both give the same numbers for the same attempts at the same times. Time
 * is passed in (platform.clock), never read here.
 *
 * A window of w buckets holds the current bucket and the w - 1 before it.
 * Counters are per action (logins do not count as orders); failures (wrong
 * password, wrong redemption code) are their own counters, fed by
 * recordFailure and read by every decision: per IP, device and account (any
 * action), and platform-wide per action (10 minutes).
 */
export interface VelocityInput {
  action: RiskAction;
  ip: string;
  subnet: string;
  device?: string;
  /** "customer:cus_..." */
  account?: string;
  agent?: string;
  sku?: string;
  amountFen: number;
}

export interface FailureDims {
  /** The action that failed: also counted platform-wide (f:all:<action>) for the "under attack" rules. */
  action: RiskAction;
  ip?: string;
  device?: string;
  account?: string;
}

export interface VelocityResult {
  velocity: RiskFeatures['velocity'];
  links: RiskFeatures['links'];
}

export interface VelocityCounters {
  readonly kind: 'redis' | 'memory';
  hit(input: VelocityInput, nowMs: number): Promise<VelocityResult>;
  recordFailure(dims: FailureDims, nowMs: number): Promise<void>;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
export const LINK_WINDOW_MS = 24 * HOUR;

/** One counter: key ('' when the dimension is absent: reads 0), bucket size, increment, up to three windows in buckets (0 = unused). */
type CounterOp = [key: string, bucketMs: number, incr: number, w1: number, w2: number, w3: number];
/** One distinct-link set: key ('' when absent), member to add ('' = only count), window. */
type LinkOp = [key: string, member: string, windowMs: number];

function plan(i: VelocityInput): { counters: CounterOp[]; links: LinkOp[] } {
  const a = i.action;
  const k = (dim: string, v: string | undefined) => (v ? `v:${a}:${dim}:${v}` : '');
  const f = (dim: string, v: string | undefined) => (v ? `f:${dim}:${v}` : '');
  return {
    counters: [
      [k('ip', i.ip), MIN, 1, 1, 10, 60],
      [k('net', i.subnet), MIN, 1, 10, 60, 0],
      [k('dev', i.device), MIN, 1, 10, 60, 0],
      [k('acc', i.account), MIN, 1, 10, 60, 0],
      [k('agt', i.agent), MIN, 1, 60, 0, 0],
      [k('sku', i.sku), MIN, 1, 1, 0, 0],
      [i.account ? `amt:${a}:${i.account}` : '', HOUR, Math.max(0, Math.round(i.amountFen)), 24, 0, 0],
      [f('ip', i.ip), MIN, 0, 60, 0, 0],
      [f('dev', i.device), MIN, 0, 60, 0, 0],
      [f('acc', i.account), MIN, 0, 60, 0, 0],
      [`f:all:${a}`, MIN, 0, 10, 0, 0],
    ],
    links: [
      [i.device ? `l:d2a:${i.device}` : '', i.account ?? '', LINK_WINDOW_MS],
      [i.account ? `l:a2d:${i.account}` : '', i.device ?? '', LINK_WINDOW_MS],
      [`l:i2a:${i.ip}`, i.account ?? '', LINK_WINDOW_MS],
    ],
  };
}

function failurePlan(d: FailureDims): CounterOp[] {
  return [
    [d.ip ? `f:ip:${d.ip}` : '', MIN, 1, 60, 0, 0],
    [d.device ? `f:dev:${d.device}` : '', MIN, 1, 60, 0, 0],
    [d.account ? `f:acc:${d.account}` : '', MIN, 1, 60, 0, 0],
    // Same window as the read in plan(): the bucket TTL and stale clean-up follow the widest window of the op.
    [`f:all:${d.action}`, MIN, 1, 10, 0, 0],
  ];
}

/** Turns the flat answer (3 sums per counter, 1 count per link) into the features. */
function toResult(n: readonly number[]): VelocityResult {
  return {
    velocity: {
      ip_1m: n[0]!,
      ip_10m: n[1]!,
      ip_1h: n[2]!,
      subnet_10m: n[3]!,
      subnet_1h: n[4]!,
      device_10m: n[6]!,
      device_1h: n[7]!,
      account_10m: n[9]!,
      account_1h: n[10]!,
      agent_1h: n[12]!,
      sku_1m: n[15]!,
      account_amount_24h: n[18]!,
      failures_ip_1h: n[21]!,
      failures_device_1h: n[24]!,
      failures_account_1h: n[27]!,
      failures_global_10m: n[30]!,
    },
    links: { accounts_per_device: n[33]!, devices_per_account: n[34]!, accounts_per_ip: n[35]! },
  };
}

// ---- memory ----

/** Buckets of one counter, oldest first (time normally only moves forward, so new buckets append). */
interface Series {
  b: number[];
  v: number[];
  expiresAt: number;
}

interface LinkSet {
  members: Map<string, number>;
  /** No member was last seen before this (a lower bound): pruning runs only when it could find something. */
  oldest: number;
  expiresAt: number;
}

export function memoryVelocity(): VelocityCounters {
  const series = new Map<string, Series>();
  const sets = new Map<string, LinkSet>();
  let ops = 0;

  function sweep(now: number) {
    for (const [k, s] of series) if (s.expiresAt <= now) series.delete(k);
    for (const [k, s] of sets) if (s.expiresAt <= now) sets.delete(k);
  }

  function add(s: Series, cur: number, incr: number) {
    const last = s.b.length - 1;
    if (last >= 0 && s.b[last] === cur) s.v[last]! += incr;
    else if (last < 0 || s.b[last]! < cur) {
      s.b.push(cur);
      s.v.push(incr);
    } else {
      // The clock went back: find or insert the bucket in order.
      let i = 0;
      while (i < s.b.length && s.b[i]! < cur) i++;
      if (s.b[i] === cur) s.v[i]! += incr;
      else {
        s.b.splice(i, 0, cur);
        s.v.splice(i, 0, incr);
      }
    }
  }

  function counter(op: CounterOp, now: number, out: number[]) {
    const key = op[0];
    if (!key) {
      out.push(0, 0, 0);
      return;
    }
    const bucketMs = op[1];
    const incr = op[2];
    const w1 = op[3];
    const w2 = op[4];
    const w3 = op[5];
    const cur = Math.floor(now / bucketMs);
    const maxw = Math.max(w1, w2, w3);
    let s = series.get(key);
    if (s && s.expiresAt <= now) {
      series.delete(key);
      s = undefined;
    }
    if (incr > 0) {
      if (!s) series.set(key, (s = { b: [], v: [], expiresAt: 0 }));
      add(s, cur, incr);
      s.expiresAt = now + maxw * bucketMs + bucketMs;
    }
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    if (s) {
      let stale = 0;
      while (stale < s.b.length && cur - s.b[stale]! >= maxw) stale++;
      if (stale > 0) {
        s.b.splice(0, stale);
        s.v.splice(0, stale);
      }
      for (let i = 0; i < s.b.length; i++) {
        const age = cur - s.b[i]!;
        const v = s.v[i]!;
        if (age < w1) s1 += v;
        if (age < w2) s2 += v;
        if (age < w3) s3 += v;
      }
    }
    out.push(s1, s2, s3);
  }

  function link(op: LinkOp, now: number, out: number[]) {
    const key = op[0];
    const member = op[1];
    const windowMs = op[2];
    if (!key) {
      out.push(0);
      return;
    }
    let s = sets.get(key);
    if (s && s.expiresAt <= now) {
      sets.delete(key);
      s = undefined;
    }
    if (member) {
      if (!s) sets.set(key, (s = { members: new Map(), oldest: now, expiresAt: 0 }));
      s.members.set(member, now);
      if (now < s.oldest) s.oldest = now;
      s.expiresAt = now + windowMs;
    }
    if (!s) {
      out.push(0);
      return;
    }
    const cutoff = now - windowMs;
    if (s.oldest <= cutoff) {
      let oldest = Infinity;
      for (const [m, t] of s.members) {
        if (t <= cutoff) s.members.delete(m);
        else if (t < oldest) oldest = t;
      }
      s.oldest = oldest;
    }
    out.push(s.members.size);
  }

  return {
    kind: 'memory',
    async hit(input, now) {
      if (++ops % 50_000 === 0) sweep(now);
      const p = plan(input);
      const out: number[] = [];
      for (let i = 0; i < p.counters.length; i++) counter(p.counters[i]!, now, out);
      for (let i = 0; i < p.links.length; i++) link(p.links[i]!, now, out);
      return toResult(out);
    },
    async recordFailure(dims, now) {
      const out: number[] = [];
      for (const c of failurePlan(dims)) counter(c, now, out);
    },
  };
}

// ---- redis ----

/** The same arithmetic as the memory counters, in one script: increments, window sums, stale-bucket clean-up, link sets. */
const script = `
local now = tonumber(ARGV[1])
local nc = tonumber(ARGV[2])
local nl = tonumber(ARGV[3])
local pfx = ARGV[4]
local out = {}
local i = 5
for c = 1, nc do
  local key = ARGV[i]
  local bucket = tonumber(ARGV[i + 1])
  local incr = tonumber(ARGV[i + 2])
  local w1 = tonumber(ARGV[i + 3])
  local w2 = tonumber(ARGV[i + 4])
  local w3 = tonumber(ARGV[i + 5])
  i = i + 6
  if key == '' then
    out[#out + 1] = 0
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    key = pfx .. key
    local cur = math.floor(now / bucket)
    local maxw = math.max(w1, w2, w3)
    -- The TTL is set when a bucket opens: the key then outlives its newest bucket's window, which is all the memory twin promises.
    if incr > 0 and redis.call('HINCRBY', key, string.format('%d', cur), incr) == incr then
      redis.call('PEXPIRE', key, maxw * bucket + bucket)
    end
    local s1, s2, s3 = 0, 0, 0
    local all = redis.call('HGETALL', key)
    local stale = {}
    for j = 1, #all, 2 do
      local age = cur - tonumber(all[j])
      local v = tonumber(all[j + 1])
      if age >= maxw then
        stale[#stale + 1] = all[j]
      else
        if age < w1 then s1 = s1 + v end
        if age < w2 then s2 = s2 + v end
        if age < w3 then s3 = s3 + v end
      end
    end
    if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
    out[#out + 1] = s1
    out[#out + 1] = s2
    out[#out + 1] = s3
  end
end
for l = 1, nl do
  local key = ARGV[i]
  local member = ARGV[i + 1]
  local win = tonumber(ARGV[i + 2])
  i = i + 3
  if key == '' then
    out[#out + 1] = 0
  else
    key = pfx .. key
    if member ~= '' then
      redis.call('ZADD', key, now, member)
      redis.call('PEXPIRE', key, win)
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
    out[#out + 1] = redis.call('ZCARD', key)
  end
end
return out
`;

type RiskHit = (...args: (string | number)[]) => Promise<number[]>;

export function redisVelocity(redis: Redis, prefix: string): VelocityCounters {
  const r = redis as Redis & { kqRiskHit?: RiskHit };
  // defineCommand sends EVALSHA and falls back to EVAL once when the server does not know the script yet.
  if (typeof r.kqRiskHit !== 'function') redis.defineCommand('kqRiskHit', { numberOfKeys: 0, lua: script });
  const run = (now: number, counters: CounterOp[], links: LinkOp[]) => r.kqRiskHit!(now, counters.length, links.length, prefix, ...counters.flat(), ...links.flat());
  return {
    kind: 'redis',
    async hit(input, now) {
      const p = plan(input);
      return toResult(await run(now, p.counters, p.links));
    },
    async recordFailure(dims, now) {
      await run(now, failurePlan(dims), []);
    },
  };
}
