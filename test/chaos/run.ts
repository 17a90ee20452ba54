/**
 * npm run test:chaos — faults under a steady order load, against the app as a
 * child process on its own PostgreSQL cluster and Redis server (started here,
 * removed at the end, even on failure). In turn: the app SIGKILLed and
 * restarted, PostgreSQL restarted (immediate mode), Redis down for
 * CHAOS_REDIS_DOWN_S (60) seconds, the supplier timing out and answering
 * garbage, payment notifications duplicated, reordered and arriving after the
 * order was cancelled. After each: recovery awaited, unanswered writes
 * retried with their keys, then `ledger:verify` and the chaos invariants.
 * Prints a table; exits 1 on any violation. See docs/operations/chaos.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { TEST_HMAC_KEY, TEST_MASTER_KEYS } from '../helpers/boot.js';
import { rsaKeyPair, APP_ID, MCH_ID, MERCHANT_SERIAL, API_V3_KEY } from '../payments/wechat-fixture.js';
import { startFakeWeChatPay } from '../fakes/wechat-pay/server.js';
import { startSupplierSim } from '../fakes/supplier-sim/server.js';
import { startPostgres, startRedis, type PrivatePostgres, type PrivateRedis } from './servers.js';
import { freePort } from '../helpers/ports.js';
import { appProcess, type AppProcess } from './app-process.js';
import { writeFixtures } from './fixtures.js';
import { startGarbageProxy } from './garbage-proxy.js';
import { startLoad, replayUnanswered, type Load, type Sample } from './load.js';
import { chaosChecks, ledgerVerify, type Check } from './invariants.js';
import { selfTest } from './selftest.js';
import { callbacksOutOfTime, createLatePayers, killApp, redisOutage, restartPostgres, settlePurchases, supplierMisbehaves, type World } from './faults.js';

const redisDownMs = Number(process.env.CHAOS_REDIS_DOWN_S ?? 60) * 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}`);

interface Row {
  fault: string;
  injected_at: string;
  recovery_s: string;
  'ok/refused/failed during': string;
  invariants: string;
  result: string;
}
const rows: Row[] = [];
let violations = 0;

let pgServer: PrivatePostgres | undefined;
let redis: PrivateRedis | undefined;
let app: AppProcess | undefined;
let load: Load | undefined;
const closers: (() => Promise<void>)[] = [];
let work: string | undefined;

async function cleanup() {
  await load?.stop().catch(() => undefined);
  await app?.stop().catch(() => undefined);
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await redis?.destroy().catch(() => undefined);
  pgServer?.stop();
  // The app's log is kept when something failed.
  if (work && process.exitCode === 0) rmSync(work, { recursive: true, force: true });
  else if (work) console.log(`app log and keys kept in ${work}`);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void cleanup().finally(() => process.exit(130)));

try {
  work = mkdtempSync(join(tmpdir(), 'kq-chaos-'));
  pgServer = await startPostgres();
  redis = await startRedis();
  log(`private PostgreSQL on ${pgServer.port}, Redis on ${redis.port}; work dir ${work}`);
  const admin = new pg.Client({ connectionString: pgServer.adminUrl });
  await admin.connect();
  await admin.query('create database kaquan');
  await admin.end();
  const dbUrl = pgServer.adminUrl.replace(/\/postgres$/, '/kaquan');

  const merchant = rsaKeyPair();
  const wx = await startFakeWeChatPay({ appId: APP_ID, mchId: MCH_ID, apiV3Key: API_V3_KEY, merchantPublicKeyPem: merchant.publicKeyPem, merchantSerialNo: MERCHANT_SERIAL });
  closers.push(() => wx.close());
  writeFileSync(join(work, 'merchant.pem'), merchant.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(work, 'platform-keys.json'), JSON.stringify({ [wx.platformSerial]: wx.platformPublicKeyPem }));
  const sim = await startSupplierSim({ seed: 7, apiKey: 'chaos-sim-key', callbackSecret: 'chaos-sim-callback', balanceFen: 100_000_000, latencyMs: { min: 5, max: 30 }, products: [{ sku: 'steam-100', name: 'Steam ¥100', costFen: 9_300, stock: 10_000 }] });
  closers.push(() => sim.close());
  const proxy = await startGarbageProxy(sim.url);
  closers.push(() => proxy.close());

  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    DATA_DIR: work,
    DATABASE_URL: dbUrl,
    DATABASE_POOL_SIZE: '12',
    REDIS_URL: redis.url,
    REDIS_PREFIX: 'kqc:',
    VAULT_MASTER_KEYS: TEST_MASTER_KEYS,
    HMAC_KEY: TEST_HMAC_KEY,
    SESSION_SECRET: 'chaos-session-secret-with-enough-length-0123456789',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    SEED_DEMO: 'false',
    DEMO_SUPPLIER: 'false',
    // One loopback IP placing hundreds of orders a minute is what the seeded risk rules stop.
    RISK_SEED_RULES: 'false',
    // The shortest payment window: an unpaid order is cancelled within two minutes, so a payment notified after that
    // meets the same state as one delayed by hours.
    ORDER_PAYMENT_WINDOW_MINUTES: '1',
    WECHAT_PAY_BASE_URL: wx.url,
    WECHAT_PAY_APP_ID: APP_ID,
    WECHAT_PAY_MCH_ID: MCH_ID,
    WECHAT_PAY_SERIAL_NO: MERCHANT_SERIAL,
    WECHAT_PAY_PRIVATE_KEY_FILE: join(work, 'merchant.pem'),
    WECHAT_PAY_API_V3_KEY: API_V3_KEY,
    WECHAT_PAY_PLATFORM_KEYS_FILE: join(work, 'platform-keys.json'),
  };
  const fx = await writeFixtures(env, { url: proxy.url, apiKey: sim.apiKey, callbackSecret: sim.callbackSecret, externalSku: 'steam-100' }, { balanceStock: 12_000, flashUnits: 300, flashBuyers: 1_500, wechatStock: 1_000 });
  log('fixtures written (SKUs, stock, agents, keys, flash sale, supplier)');

  app = appProcess(env, port, join(work, 'app.log'));
  log(`app process ready in ${await app.start()} ms at ${app.url} (log: ${join(work, 'app.log')})`);
  load = startLoad(app.url, fx, wx, { balanceWorkers: 2, paceMs: 150 });
  const w: World = { app, pg: pgServer, redis, wx, sim, proxy, fx, load, redisDownMs, log };
  const late = await createLatePayers(w, 4);
  await sleep(5_000);

  const since = (t: number) => load!.samples.filter((s) => s.at >= t);
  const count = (xs: Sample[]) => `${xs.filter((s) => s.outcome === 'ok').length}/${xs.filter((s) => s.outcome === 'refused').length}/${xs.filter((s) => s.outcome === 'failed').length}`;

  /** Ready, and an order placed after the fault was cleared went through. */
  async function recovered(clearedAt: number, timeoutMs = 120_000): Promise<number | null> {
    while (Date.now() - clearedAt < timeoutMs) {
      if (app!.crashed()) return null;
      const ok = load!.samples.some((s) => s.at >= clearedAt && s.kind === 'balance' && s.outcome === 'ok');
      if (ok) {
        const r = await fetch(`${app!.url}/readyz`).then((x) => x.status).catch(() => 0);
        if (r === 200) return Date.now() - clearedAt;
      }
      await sleep(100);
    }
    return null;
  }

  /** inject returns when the fault is cleared, or the time it was cleared when recovery is the platform's own job (a restart). */
  async function fault(name: string, inject: () => Promise<void | number>, extra: (t0: number) => Promise<Check[]> = async () => []) {
    log(`fault: ${name}`);
    const t0 = Date.now();
    const cleared = (await inject()) ?? Date.now();
    const recoveryMs = await recovered(cleared);
    const during = since(t0).filter((s) => s.at <= Date.now());
    log(`  cleared at +${((cleared - t0) / 1000).toFixed(1)} s; recovered ${recoveryMs === null ? 'NEVER' : `${recoveryMs} ms`} later; ok/refused/failed ${count(during)}`);
    const crash = app!.crashed();
    if (crash) throw new Error(`${name}: ${crash}`);
    const replay = await replayUnanswered(app!.url, load!);
    const checks: Check[] = [
      { name: 'recovered within 120 s', violations: recoveryMs === null ? 1 : 0 },
      { name: `unanswered writes retried with their keys (${replay.replayed})`, violations: replay.unresolved },
      ...(await extra(t0)),
      ...ledgerVerify(env),
      ...(await chaosChecks({ dbUrl, appUrl: app!.url, fx, load: load!, wx, sim, final: name.startsWith('payment') })),
    ];
    const bad = checks.filter((c) => c.violations > 0);
    for (const c of bad) log(`  VIOLATION ${c.name}: ${c.violations}${c.detail ? ` (${c.detail})` : ''}`);
    violations += bad.length;
    const codes = [...new Set(during.filter((s) => s.outcome !== 'ok').map((s) => `${s.kind}:${s.code ?? s.status}`))].slice(0, 6).join(', ');
    if (codes) log(`  non-ok answers during: ${codes}`);
    const okKinds = new Map<string, number>();
    for (const s of during) if (s.outcome === 'ok') okKinds.set(s.kind, (okKinds.get(s.kind) ?? 0) + 1);
    log(`  ok during: ${[...okKinds].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
    rows.push({
      fault: name,
      injected_at: `+${((t0 - started) / 1000).toFixed(0)} s`,
      recovery_s: recoveryMs === null ? 'never' : (recoveryMs / 1000).toFixed(1),
      'ok/refused/failed during': count(during),
      invariants: `${checks.length - bad.length}/${checks.length} hold`,
      result: bad.length ? `FAIL (${bad.map((b) => b.name).join('; ')})` : 'pass',
    });
  }

  await fault('app SIGKILL + restart', () => killApp(w));
  await fault('PostgreSQL restart (immediate)', () => restartPostgres(w));
  await fault(`Redis down ${redisDownMs / 1000} s`, () => redisOutage(w), async (t0) => {
    // During the outage: orders are sold or refused with a code (never a bare 500); the flash sale never oversold (checked below).
    const bare = since(t0).filter((s) => s.outcome === 'failed' && s.kind !== 'notify' && s.status !== 0);
    return [{ name: 'Redis outage: refusals are clear (no bare 5xx)', violations: bare.length, detail: [...new Set(bare.map((s) => `${s.kind}:${s.status}:${s.code}`))].join(' ') || undefined }];
  });
  await fault('supplier timeouts + garbage answers', () => supplierMisbehaves(w), async () => {
    const open = await settlePurchases(w);
    return [{ name: 'every purchase settled after the supplier healed', violations: open.length, detail: open.join(' ') || undefined }];
  });
  let notes: string[] = [];
  await fault('payment callbacks duplicated, reordered, after cancel', async () => {
    notes = await callbacksOutOfTime(w, late);
  }, async () => {
    // The final check: orders stop, and what WeChat has been paid for is given time to be acknowledged.
    await load!.quiesce(30_000);
    return [];
  });
  for (const n of notes) log(`  ${n}`);

  await load.stop();
  // The checks themselves, proven able to fail: the database is corrupted on purpose, once per guarded invariant.
  const self = await selfTest({ dbUrl, appUrl: app.url, fx, load, wx, sim }, env);
  log(`self-test: ${self.detected}/${self.total} deliberate corruptions detected${self.missed.length ? `; MISSED: ${self.missed.join(', ')}` : ''}`);
  if (self.missed.length) violations += self.missed.length;
  const total = load.samples;
  log(`load: ${total.length} requests, ok/refused/failed ${count(total)}; ${load.orderByKey.size} orders acknowledged, ${load.trades.size} WeChat trades`);
  console.log('\nkaquan chaos run: faults injected and invariants checked\n');
  console.table(rows);
  const md = ['| fault | injected at | recovery (s) | requests ok/refused/failed during | invariants checked | result |', '| --- | --- | --- | --- | --- | --- |', ...rows.map((r) => `| ${r.fault} | ${r.injected_at} | ${r.recovery_s} | ${r['ok/refused/failed during']} | ${r.invariants} | ${r.result} |`)];
  console.log(`\n${md.join('\n')}\n`);
  console.log(violations ? `CHAOS RUN FAILED: ${violations} violated invariants` : 'chaos run passed: every invariant held after every fault');
  process.exitCode = violations ? 1 : 0;
} catch (err) {
  console.error('chaos run aborted:', err instanceof Error ? err.message : err);
  if (rows.length) console.table(rows);
  process.exitCode = 1;
} finally {
  await cleanup();
}
