import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { bearer, freshDatabaseEnv, openTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';
import { startFakeBotApi, type FakeBotApi } from '../fakes/telegram-bot-api/server.js';
import { signedHeaders } from '../../src/modules/auth/request-signature.js';
import { verifyBooks } from '../../src/modules/ledger/reconciliation.js';
import { startJobEngine } from '../../src/modules/jobs/engine.js';
import { startInstance, stopInstance, type Instance } from './cluster.js';

/**
 * Three app processes (`src/main.ts`, as `npm start` runs them) on one
 * PostgreSQL database and one Redis (its own key prefix), each on its own
 * port, hit at the same time: a flash sale sells exactly its units, every
 * instance's live dashboard sees every order, a Telegram update delivered to
 * all of them is answered once, and the scheduled jobs of three schedulers
 * and three workers each run once.
 */
const enabled = realServers && Boolean(process.env.REDIS_URL);
const TOKEN = '123456789:AAFakeTokenForKaquanTests_0123456789ab';
const SECRET = 'instances-webhook-secret-0123456';
const UNITS = 20;
const BUYERS = 60;
const SENT_JOBS = 12;

let admin: TestApp;
let fake: FakeBotApi;
let instances: Instance[] = [];
let owner: string;
let partner: { id: string; secret: string };
const sockets: { instance: string; ws: WebSocket; orders: Map<string, number> }[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
let startedAt = 0;

afterAll(async () => {
  for (const s of sockets) s.ws.terminate();
  await Promise.all(instances.map(stopInstance));
  for (const c of cleanups.reverse()) await c();
});

function connectLive(i: Instance): Promise<void> {
  const ws = new WebSocket(`${i.url.replace('http', 'ws')}/admin/live?token=${owner}`);
  const entry = { instance: i.name, ws, orders: new Map<string, number>() };
  sockets.push(entry);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${i.name}: no snapshot on /admin/live`)), 20_000);
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as { type: string; data: { id?: string } };
      if (m.type === 'snapshot') {
        clearTimeout(timer);
        resolve();
      }
      if (m.type === 'order' && m.data.id) entry.orders.set(m.data.id, (entry.orders.get(m.data.id) ?? 0) + 1);
    });
    ws.on('close', (code) => reject(new Error(`${i.name}: /admin/live closed with ${code}`)));
    ws.on('error', reject);
  });
}

async function signedPost(base: string, path: string, body: object, idem: string) {
  const raw = JSON.stringify(body);
  const res = await fetch(`${base}${path}`, { method: 'POST', body: raw, headers: { 'content-type': 'application/json', 'idempotency-key': idem, ...signedHeaders(partner.id, partner.secret, 'POST', path, raw) } });
  return { status: res.status, body: (await res.json()) as { order?: { id: string }; error?: { details?: { reason?: string } } } };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!enabled)('three instances on one PostgreSQL and one Redis (skipped without DATABASE_URL and REDIS_URL: embedded mode is one process by design)', () => {
  let saleId = '';
  let winners: string[] = [];

  beforeAll(async () => {
    startedAt = Date.now();
    fake = await startFakeBotApi({ token: TOKEN, webhookSecret: SECRET });
    cleanups.push(() => fake.close());
    const fresh = await freshDatabaseEnv();
    cleanups.push(fresh.cleanup);
    const env = {
      ...fresh.env,
      RISK_SEED_RULES: 'false',
      SEED_DEMO: 'false',
      DEMO_SUPPLIER: 'false',
      SESSION_TTL_MINUTES: '600',
      TELEGRAM_BOT_ENABLED: 'true',
      TELEGRAM_BOT_MODE: 'webhook',
      TELEGRAM_BOT_TOKEN: TOKEN,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      TELEGRAM_API_ROOT: fake.url,
    };
    // Migrates the database, then seeds through the services while the three processes start.
    admin = await openTestApp(env);
    cleanups.push(() => admin.stop());
    const starting = Promise.all(['a', 'b', 'c'].map((n) => startInstance(`instance-${n}`, { ...env, LOG_LEVEL: 'debug' })));
    owner = (await admin.loginAs('owner')).token;
    partner = (await admin.inject({ method: 'POST', url: '/admin/api-keys', headers: bearer(owner), payload: { owner_type: 'partner', owner_id: 'shop-1', name: 'shop' } })).json();
    const sku = await createCodeSku(admin, { retailPriceFen: 9_600 });
    await stockCodes(admin, sku, UNITS * 2);
    for (let i = 0; i < BUYERS; i++) {
      const c = await admin.services.customers.resolve({ identity: { provider: 'partner', externalId: `buyer-${i}` } });
      await admin.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(owner), payload: { buyer_type: 'customer', buyer_id: c.customerId, amount_fen: 1_000, reference: `fund ${i}` } });
    }
    const startsAt = new Date(Date.now() - 60_000);
    const sale = await admin.inject({
      method: 'POST',
      url: '/admin/marketing/flash-sales',
      headers: { ...bearer(owner), 'idempotency-key': `sale-${randomBytes(6).toString('hex')}` },
      payload: { name: 'Across instances', sku_id: sku, price_fen: 100, units: UNITS, per_user_limit: 1, starts_at: startsAt.toISOString(), ends_at: new Date(startsAt.getTime() + 3_600_000).toISOString() },
    });
    expect(sale.statusCode, sale.body).toBe(201);
    saleId = sale.json().id;
    instances = await starting;
    await Promise.all(instances.map(connectLive));
    console.info(`three instances ready ${Date.now() - startedAt} ms after the start (seeded meanwhile)`);
  }, 150_000);

  it(`a flash sale hit on all three at once sells exactly its ${UNITS} units`, async () => {
    const results = await Promise.all(
      Array.from({ length: BUYERS }, (_, i) => signedPost(instances[i % 3]!.url, `/open/v1/flash-sales/${saleId}/orders`, { customer: { provider: 'partner', external_id: `buyer-${i}` } }, `flash-buy-${i}-${randomBytes(4).toString('hex')}`).then((r) => ({ ...r, instance: i % 3 }))),
    );
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(UNITS);
    expect(results.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body.error?.details?.reason}`)).toEqual(Array(BUYERS - UNITS).fill('409 sold_out'));
    const [row] = (await admin.platform.database.executeSql<{ n: number; delivered: number; codes: number }>(
      `select count(*)::int as n, count(*) filter (where status = 'delivered')::int as delivered,
              (select count(*)::int from codes where order_id in (select id from orders where offer_id = $1)) as codes
         from orders where offer_kind = 'flash_sale' and offer_id = $1`,
      [saleId],
    )).rows;
    expect(row).toEqual({ n: UNITS, delivered: UNITS, codes: UNITS });
    const books = await verifyBooks(admin.platform);
    expect(books.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([]);
    console.info(`flash sale: winners per instance ${[0, 1, 2].map((i) => won.filter((w) => w.instance === i).length).join('/')}`);
    winners = won.map((w) => w.body.order!.id);
  });

  it('every instance’s live dashboard (/admin/live) sees every order, whichever instance sold it', async () => {
    expect(winners).toHaveLength(UNITS);
    await until('every socket to see every order', () => sockets.every((s) => winners.every((id) => s.orders.has(id))), 20_000);
    for (const s of sockets) expect(winners.filter((id) => !s.orders.has(id)), s.instance).toEqual([]);
  });

  it('a Telegram update delivered to each instance (twice, at once) is answered once', async () => {
    const update = fake.userMessage('/help', { userId: 7_900_001, firstName: 'Ann', languageCode: 'en' });
    const { headers, body } = fake.webhookRequest(update);
    const post = (i: Instance) => fetch(`${i.url}/bots/telegram/webhook`, { method: 'POST', headers, body }).then((r) => r.status);
    const statuses = await Promise.all([...instances, ...instances].map(post));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const replies = () => fake.callsOf('sendMessage').filter((c) => String(c.params.chat_id) === '7900001' && c.status === 200);
    await until('the reply', () => replies().length > 0, 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(replies()).toHaveLength(1);
  });

  it('background jobs run once across the three schedulers and workers', async () => {
    const doneIds = () => new Set(instances.flatMap((i) => i.logs.filter((l) => l.msg === 'job done').map((l) => String(l.id))));
    // Jobs sent from outside while all three workers poll the queue: each is taken by one of them.
    const sender = await startJobEngine(admin.platform, [], { work: false });
    const sent = await Promise.all(Array.from({ length: SENT_JOBS }, () => sender.send('vault.release-expired-reservations', {})));
    await sender.stop();
    await until('the sent jobs to run', () => sent.every((id) => doneIds().has(String(id))), 45_000);
    // The scheduled ones: three schedulers each look every 30 s (pg-boss lets one of them send a minute's jobs); on a new
    // database the first look comes before the schedules exist, so the first runs come within about 30 s of the start.
    const scheduledRuns = () => instances.flatMap((i) => i.logs).filter((l) => l.msg === 'job done' && !sent.includes(String(l.id))).length;
    await until('scheduled jobs to run', () => scheduledRuns() >= 6, 60_000);
    // Stopping lets running jobs finish, so the logs and the job table tell the same story.
    const stoppedAt = Date.now();
    await Promise.all(instances.map(stopInstance));
    const done = instances.flatMap((i) => i.logs.filter((l) => l.msg === 'job done').map((l) => ({ instance: i.name, job: String(l.job), id: String(l.id) })));
    const perId = new Map<string, number>();
    for (const d of done) perId.set(d.id, (perId.get(d.id) ?? 0) + 1);
    expect([...perId.values()].filter((n) => n > 1)).toEqual([]);
    const names = [...new Set(done.map((d) => d.job))];
    const rows = (await admin.platform.database.executeSql<{ id: string; name: string; state: string }>(
      `select id::text, name, state from pgboss.job where name = any($1::text[]) union all select id::text, name, state from pgboss.archive where name = any($1::text[])`,
      [names],
    )).rows;
    const completed = rows.filter((r) => r.state === 'completed');
    // Every completed job is one done line, and each ran in exactly one process.
    expect(completed.map((r) => r.id).sort()).toEqual([...perId.keys()].sort());
    // Three schedulers, but at most one run per job and minute.
    const minutes = Math.floor(stoppedAt / 60_000) - Math.floor(startedAt / 60_000) + 1;
    const perName = new Map<string, number>();
    for (const r of rows.filter((r) => !sent.includes(r.id))) perName.set(r.name, (perName.get(r.name) ?? 0) + 1);
    for (const [name, n] of perName) expect(n, name).toBeLessThanOrEqual(minutes);
    const byInstance = instances.map((i) => `${i.name} ${done.filter((d) => d.instance === i.name).length}`).join(', ');
    const sentBy = instances.map((i) => `${i.name} ${done.filter((d) => d.instance === i.name && sent.includes(d.id)).length}`).join(', ');
    console.info(`jobs: ${done.length} runs of ${names.length} queues over ${minutes} minute(s), none twice; runs per instance: ${byInstance}; of the ${SENT_JOBS} sent jobs: ${sentBy}`);
    expect(done.filter((d) => sent.includes(d.id))).toHaveLength(SENT_JOBS);
    expect(names.length).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
