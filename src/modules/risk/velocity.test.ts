import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { memoryVelocity, redisVelocity, type VelocityCounters, type VelocityInput } from './velocity.js';

/**
 * The same cases against both implementations: the memory counters always,
 * the Redis script when REDIS_URL is set (the real-server run).
 */
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const base: VelocityInput = { action: 'order', ip: '203.0.113.7', subnet: '203.0.113.0/24', device: 'dev-1', account: 'customer:cus_1', sku: 'sku_1', amountFen: 1000 };

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : null;
afterAll(() => redis?.disconnect());

const impls: [string, () => VelocityCounters][] = [['memory', () => memoryVelocity()]];
if (redis) impls.push(['redis', () => redisVelocity(redis, `kqt:vel:${randomBytes(4).toString('hex')}:`)]);

describe.each(impls)('velocity counters (%s)', (_name, make) => {
  it('counts attempts in sliding minute windows and forgets them as the clock moves', async () => {
    const c = make();
    for (let i = 0; i < 3; i++) await c.hit(base, T0 + i * 1000);
    let r = await c.hit(base, T0 + 5000);
    expect(r.velocity).toMatchObject({ ip_1m: 4, ip_10m: 4, ip_1h: 4, subnet_10m: 4, device_10m: 4, account_10m: 4, sku_1m: 4, account_amount_24h: 4000 });
    r = await c.hit(base, T0 + MIN);
    expect(r.velocity.ip_1m).toBe(1);
    expect(r.velocity.ip_10m).toBe(5);
    r = await c.hit(base, T0 + 10 * MIN);
    expect(r.velocity).toMatchObject({ ip_1m: 1, ip_10m: 2, ip_1h: 6 });
    r = await c.hit(base, T0 + 60 * MIN);
    expect(r.velocity).toMatchObject({ ip_1m: 1, ip_10m: 1, ip_1h: 3, account_amount_24h: 7000 });
    r = await c.hit({ ...base, amountFen: 0 }, T0 + 25 * 60 * MIN);
    expect(r.velocity.account_amount_24h).toBe(0);
  });

  it('keeps actions and dimensions apart; an absent dimension reads 0', async () => {
    const c = make();
    await c.hit(base, T0);
    const r = await c.hit({ ...base, action: 'login', device: undefined, sku: undefined, ip: '203.0.113.8' }, T0 + 1);
    expect(r.velocity).toMatchObject({ ip_1m: 1, subnet_10m: 1, device_10m: 0, account_10m: 1, sku_1m: 0 });
    const o = await c.hit({ ...base, ip: '203.0.113.9' }, T0 + 2);
    expect(o.velocity).toMatchObject({ ip_1m: 1, subnet_10m: 2, device_10m: 2, account_10m: 2 });
  });

  it('counts distinct accounts per device, devices per account and accounts per IP over 24 h', async () => {
    const c = make();
    for (let i = 0; i < 4; i++) await c.hit({ ...base, account: `customer:cus_${i}` }, T0 + i);
    let r = await c.hit({ ...base, account: 'customer:cus_0' }, T0 + 10);
    expect(r.links).toEqual({ accounts_per_device: 4, devices_per_account: 1, accounts_per_ip: 4 });
    r = await c.hit({ ...base, account: 'customer:cus_0', device: 'dev-2' }, T0 + 20);
    expect(r.links).toEqual({ accounts_per_device: 1, devices_per_account: 2, accounts_per_ip: 4 });
    r = await c.hit({ ...base, account: 'customer:cus_9' }, T0 + 24 * 60 * MIN + 30);
    expect(r.links).toEqual({ accounts_per_device: 1, devices_per_account: 1, accounts_per_ip: 1 });
  });

  it('records failures apart and lets them age out of the hour', async () => {
    const c = make();
    for (let i = 0; i < 5; i++) await c.recordFailure({ action: 'login', ip: base.ip, account: base.account }, T0 + i * MIN);
    let r = await c.hit(base, T0 + 5 * MIN);
    expect(r.velocity).toMatchObject({ failures_ip_1h: 5, failures_account_1h: 5, failures_device_1h: 0, ip_1m: 1 });
    r = await c.hit(base, T0 + 62 * MIN);
    expect(r.velocity).toMatchObject({ failures_ip_1h: 2, failures_account_1h: 2 });
  });

  it('counts failures platform-wide per action over 10 minute buckets, whatever the IP, device or account, without the attempt itself', async () => {
    const c = make();
    const login = { ...base, action: 'login' as const, sku: undefined, amountFen: 0 };
    // One failure a minute from a fresh proxy IP and account each time, and one wrong redemption code.
    for (let i = 0; i < 12; i++) await c.recordFailure({ action: 'login', ip: `198.51.100.${i}`, account: `staff:login_${i}` }, T0 + i * MIN + 500);
    await c.recordFailure({ action: 'cdk_redeem', ip: '198.51.100.200', device: 'dev-x' }, T0 + 11 * MIN);
    // At minute 11 the window holds minutes 2..11: ten failures; a login never seen before reads them all.
    let r = await c.hit({ ...login, ip: '192.0.2.1', subnet: '192.0.2.0/24', device: undefined, account: 'staff:stf_new' }, T0 + 11 * MIN + 30_000);
    expect(r.velocity).toMatchObject({ failures_global_10m: 10, failures_ip_1h: 0, failures_account_1h: 0 });
    // Reading does not count: the same attempt again sees the same number.
    r = await c.hit(login, T0 + 11 * MIN + 31_000);
    expect(r.velocity.failures_global_10m).toBe(10);
    // Per action: redemption codes and orders have their own (orders never fail this way).
    expect((await c.hit({ ...base, action: 'cdk_redeem' }, T0 + 11 * MIN + 32_000)).velocity.failures_global_10m).toBe(1);
    expect((await c.hit(base, T0 + 11 * MIN + 33_000)).velocity.failures_global_10m).toBe(0);
    // Minutes age out one by one; after 10 quiet minutes nothing is left.
    expect((await c.hit(login, T0 + 15 * MIN)).velocity.failures_global_10m).toBe(6);
    expect((await c.hit(login, T0 + 21 * MIN)).velocity.failures_global_10m).toBe(0);
  });
});
