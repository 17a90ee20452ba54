import type { Redis } from 'ioredis';

/**
 * The flash-sale gate: the one place that decides, before any database work,
 * whether a purchase attempt may go on. Per sale it holds the window, the
 * units left, how many units each buyer took and which (buyer, Idempotency-Key)
 * pairs were let through (so a retry of an admitted attempt is recognised and
 * replayed, not refused as over the limit). Admission is one atomic step: in
 * Redis ONE Lua script (EVALSHA), in memory the same arithmetic in one
 * synchronous block (the embedded mode is one process). Time is passed in.
 *
 * The database stays the truth: each order takes its units from the sale's
 * counter too (flash-sale-purchase.ts), and when that refuses, the gate is
 * told with `clamp`; reconciliation (see flash-sale-service.ts) rebuilds the
 * gate from the orders with `repair`.
 */
export interface FlashGateTerms {
  units: number;
  perUserLimit: number;
  startsAtMs: number;
  endsAtMs: number;
  cancelled: boolean;
}

export type GateRefusal = 'sold_out' | 'not_started' | 'ended' | 'user_limit' | 'cancelled';
export type AdmitResult = { outcome: 'admitted'; remaining: number } | { outcome: 'replay' } | { outcome: 'not_loaded' } | { outcome: GateRefusal; remaining: number };

export interface GateSnapshot {
  units: number;
  remaining: number;
  sold: number;
}

/** What the database says was sold: units per buyer and the admitted (buyer, key) pairs with their quantities. */
export interface GateState {
  perUser: Map<string, number>;
  admitted: { user: string; key: string; quantity: number }[];
}

export interface FlashGate {
  readonly kind: 'redis' | 'memory';
  /**
   * Sets a sale's terms. The counters are set only the first time, atomically with it (units left = units - sold,
   * and the buyers' counts and admitted keys of `state`): a reload never resets what other instances admitted since.
   */
  define(saleId: string, terms: FlashGateTerms, sold: number, state?: GateState): Promise<void>;
  admit(saleId: string, user: string, key: string, quantity: number, nowMs: number): Promise<AdmitResult>;
  /** Gives an admitted attempt's units and the buyer's count back; false when that attempt holds nothing (already released). */
  release(saleId: string, user: string, key: string): Promise<boolean>;
  snapshot(saleId: string): Promise<GateSnapshot | null>;
  /** Replaces the counters with the database's: units left = units - sold, per-user counts and admitted keys. */
  repair(saleId: string, sold: number, state: GateState): Promise<void>;
  /** Lowers units left to at most `atMost` (never raises them): the database's counter found the gate too generous. Null when the gate does not hold the sale. */
  clamp(saleId: string, atMost: number): Promise<number | null>;
}

/** How long a sale's gate outlives its end (for late retries and reconciliation). */
export const GATE_TTL_AFTER_END_MS = 7 * 24 * 3600_000;
const pair = (user: string, key: string) => `${user}|${key}`;
// Redis expires keys by its own wall clock, not by the injectable clock the sale's window is judged by.
const expireAt = (endsAtMs: number) => Math.max(endsAtMs, Date.now()) + GATE_TTL_AFTER_END_MS;

// ---- memory ----

interface MemorySale extends FlashGateTerms {
  remaining: number;
  users: Map<string, number>;
  keys: Map<string, number>;
}

export function memoryFlashGate(): FlashGate {
  const sales = new Map<string, MemorySale>();
  return {
    kind: 'memory',
    async define(saleId, terms, sold, state) {
      const s = sales.get(saleId);
      if (s) Object.assign(s, terms);
      else {
        sales.set(saleId, {
          ...terms,
          remaining: Math.max(0, terms.units - sold),
          users: new Map(state?.perUser),
          keys: new Map(state?.admitted.map((a) => [pair(a.user, a.key), a.quantity])),
        });
      }
    },
    async admit(saleId, user, key, quantity, now) {
      const s = sales.get(saleId);
      if (!s) return { outcome: 'not_loaded' };
      if (s.cancelled) return { outcome: 'cancelled', remaining: s.remaining };
      if (now < s.startsAtMs) return { outcome: 'not_started', remaining: s.remaining };
      if (now >= s.endsAtMs) return { outcome: 'ended', remaining: s.remaining };
      if (key && s.keys.has(pair(user, key))) return { outcome: 'replay' };
      if (s.remaining < quantity) return { outcome: 'sold_out', remaining: s.remaining };
      const taken = s.users.get(user) ?? 0;
      if (taken + quantity > s.perUserLimit) return { outcome: 'user_limit', remaining: s.remaining };
      s.remaining -= quantity;
      s.users.set(user, taken + quantity);
      s.keys.set(pair(user, key), quantity);
      return { outcome: 'admitted', remaining: s.remaining };
    },
    async release(saleId, user, key) {
      const s = sales.get(saleId);
      const q = s?.keys.get(pair(user, key));
      if (!s || q === undefined) return false;
      s.keys.delete(pair(user, key));
      s.remaining = Math.min(s.units, s.remaining + q);
      const left = (s.users.get(user) ?? 0) - q;
      if (left > 0) s.users.set(user, left);
      else s.users.delete(user);
      return true;
    },
    async snapshot(saleId) {
      const s = sales.get(saleId);
      return s ? { units: s.units, remaining: s.remaining, sold: s.units - s.remaining } : null;
    },
    async repair(saleId, sold, state) {
      const s = sales.get(saleId);
      if (!s) return;
      s.remaining = Math.max(0, s.units - sold);
      s.users = new Map(state.perUser);
      s.keys = new Map(state.admitted.map((a) => [pair(a.user, a.key), a.quantity]));
    },
    async clamp(saleId, atMost) {
      const s = sales.get(saleId);
      if (!s) return null;
      s.remaining = Math.min(s.remaining, Math.max(0, atMost));
      return s.remaining;
    },
  };
}

// ---- redis ----

// Lua, shared by define and repair: from ARGV[i], n (user, count) pairs into KEYS[2], then m (user, key, quantity) triples into KEYS[3].
const loadBuyersLua = `
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  redis.call('HSET', KEYS[3], ARGV[i] .. '|' .. ARGV[i + 1], ARGV[i + 2])
  i = i + 3
end
`;

// KEYS: 1 the sale's terms and units left (hash), 2 units per buyer (hash), 3 admitted buyer|key -> quantity (hash).
// ARGV: units, starts, ends, limit, cancelled, sold, expire, then n users with their counts, then m (user, key, quantity) triples.
const defineScript = `
redis.call('HSET', KEYS[1], 'units', ARGV[1], 'starts', ARGV[2], 'ends', ARGV[3], 'limit', ARGV[4], 'cancelled', ARGV[5], 'expire', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], ARGV[7])
if redis.call('HSETNX', KEYS[1], 'remaining', math.max(0, tonumber(ARGV[1]) - tonumber(ARGV[6]))) == 0 then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
local i = 8
${loadBuyersLua}redis.call('PEXPIREAT', KEYS[2], ARGV[7])
redis.call('PEXPIREAT', KEYS[3], ARGV[7])
return 1
`;

// Refusals read only: an attempt that is refused writes nothing, so a flood of them costs one hash read each.
const admitScript = `
local m = redis.call('HMGET', KEYS[1], 'remaining', 'starts', 'ends', 'limit', 'cancelled', 'expire')
if not m[1] then return {'not_loaded', 0} end
local remaining = tonumber(m[1])
local now = tonumber(ARGV[1])
if m[5] == '1' then return {'cancelled', remaining} end
if now < tonumber(m[2]) then return {'not_started', remaining} end
if now >= tonumber(m[3]) then return {'ended', remaining} end
local pair = ARGV[2] .. '|' .. ARGV[3]
if redis.call('HEXISTS', KEYS[3], pair) == 1 then return {'replay', remaining} end
local q = tonumber(ARGV[4])
if remaining < q then return {'sold_out', remaining} end
local taken = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if taken + q > tonumber(m[4]) then return {'user_limit', remaining} end
remaining = redis.call('HINCRBY', KEYS[1], 'remaining', -q)
redis.call('HINCRBY', KEYS[2], ARGV[2], q)
redis.call('HSET', KEYS[3], pair, q)
redis.call('PEXPIREAT', KEYS[2], m[6])
redis.call('PEXPIREAT', KEYS[3], m[6])
return {'admitted', remaining}
`;

const releaseScript = `
local pair = ARGV[1] .. '|' .. ARGV[2]
local q = tonumber(redis.call('HGET', KEYS[3], pair) or '0')
if q <= 0 then return 0 end
redis.call('HDEL', KEYS[3], pair)
local units = tonumber(redis.call('HGET', KEYS[1], 'units') or '0')
local remaining = tonumber(redis.call('HGET', KEYS[1], 'remaining') or '0')
redis.call('HSET', KEYS[1], 'remaining', math.min(units, remaining + q))
if redis.call('HINCRBY', KEYS[2], ARGV[1], -q) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
`;

// ARGV: sold, then n users with their counts, then m admitted (user, key, quantity) triples.
const repairScript = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local units = tonumber(redis.call('HGET', KEYS[1], 'units'))
local expire = redis.call('HGET', KEYS[1], 'expire')
redis.call('HSET', KEYS[1], 'remaining', math.max(0, units - tonumber(ARGV[1])))
redis.call('DEL', KEYS[2], KEYS[3])
local i = 2
${loadBuyersLua}if expire then
  redis.call('PEXPIREAT', KEYS[2], expire)
  redis.call('PEXPIREAT', KEYS[3], expire)
end
return 1
`;

// KEYS: 1 the sale's hash. ARGV: the most units that may be left.
const clampScript = `
local r = redis.call('HGET', KEYS[1], 'remaining')
if not r then return -1 end
local cap = math.max(0, tonumber(ARGV[1]))
if tonumber(r) <= cap then return tonumber(r) end
redis.call('HSET', KEYS[1], 'remaining', cap)
return cap
`;

const stateArgs = (state: GateState) => [state.perUser.size, ...[...state.perUser].flat(), state.admitted.length, ...state.admitted.flatMap((a) => [a.user, a.key, a.quantity])];

type Script = (...args: (string | number)[]) => Promise<unknown>;
type GateRedis = Redis & { kqFlashDefine?: Script; kqFlashAdmit?: Script; kqFlashRelease?: Script; kqFlashRepair?: Script; kqFlashClamp?: Script };

export function redisFlashGate(redis: Redis, prefix: string): FlashGate {
  const r = redis as GateRedis;
  // defineCommand sends EVALSHA and falls back to EVAL once when the server does not know the script yet.
  if (typeof r.kqFlashAdmit !== 'function') {
    redis.defineCommand('kqFlashDefine', { numberOfKeys: 3, lua: defineScript });
    redis.defineCommand('kqFlashAdmit', { numberOfKeys: 3, lua: admitScript });
    redis.defineCommand('kqFlashRelease', { numberOfKeys: 3, lua: releaseScript });
    redis.defineCommand('kqFlashRepair', { numberOfKeys: 3, lua: repairScript });
    redis.defineCommand('kqFlashClamp', { numberOfKeys: 1, lua: clampScript });
  }
  // One hash tag per sale: the three keys live in the same cluster slot, as a script needs.
  const keys = (saleId: string) => [`${prefix}{${saleId}}`, `${prefix}{${saleId}}:users`, `${prefix}{${saleId}}:keys`];
  return {
    kind: 'redis',
    async define(saleId, t, sold, state) {
      await r.kqFlashDefine!(...keys(saleId), t.units, t.startsAtMs, t.endsAtMs, t.perUserLimit, t.cancelled ? 1 : 0, sold, expireAt(t.endsAtMs), ...stateArgs(state ?? { perUser: new Map(), admitted: [] }));
    },
    async admit(saleId, user, key, quantity, now) {
      const [outcome, remaining] = (await r.kqFlashAdmit!(...keys(saleId), now, user, key, quantity)) as [string, number];
      if (outcome === 'not_loaded' || outcome === 'replay') return { outcome };
      return { outcome: outcome as 'admitted' | GateRefusal, remaining: Number(remaining) };
    },
    async release(saleId, user, key) {
      return (await r.kqFlashRelease!(...keys(saleId), user, key)) === 1;
    },
    async snapshot(saleId) {
      const [units, remaining] = await redis.hmget(keys(saleId)[0]!, 'units', 'remaining');
      if (units === null || remaining === null) return null;
      return { units: Number(units), remaining: Number(remaining), sold: Number(units) - Number(remaining) };
    },
    async repair(saleId, sold, state) {
      await r.kqFlashRepair!(...keys(saleId), sold, ...stateArgs(state));
    },
    async clamp(saleId, atMost) {
      const left = Number(await r.kqFlashClamp!(keys(saleId)[0]!, atMost));
      return left < 0 ? null : left;
    },
  };
}
