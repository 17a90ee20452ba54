import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { memoryFlashGate, redisFlashGate, type FlashGate, type FlashGateTerms } from './flash-sale-gate.js';

/**
 * The same cases against both gates: the memory twin always, the Redis Lua
 * scripts when REDIS_URL is set (the real-server run). Racing attempts go
 * through several Redis connections at once, so the server interleaves them.
 */
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const terms: FlashGateTerms = { units: 10, perUserLimit: 1, startsAtMs: T0, endsAtMs: T0 + 3600_000, cancelled: false };

const clients = process.env.REDIS_URL ? Array.from({ length: 4 }, () => new Redis(process.env.REDIS_URL!)) : [];
afterAll(() => clients.forEach((c) => c.disconnect()));

type Make = () => FlashGate[];
const impls: [string, Make][] = [
  [
    'memory',
    () => {
      const g = memoryFlashGate();
      return [g];
    },
  ],
];
if (clients.length) {
  impls.push([
    'redis',
    () => {
      const prefix = `kqt:flash:${randomBytes(4).toString('hex')}:`;
      return clients.map((c) => redisFlashGate(c, prefix));
    },
  ]);
}

const sale = () => `fls_${randomBytes(6).toString('hex')}`;

describe.each(impls)('flash-sale gate (%s)', (_name, make) => {
  it('never admits more than the units when 200 users race for 10', async () => {
    const gates = make();
    const id = sale();
    await gates[0]!.define(id, terms, 0);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => gates[i % gates.length]!.admit(id, `u${i}`, `k${i}`, 1, T0 + 1000)));
    const admitted = results.filter((r) => r.outcome === 'admitted');
    expect(admitted).toHaveLength(10);
    expect(results.filter((r) => r.outcome === 'sold_out')).toHaveLength(190);
    // Each admission saw a distinct number of units left: no two took the same unit.
    expect(new Set(admitted.map((r) => (r as { remaining: number }).remaining)).size).toBe(10);
    expect(await gates[0]!.snapshot(id)).toEqual({ units: 10, remaining: 0, sold: 10 });
  });

  it('holds the per-user limit under racing attempts of one user, and recognises a retry of an admitted attempt', async () => {
    const [g] = make();
    const id = sale();
    await g!.define(id, { ...terms, perUserLimit: 2 }, 0);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => g!.admit(id, 'same-user', `key-${i}`, 1, T0 + 5)));
    expect(results.filter((r) => r.outcome === 'admitted')).toHaveLength(2);
    expect(results.filter((r) => r.outcome === 'user_limit')).toHaveLength(18);
    const first = results.findIndex((r) => r.outcome === 'admitted');
    expect(await g!.admit(id, 'same-user', `key-${first}`, 1, T0 + 6)).toEqual({ outcome: 'replay' });
    expect(await g!.admit(id, 'other-user', 'key-x', 3, T0 + 6)).toMatchObject({ outcome: 'user_limit' });
    expect((await g!.snapshot(id))!.sold).toBe(2);
  });

  it('refuses outside the window, when cancelled, and says when it does not know the sale', async () => {
    const [g] = make();
    const id = sale();
    expect(await g!.admit(id, 'u', 'k', 1, T0)).toEqual({ outcome: 'not_loaded' });
    await g!.define(id, terms, 0);
    expect(await g!.admit(id, 'u', 'k', 1, T0 - 1)).toMatchObject({ outcome: 'not_started' });
    expect(await g!.admit(id, 'u', 'k', 1, terms.endsAtMs)).toMatchObject({ outcome: 'ended' });
    expect(await g!.admit(id, 'u', 'k', 1, T0)).toMatchObject({ outcome: 'admitted', remaining: 9 });
    await g!.define(id, { ...terms, cancelled: true }, 0);
    expect(await g!.admit(id, 'u2', 'k2', 1, T0)).toMatchObject({ outcome: 'cancelled' });
    // Redefining keeps the units left (a reload after a restart must not hand out sold units again).
    expect((await g!.snapshot(id))!.remaining).toBe(9);
  });

  it('gives a failed purchase its unit and the user his count back, once', async () => {
    const [g] = make();
    const id = sale();
    await g!.define(id, { ...terms, units: 1 }, 0);
    expect(await g!.admit(id, 'u1', 'k1', 1, T0)).toMatchObject({ outcome: 'admitted', remaining: 0 });
    expect(await g!.admit(id, 'u2', 'k2', 1, T0)).toMatchObject({ outcome: 'sold_out' });
    expect(await g!.release(id, 'u1', 'k1')).toBe(true);
    expect(await g!.release(id, 'u1', 'k1')).toBe(false);
    expect(await g!.snapshot(id)).toEqual({ units: 1, remaining: 1, sold: 0 });
    // The same user may try again (his count went back), and the retry key is no longer a replay.
    expect(await g!.admit(id, 'u1', 'k1', 1, T0)).toMatchObject({ outcome: 'admitted' });
    expect((await g!.snapshot(id))!.remaining).toBe(0);
  });

  it('starts a reloaded sale from what was sold, and repair replaces the counters with the database state', async () => {
    const [g] = make();
    const id = sale();
    await g!.define(id, terms, 7, { perUser: new Map([['u9', 1]]), admitted: [{ user: 'u9', key: 'k9', quantity: 1 }] });
    expect(await g!.snapshot(id)).toEqual({ units: 10, remaining: 3, sold: 7 });
    expect(await g!.admit(id, 'u9', 'k9', 1, T0)).toEqual({ outcome: 'replay' });
    // A second load (another instance, a restart) changes nothing that was counted.
    await g!.define(id, terms, 0);
    expect(await g!.snapshot(id)).toEqual({ units: 10, remaining: 3, sold: 7 });
    await g!.repair(id, 4, { perUser: new Map([['u1', 1]]), admitted: [{ user: 'u1', key: 'k1', quantity: 1 }] });
    expect(await g!.snapshot(id)).toEqual({ units: 10, remaining: 6, sold: 4 });
    expect(await g!.admit(id, 'u1', 'k2', 1, T0)).toMatchObject({ outcome: 'user_limit' });
    expect(await g!.admit(id, 'u1', 'k1', 1, T0)).toEqual({ outcome: 'replay' });
  });

  it('clamp only lowers the units left (what the database counter says is the most), and knows an unloaded sale', async () => {
    const [g] = make();
    const id = sale();
    expect(await g!.clamp(id, 0)).toBeNull();
    await g!.define(id, terms, 0);
    expect(await g!.clamp(id, 4)).toBe(4);
    expect(await g!.clamp(id, 8)).toBe(4);
    expect(await g!.clamp(id, -2)).toBe(0);
    expect(await g!.snapshot(id)).toEqual({ units: 10, remaining: 0, sold: 10 });
    expect(await g!.admit(id, 'u1', 'k1', 1, T0)).toMatchObject({ outcome: 'sold_out', remaining: 0 });
  });
});
