/**
 * The populations of the attack replay (attack-replay.test.ts) as a timeline
 * of attempts, generated from a fixed seed so every run replays the same
 * traffic. Pure: no app, no database; the test plays the timeline through
 * the real HTTP routes, moving the injectable clock to each attempt's time.
 *
 * Who is who:
 * - honest buyers: established customer accounts (created weeks before the
 *   replay), each with a home IP (most on their own residential /24, an
 *   office of colleagues on one /24, a few phones behind one carrier CGNAT
 *   address), one or two devices, a few orders spread over the hours at a
 *   human pace (never two of one buyer within 5 minutes), varied quantities
 *   of the three SKUs;
 * - scraper: a script sweeping the hot SKU in bursts (about a minute each)
 *   from 50 data-centre IPs over three /24s, a handful of device ids and
 *   sometimes none, through a few aged accounts it controls;
 * - registration farm: a rack of phones (a few device ids) on a small pool of
 *   mobile IPs, each new account registered and placing its first order at
 *   once (small amounts, under the high-value first-order limit);
 * - credential stuffer: pairs of staff e-mail and password from a leaked list,
 *   from a pool of rotating proxy IPs, no device id;
 * - staff (honest logins, to see what the login rules cost): the real staff
 *   log in from the office /24 with the panel's device id, a few after a typo.
 */
export type Population = 'honest' | 'staff' | 'scraper' | 'farm' | 'stuffer';
export type SkuKey = 'hot' | 'regular' | 'cheap';

export interface OrderAttempt {
  kind: 'order';
  at: number;
  population: Exclude<Population, 'stuffer'>;
  /** The partner's id of the end customer (customer.external_id). */
  customer: string;
  /** Farm accounts are registered (resolved) at the moment of their first order. */
  registerNow: boolean;
  ip: string;
  deviceId?: string;
  sku: SkuKey;
  quantity: number;
}

export interface LoginAttempt {
  kind: 'login';
  at: number;
  population: 'stuffer' | 'staff';
  ip: string;
  deviceId?: string;
  email: string;
  password: string;
}

export type Attempt = OrderAttempt | LoginAttempt;

export interface ScenarioSizes {
  honestBuyers: number;
  ordersPerBuyer: [min: number, max: number];
  scraperAttempts: number;
  scraperBursts: number;
  farmAccounts: number;
  stufferLogins: number;
  /** Length of the replay. */
  hours: number;
}

export const defaultSizes: ScenarioSizes = { honestBuyers: 100, ordersPerBuyer: [2, 4], scraperAttempts: 300, scraperBursts: 5, farmAccounts: 150, stufferLogins: 200, hours: 6 };

export interface Scenario {
  /** External ids of the established accounts (honest buyers and the scraper's aged accounts), created weeks before. */
  establishedAccounts: { customer: string; population: 'honest' | 'scraper' }[];
  /** Real staff e-mails (created by the test with the test password); the stuffer's list contains some of them. */
  staffEmails: string[];
  /** What a staff member types by mistake before the right password. */
  typo: string;
  attempts: Attempt[];
}

const MIN = 60_000;

/** mulberry32: small, fast, and the same sequence everywhere. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
  return { next, int, pick, hex };
}

export function buildScenario(staffPassword: string, sizes: ScenarioSizes = defaultSizes, seed = 20261129): Scenario {
  const r = rng(seed);
  const span = sizes.hours * 60 * MIN;
  const attempts: Attempt[] = [];
  const establishedAccounts: Scenario['establishedAccounts'] = [];

  // ---- honest buyers
  const office = Math.max(1, Math.round(sizes.honestBuyers * 0.2));
  const cgnat = Math.max(1, Math.round(sizes.honestBuyers * 0.06));
  for (let b = 0; b < sizes.honestBuyers; b++) {
    const customer = `honest-${b}`;
    establishedAccounts.push({ customer, population: 'honest' });
    // Residential: one address on its own /24; office: colleagues on one /24; CGNAT: one carrier address shared.
    const ip = b < office ? `202.96.134.${10 + b}` : b < office + cgnat ? '117.136.38.5' : `${110 + (b % 70)}.${r.int(1, 250)}.${r.int(0, 255)}.${r.int(2, 254)}`;
    const devices = Array.from({ length: r.next() < 0.35 ? 2 : 1 }, () => `hd-${r.hex(16)}`);
    const n = r.int(sizes.ordersPerBuyer[0], sizes.ordersPerBuyer[1]);
    // Times at least 5 minutes apart, anywhere in the replay.
    const times: number[] = [];
    while (times.length < n) {
      const t = r.int(0, span - MIN);
      if (times.every((x) => Math.abs(x - t) >= 5 * MIN)) times.push(t);
    }
    for (const at of times.sort((x, y) => x - y)) {
      const u = r.next();
      const sku: SkuKey = u < 0.4 ? 'hot' : u < 0.8 ? 'regular' : 'cheap';
      attempts.push({ kind: 'order', at, population: 'honest', customer, registerNow: false, ip, deviceId: r.pick(devices), sku, quantity: r.pick([1, 1, 1, 2, 2, 3]) });
    }
  }

  // ---- scraper: bursts on the hot SKU
  const scraperIps = Array.from({ length: 50 }, (_, i) => `45.${[83, 83, 91][i % 3]}.${[12, 240, 7][i % 3]}.${10 + Math.floor(i / 3) * 11}`);
  const scraperDevices = Array.from({ length: 5 }, () => `sd-${r.hex(16)}`);
  const scraperAccounts = Array.from({ length: 6 }, (_, i) => `aged-${i}`);
  for (const customer of scraperAccounts) establishedAccounts.push({ customer, population: 'scraper' });
  const perBurst = Math.ceil(sizes.scraperAttempts / sizes.scraperBursts);
  for (let k = 0, made = 0; k < sizes.scraperBursts; k++) {
    const start = Math.floor(((k + 0.3 + r.next() * 0.4) * span) / sizes.scraperBursts);
    for (let j = 0; j < perBurst && made < sizes.scraperAttempts; j++, made++) {
      attempts.push({
        kind: 'order',
        at: start + Math.floor((j * 70_000) / perBurst) + r.int(0, 900),
        population: 'scraper',
        customer: r.pick(scraperAccounts),
        registerNow: false,
        ip: r.pick(scraperIps),
        deviceId: r.next() < 0.25 ? undefined : r.pick(scraperDevices),
        sku: 'hot',
        quantity: r.int(2, 5),
      });
    }
  }

  // ---- registration farm: new accounts on a rack of phones, first order at once
  const farmDevices = Array.from({ length: 4 }, () => `fd-${r.hex(16)}`);
  const farmIps = Array.from({ length: 10 }, (_, i) => `223.104.${i < 5 ? 3 : 17}.${20 + i * 7}`);
  for (let a = 0; a < sizes.farmAccounts; a++) {
    attempts.push({
      kind: 'order',
      at: Math.floor((a * span) / sizes.farmAccounts) + r.int(0, 60_000),
      population: 'farm',
      customer: `farm-${a}`,
      registerNow: true,
      ip: r.pick(farmIps),
      deviceId: farmDevices[a % farmDevices.length],
      sku: r.next() < 0.5 ? 'cheap' : 'regular',
      quantity: 1,
    });
  }

  // ---- credential stuffer: a leaked list of (e-mail, password), rotating proxies, a few waves
  const staffEmails = ['ops@kaquan.test', 'finance@kaquan.test', 'admin@kaquan.test', ...Array.from({ length: 9 }, (_, i) => `staff${i}@kaquan.test`)];
  const guessedEmails = [...staffEmails.slice(0, 3), ...Array.from({ length: 37 }, (_, i) => `${['li', 'wang', 'zhang', 'liu', 'chen', 'yang', 'zhao', 'huang'][i % 8]}.${i}@kaquan.test`)];
  const passwords = ['123456', 'password', 'qwerty123', 'kaquan2026', 'Aa123456', 'iloveyou', '88888888', 'admin@123', 'welcome1', '5201314'];
  const stufferIps = Array.from({ length: 40 }, (_, i) => `185.${[220, 220, 173, 173][i % 4]}.${[101, 102, 8, 9][i % 4]}.${2 + Math.floor(i / 4) * 23}`);
  const waves = 4;
  for (let i = 0; i < sizes.stufferLogins; i++) {
    const wave = i % waves;
    const start = Math.floor(((wave + 0.5) * span) / waves);
    attempts.push({ kind: 'login', at: start + Math.floor(i / waves) * 4_000 + r.int(0, 3_000), population: 'stuffer', ip: r.pick(stufferIps), email: r.pick(guessedEmails), password: r.pick(passwords) });
  }

  // ---- staff: one or two logins each over the replay, from the office, with the panel's device id; every fourth after a typo
  const typo = `${staffPassword.slice(0, -2)}${staffPassword.slice(-1)}${staffPassword.slice(-2, -1)}`;
  staffEmails.forEach((email, i) => {
    const deviceId = `pd-${r.hex(16)}`;
    const ip = `202.96.134.${200 + i}`;
    for (let k = 0; k < (i % 2 ? 2 : 1); k++) {
      const at = r.int(0, span - 2 * MIN);
      if ((i + k) % 4 === 0) attempts.push({ kind: 'login', at, population: 'staff', ip, deviceId, email, password: typo });
      attempts.push({ kind: 'login', at: at + 20_000, population: 'staff', ip, deviceId, email, password: staffPassword });
    }
  });

  attempts.sort((x, y) => x.at - y.at);
  return { establishedAccounts, staffEmails, typo, attempts };
}
