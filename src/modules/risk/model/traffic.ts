import { DAY, HOUR, MINUTE, SECOND } from '../../../lib/clock.js';
import type { RiskAction } from '../features.js';
import { seededRandom } from '../../../lib/seeded-random.js';

/**
 * A seeded generator of labelled traffic: honest buyers with their everyday
 * noise (shared café/office subnets, mobile CGNAT addresses, families sharing
 * a phone, flash-sale rushes, typo'd passwords) mixed with scanning scripts,
 * registration farms, credential stuffers and coupon abusers. Same seed, same
 * stream: the model, its report and the tests are reproducible.
 */

export type Actor = 'honest' | 'scanner' | 'farm' | 'stuffer' | 'coupon_abuse';
export const actors: readonly Actor[] = ['honest', 'scanner', 'farm', 'stuffer', 'coupon_abuse'];

export interface AttemptInput {
  action: RiskAction;
  ip: string;
  deviceId?: string;
  accountId?: string;
  accountCreatedAt?: Date;
  amountFen: number;
  couponValueFen: number;
  /** null for actions that are not about a product (login, register, withdrawal). */
  skuId: string | null;
  agentId?: string;
  /** Outcome, known only after the decision (a login's password check, a code's validity). */
  success?: boolean;
}

export interface Attempt {
  at: Date;
  label: 'legit' | 'fraud';
  actor: Actor;
  input: AttemptInput;
}

export interface TrafficOptions {
  seed?: number;
  days?: number;
  /** Midnight Asia/Shanghai of the first simulated day. */
  start?: Date;
  honestUsers?: number;
  /** Campaigns per simulated day, by population. */
  scannerPerDay?: number;
  farmPerDay?: number;
  stufferPerDay?: number;
  couponAbusePerDay?: number;
}

export const defaultTrafficStart = new Date('2026-03-01T00:00:00+08:00');

/** The generator's PRNG (mulberry32), seeded: the same traffic for the same seed. */
export const mulberry32 = seededRandom;

class Rng {
  constructor(readonly next: () => number) {}
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[Math.floor(this.next() * xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
  /** Index drawn in proportion to weights. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] ?? 0;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
  /** Log-normal around a median, for amounts and gaps people choose. */
  logNormal(median: number, sigma: number): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return median * Math.exp(sigma * z);
  }
  /** Poisson count, for "how many campaigns today". */
  poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }
}

// When people shop, Asia/Shanghai: quiet at night, lunch bump, evening peak.
const humanHourWeights = [3, 1.5, 0.8, 0.5, 0.4, 0.5, 1.5, 3, 5, 6, 6, 7, 9, 8, 6, 6, 6, 7, 8, 10, 12, 12, 10, 6];
const residentialFirstOctets = [36, 58, 59, 60, 61, 101, 111, 112, 113, 114, 115, 116, 117, 119, 120, 121, 122, 123, 124, 125, 180, 182, 183, 218, 219, 220, 221, 222, 223];
const datacenterFirstOctets = [8, 39, 47, 106, 118, 139, 150];
const mobileFirstOctets = [111, 117, 223, 112];
const denominations = [1000, 2000, 3000, 5000, 10000, 20000, 30000, 50000, 100000];
const NEW_USER_COUPON_MAX_FEN = 2000;

interface Sku {
  id: string;
  priceFen: number;
}

interface HonestUser {
  accountId: string;
  createdAt: Date;
  devices: string[];
  homeIp: string;
  officeIp: string | null;
  mobileIp: string | null;
  agentId: string | undefined;
  /** Visits per day, varied: some buy daily, most now and then. */
  activity: number;
  /** Joins during the simulation: registers, claims the new-user coupon, first order. */
  joinsAt: number | null;
  /** Web-only client: never sends a device id. */
  web: boolean;
  /** A small shop or office buyer: many round, high-value orders in one sitting, legitimately. */
  bulk: boolean;
}

export function generateTraffic(options: TrafficOptions = {}): Attempt[] {
  const seed = options.seed ?? 42;
  const days = options.days ?? 30;
  const start = (options.start ?? defaultTrafficStart).getTime();
  const end = start + days * DAY;
  const rng = new Rng(mulberry32(seed));
  const out: Attempt[] = [];
  let serial = 0;
  const id = (prefix: string) => `${prefix}_${(serial++).toString(36)}`;
  const subnet = (firsts: readonly number[]) => `${rng.pick(firsts)}.${rng.int(0, 255)}.${rng.int(0, 255)}`;
  const hostIn = (net: string) => `${net}.${rng.int(2, 254)}`;
  const push = (actor: Actor, atMs: number, input: AttemptInput) => {
    if (atMs < start || atMs >= end) return;
    out.push({ at: new Date(Math.floor(atMs)), label: actor === 'honest' ? 'legit' : 'fraud', actor, input });
  };
  const humanTime = (day: number) => start + day * DAY + rng.weighted(humanHourWeights) * HOUR + rng.next() * HOUR;

  // Catalog: mostly round denominations (card codes are sold that way, so a round amount alone proves nothing).
  const skus: Sku[] = [];
  for (let i = 0; i < 120; i++) {
    const base = rng.pick(denominations);
    skus.push({ id: `sku_${i}`, priceFen: rng.chance(0.7) ? base : Math.round((base * rng.int(85, 99)) / 100) });
  }
  const popularity = skus.map((_, i) => 1 / (i + 1)); // Zipf
  const cheapSkus = skus.filter((s) => s.priceFen <= 3000);
  const dearSkus = skus.filter((s) => s.priceFen >= 20000);
  const agents = Array.from({ length: 25 }, () => id('agt'));

  // ---- honest buyers -------------------------------------------------------
  const userCount = options.honestUsers ?? 3000;
  const offices = Array.from({ length: Math.max(4, Math.round(userCount / 30)) }, () => subnet(residentialFirstOctets));
  const officeIps = offices.map((net) => Array.from({ length: 3 }, () => hostIn(net)));
  // Mobile carriers put crowds behind a few CGNAT subnets: busy /24s full of honest people.
  const mobileNets = Array.from({ length: Math.max(2, Math.round(userCount / 400)) }, () => subnet(mobileFirstOctets));
  const mobileIps = Array.from({ length: Math.max(4, Math.round(userCount / 40)) }, () => hostIn(rng.pick(mobileNets)));
  const users: HonestUser[] = [];
  for (let i = 0; i < userCount; i++) {
    const joinsAt = rng.chance(0.15) ? start + rng.next() * (end - start) : null;
    const ageDays = rng.chance(0.3) ? rng.int(1, 60) : rng.int(60, 1500);
    const devices = [id('dev')];
    if (rng.chance(0.3)) devices.push(id('dev'));
    const officeIdx = rng.chance(0.35) ? rng.int(0, offices.length - 1) : -1;
    users.push({
      accountId: id('acc'),
      createdAt: new Date(joinsAt ?? start - ageDays * DAY - rng.next() * DAY),
      devices,
      // Some households and small shops sit behind one address.
      homeIp: rng.chance(0.1) && users.length > 0 ? rng.pick(users).homeIp : hostIn(subnet(residentialFirstOctets)),
      officeIp: officeIdx >= 0 ? rng.pick(officeIps[officeIdx] ?? []) : null,
      mobileIp: rng.chance(0.25) ? rng.pick(mobileIps) : null,
      agentId: rng.chance(0.3) ? rng.pick(agents) : undefined,
      activity: Math.min(1, rng.logNormal(0.15, 0.9)),
      joinsAt,
      web: rng.chance(0.06),
      bulk: rng.chance(0.015),
    });
  }
  // A family shares a phone: two accounts, one device.
  for (let i = 0; i + 1 < users.length; i += 40) {
    const a = users[i];
    const b = users[i + 1];
    if (a && b) b.devices[0] = a.devices[0] ?? b.devices[0] ?? id('dev');
  }

  const honestOrder = (u: HonestUser, at: number, ip: string, device: string | undefined, sku: Sku, coupon: number) => {
    const qty = rng.chance(0.8) ? 1 : rng.int(2, 3);
    push('honest', at, {
      action: 'order', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt,
      amountFen: sku.priceFen * qty, couponValueFen: coupon, skuId: sku.id, agentId: u.agentId, success: true,
    });
  };

  const flashSaleDays = new Set<number>();
  for (let d = 0; d < days; d++) if (rng.chance(0.2)) flashSaleDays.add(d);
  const flashSku = (d: number) => skus[(d * 7) % skus.length] ?? skus[0]!;

  for (const u of users) {
    if (u.joinsAt !== null) {
      // Joining: register, claim the new-user coupon, then (usually) a first order with it.
      let t = u.joinsAt;
      const device = u.devices[0];
      const ip = rng.chance(0.6) ? u.homeIp : (u.mobileIp ?? u.homeIp);
      push('honest', t, { action: 'register', ip, deviceId: device, amountFen: 0, couponValueFen: 0, skuId: null, agentId: u.agentId, success: true });
      t += rng.logNormal(90, 1) * SECOND;
      const coupon = rng.chance(0.5) ? NEW_USER_COUPON_MAX_FEN : rng.pick([500, 1000, 1500]);
      if (rng.chance(0.7)) {
        push('honest', t, { action: 'coupon_claim', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt, amountFen: 0, couponValueFen: coupon, skuId: null, agentId: u.agentId, success: true });
        t += rng.logNormal(10, 1.2) * MINUTE;
        if (rng.chance(0.75)) honestOrder(u, t, ip, device, skus[rng.weighted(popularity)]!, coupon);
      }
    }
    for (let d = 0; d < days; d++) {
      const dayStart = start + d * DAY;
      if (u.joinsAt !== null && dayStart + DAY < u.joinsAt) continue;
      if (!rng.chance(u.activity)) continue;
      let t = humanTime(d);
      if (u.joinsAt !== null && t < u.joinsAt) continue;
      const hour = Math.floor((t - dayStart) / HOUR);
      const atWork = hour >= 9 && hour < 18 && u.officeIp !== null && rng.chance(0.6);
      const ip = atWork ? u.officeIp! : u.mobileIp !== null && rng.chance(0.35) ? u.mobileIp : u.homeIp;
      // Old web client or privacy settings: no device id now and then.
      const device = u.web || rng.chance(0.03) ? undefined : rng.pick(u.devices);
      if (rng.chance(0.45)) {
        if (rng.chance(0.07)) {
          // A typo or two before getting in.
          const tries = rng.int(1, 3);
          for (let k = 0; k < tries; k++) {
            push('honest', t, { action: 'login', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt, amountFen: 0, couponValueFen: 0, skuId: null, success: false });
            t += rng.logNormal(15, 0.7) * SECOND;
          }
        }
        push('honest', t, { action: 'login', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt, amountFen: 0, couponValueFen: 0, skuId: null, success: true });
        t += rng.logNormal(40, 1) * SECOND;
      }
      const flash = flashSaleDays.has(d) && rng.chance(0.3);
      if (flash) {
        // Everyone rushes the same SKU at 20:00.
        t = dayStart + 20 * HOUR + rng.logNormal(40, 1) * SECOND;
        honestOrder(u, t, ip, device, flashSku(d), 0);
        continue;
      }
      if (u.bulk && rng.chance(0.5)) {
        const sku = rng.pick(dearSkus.length > 0 ? dearSkus : skus);
        const n = rng.int(5, 25);
        for (let k = 0; k < n; k++) {
          honestOrder(u, t, ip, device, rng.chance(0.8) ? sku : skus[rng.weighted(popularity)]!, 0);
          t += rng.logNormal(20, 0.8) * SECOND;
        }
        continue;
      }
      const orders = rng.chance(0.7) ? 1 : rng.chance(0.7) ? 2 : rng.int(3, 5);
      for (let k = 0; k < orders; k++) {
        const coupon = rng.chance(0.12) ? rng.pick([300, 500, 800, 1000]) : 0;
        honestOrder(u, t, ip, device, skus[rng.weighted(popularity)]!, coupon);
        t += rng.logNormal(3, 1) * MINUTE;
      }
      if (rng.chance(0.08)) {
        push('honest', t, { action: 'cdk_redeem', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt, amountFen: 0, couponValueFen: 0, skuId: skus[rng.weighted(popularity)]!.id, success: rng.chance(0.9) });
      }
      if (u.agentId !== undefined && rng.chance(0.03)) {
        push('honest', t + MINUTE, { action: 'withdrawal', ip, deviceId: device, accountId: u.accountId, accountCreatedAt: u.createdAt, amountFen: rng.int(50, 2000) * 100, couponValueFen: 0, skuId: null, success: true });
      }
    }
  }

  const campaignStart = (nightBias: number) => {
    const d = rng.int(0, days - 1);
    return rng.chance(nightBias) ? start + d * DAY + rng.next() * 6 * HOUR : humanTime(d);
  };
  const campaigns = (perDay: number | undefined, fallback: number) => rng.poisson((perDay ?? fallback) * days);

  // ---- scanning scripts: many IPs in a few /24s, few or no devices, one hot SKU, round high amounts ----
  const scanners = campaigns(options.scannerPerDay, 1.2);
  for (let c = 0; c < scanners; c++) {
    const nets = Array.from({ length: rng.int(1, 3) }, () => subnet(rng.chance(0.7) ? datacenterFirstOctets : residentialFirstOctets));
    const ips = Array.from({ length: rng.int(10, 60) }, () => hostIn(rng.pick(nets)));
    const devices = rng.chance(0.55) ? [] : Array.from({ length: rng.int(1, 5) }, () => id('dev'));
    const accounts = Array.from({ length: rng.int(2, 10) }, () => ({ id: id('acc'), createdAt: new Date(start - rng.int(0, 400) * DAY - rng.next() * DAY) }));
    const sku = rng.pick(dearSkus.length > 0 ? dearSkus : skus);
    const slow = rng.chance(0.3); // low and slow: harder to see in short windows
    const n = slow ? rng.int(40, 120) : rng.int(60, 300);
    let t = campaignStart(0.5);
    for (let k = 0; k < n; k++) {
      const acct = rng.pick(accounts);
      push('scanner', t, {
        action: 'order', ip: rng.pick(ips), deviceId: devices.length > 0 ? rng.pick(devices) : undefined,
        accountId: acct.id, accountCreatedAt: acct.createdAt,
        amountFen: sku.priceFen * rng.pick([1, 2, 5, 10]), couponValueFen: 0, skuId: sku.id, success: rng.chance(0.8),
      });
      t += slow ? rng.logNormal(90, 0.6) * SECOND : rng.logNormal(2, 0.8) * SECOND;
    }
  }

  // ---- registration farms: few devices, many fresh accounts, new-user coupons, first orders ----
  const farms = campaigns(options.farmPerDay, 0.8);
  for (let c = 0; c < farms; c++) {
    const net = subnet(rng.chance(0.5) ? datacenterFirstOctets : residentialFirstOctets);
    const ips = Array.from({ length: rng.int(1, 8) }, () => hostIn(net));
    const devices = Array.from({ length: rng.int(1, 4) }, () => id('dev'));
    const stealthy = rng.chance(0.3);
    // Some farms work for a crooked agent, harvesting referral commission.
    const agentId = rng.chance(0.4) ? rng.pick(agents) : undefined;
    let t = campaignStart(0.4);
    const accountsN = rng.int(15, 60);
    for (let a = 0; a < accountsN; a++) {
      const ip = rng.pick(ips);
      const device = rng.chance(0.15) ? undefined : rng.pick(devices);
      const accountId = id('acc');
      push('farm', t, { action: 'register', ip, deviceId: device, amountFen: 0, couponValueFen: 0, skuId: null, agentId, success: true });
      const createdAt = new Date(Math.floor(t));
      let u = t + rng.logNormal(20, 0.6) * SECOND;
      push('farm', u, { action: 'coupon_claim', ip, deviceId: device, accountId, accountCreatedAt: createdAt, amountFen: 0, couponValueFen: NEW_USER_COUPON_MAX_FEN, skuId: null, agentId, success: true });
      u += rng.logNormal(60, 0.8) * SECOND;
      if (rng.chance(0.8)) {
        const sku = rng.pick(cheapSkus.length > 0 ? cheapSkus : skus);
        push('farm', u, { action: 'order', ip, deviceId: device, accountId, accountCreatedAt: createdAt, amountFen: sku.priceFen, couponValueFen: NEW_USER_COUPON_MAX_FEN, skuId: sku.id, agentId, success: true });
      }
      t += stealthy ? rng.logNormal(25, 0.5) * MINUTE : rng.logNormal(2, 0.6) * MINUTE;
    }
  }

  // ---- credential stuffing: leaked account lists, rotating proxies, mostly failing ----
  const stuffers = campaigns(options.stufferPerDay, 0.5);
  for (let c = 0; c < stuffers; c++) {
    const nets = Array.from({ length: rng.int(3, 20) }, () => subnet(rng.chance(0.5) ? datacenterFirstOctets : residentialFirstOctets));
    const ips = Array.from({ length: rng.int(15, 200) }, () => hostIn(rng.pick(nets)));
    const deviceMode = rng.weighted([5, 3, 2]); // none, a few fixed fingerprints, a fresh one per try
    const devices = Array.from({ length: rng.int(1, 3) }, () => id('dev'));
    const n = rng.int(100, 500);
    let t = campaignStart(0.5);
    for (let k = 0; k < n; k++) {
      // Half the list matches real accounts here (reused passwords), the rest do not exist.
      const victim = rng.chance(0.5) && users.length > 0 ? rng.pick(users) : null;
      const deviceId = deviceMode === 0 ? undefined : deviceMode === 1 ? rng.pick(devices) : id('dev');
      push('stuffer', t, {
        action: 'login', ip: rng.pick(ips), deviceId,
        accountId: victim?.accountId ?? id('acc'), accountCreatedAt: victim?.createdAt,
        amountFen: 0, couponValueFen: 0, skuId: null, success: victim !== null && rng.chance(0.04),
      });
      t += rng.logNormal(6, 1) * SECOND;
    }
  }

  // ---- coupon abuse: one person, one phone, a string of new accounts each taking the top coupon ----
  const abusers = campaigns(options.couponAbusePerDay, 1.2);
  for (let c = 0; c < abusers; c++) {
    const device = id('dev');
    const ips = [hostIn(subnet(residentialFirstOctets)), hostIn(subnet(mobileFirstOctets))];
    let t = humanTime(rng.int(0, days - 1));
    const accountsN = rng.int(3, 12);
    for (let a = 0; a < accountsN; a++) {
      const ip = rng.chance(0.7) ? ips[0]! : ips[1]!;
      const accountId = id('acc');
      push('coupon_abuse', t, { action: 'register', ip, deviceId: device, amountFen: 0, couponValueFen: 0, skuId: null, success: true });
      const createdAt = new Date(Math.floor(t));
      let u = t + rng.logNormal(60, 0.8) * SECOND;
      push('coupon_abuse', u, { action: 'coupon_claim', ip, deviceId: device, accountId, accountCreatedAt: createdAt, amountFen: 0, couponValueFen: NEW_USER_COUPON_MAX_FEN, skuId: null, success: true });
      u += rng.logNormal(3, 0.8) * MINUTE;
      const sku = rng.pick(cheapSkus.length > 0 ? cheapSkus : skus);
      push('coupon_abuse', u, { action: 'order', ip, deviceId: device, accountId, accountCreatedAt: createdAt, amountFen: sku.priceFen, couponValueFen: NEW_USER_COUPON_MAX_FEN, skuId: sku.id, success: true });
      t += rng.logNormal(15, 0.8) * MINUTE;
    }
  }

  // Stable sort: equal instants keep generation order, so the stream is a pure function of the seed.
  return out
    .map((a, i) => ({ a, i }))
    .sort((x, y) => x.a.at.getTime() - y.a.at.getTime() || x.i - y.i)
    .map((x) => x.a);
}
