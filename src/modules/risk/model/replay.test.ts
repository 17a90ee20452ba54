import { describe, expect, it } from 'vitest';
import { FeatureReplayer, shanghaiHour, subnetOf } from './replay.js';
import type { AttemptInput } from './traffic.js';

const t0 = new Date('2026-03-01T12:00:00+08:00').getTime();
const at = (seconds: number) => new Date(t0 + seconds * 1000);
const order = (over: Partial<AttemptInput> = {}): AttemptInput => ({
  action: 'order', ip: '10.1.2.3', deviceId: 'd1', accountId: 'a1', accountCreatedAt: new Date(t0 - 48 * 3600_000),
  amountFen: 5000, couponValueFen: 0, skuId: 's1', success: true, ...over,
});

describe('FeatureReplayer', () => {
  it('counts the current attempt and slides windows out', () => {
    const r = new FeatureReplayer();
    const a = r.next(at(0), order());
    expect(a.velocity.ip_1m).toBe(1);
    expect(a.velocity.account_amount_24h).toBe(5000);
    expect(a.priorOrders).toBe(0);
    expect(a.accountAgeHours).toBe(48);
    expect(a.hourOfDay).toBe(12);
    const b = r.next(at(30), order({ ip: '10.1.2.9' }));
    expect(b.velocity.ip_1m).toBe(1);
    expect(b.velocity.subnet_10m).toBe(2);
    expect(b.velocity.account_10m).toBe(2);
    expect(b.velocity.sku_1m).toBe(2);
    expect(b.priorOrders).toBe(1);
    expect(b.velocity.account_amount_24h).toBe(10_000);
    // 61 s after the first: it has left the 1-minute window, the second has not.
    const c = r.next(at(61), order());
    expect(c.velocity.ip_1m).toBe(1);
    expect(c.velocity.ip_10m).toBe(2);
    expect(c.velocity.sku_1m).toBe(2);
    // 25 h later the day's amount starts over.
    const d = r.next(at(25 * 3600), order());
    expect(d.velocity.account_amount_24h).toBe(5000);
    expect(d.velocity.ip_1h).toBe(1);
  });

  it('counts failures only before the attempt (its own outcome is not known when deciding)', () => {
    const r = new FeatureReplayer();
    const login = (s: number, success: boolean) => r.next(at(s), { action: 'login', ip: '1.2.3.4', accountId: 'v1', amountFen: 0, couponValueFen: 0, skuId: null, success });
    expect(login(0, false).velocity.failures_ip_1h).toBe(0);
    expect(login(1, false).velocity.failures_ip_1h).toBe(1);
    const third = login(2, true);
    expect(third.velocity.failures_ip_1h).toBe(2);
    expect(third.velocity.failures_account_1h).toBe(2);
    expect(third.velocity.failures_device_1h).toBe(0);
    expect(third.velocity.failures_global_10m).toBe(2);
    // Platform-wide per action: another IP and account still sees the login failures; an order does not; 10 minutes later they are gone.
    const other = r.next(at(3), { action: 'login', ip: '5.6.7.8', accountId: 'v2', amountFen: 0, couponValueFen: 0, skuId: null, success: false });
    expect(other.velocity).toMatchObject({ failures_global_10m: 2, failures_ip_1h: 0, failures_account_1h: 0 });
    expect(r.next(at(4), order()).velocity.failures_global_10m).toBe(0);
    expect(r.next(at(602), { action: 'login', ip: '5.6.7.9', amountFen: 0, couponValueFen: 0, skuId: null }).velocity.failures_global_10m).toBe(1);
    expect(third.missingDevice).toBe(true);
    expect(third.accountAgeHours).toBeNull();
  });

  it('links accounts to devices and IPs over 24 h; a register adds nobody yet', () => {
    const r = new FeatureReplayer();
    for (let i = 0; i < 5; i++) r.next(at(i), order({ accountId: `f${i}` }));
    const reg = r.next(at(10), { action: 'register', ip: '10.1.2.3', deviceId: 'd1', amountFen: 0, couponValueFen: 0, skuId: null });
    expect(reg.links.accounts_per_device).toBe(5);
    expect(reg.links.accounts_per_ip).toBe(5);
    expect(reg.accountAgeHours).toBeNull();
    const other = r.next(at(11), order({ accountId: 'f0', deviceId: 'd2' }));
    expect(other.links.devices_per_account).toBe(2);
    expect(other.links.accounts_per_device).toBe(1);
  });

  it('refuses attempts out of time order', () => {
    const r = new FeatureReplayer();
    r.next(at(10), order());
    expect(() => r.next(at(5), order())).toThrow(/time order/);
  });
});

describe('helpers', () => {
  it('subnetOf and shanghaiHour', () => {
    expect(subnetOf('203.0.113.7')).toBe('203.0.113');
    expect(shanghaiHour(new Date('2026-03-01T23:30:00Z'))).toBe(7);
    expect(shanghaiHour(new Date('2026-03-01T16:00:00Z'))).toBe(0);
  });
});
