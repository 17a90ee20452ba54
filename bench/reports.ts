/**
 * npm run bench:reports — every dashboard and report query against 1,000,000
 * orders in real PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 *
 * Creates its own database kaquan_bench_reports_<ts> (dropped at the end; keep
 * it with BENCH_KEEP=1), migrates it, seeds set-based with generate_series:
 * BENCH_ORDERS (1,000,000) orders over 365 days, ~200 SKUs of 20 products,
 * 10 suppliers, 2,000 agents, ~200,000 customers, 5 channels, with whole and
 * partial refunds. Then rebuilds the rollups, runs the daily forecast job
 * (timed on its own), times each query through the analytics service (first
 * run, then median of 5 runs; target 200 ms), applies 1,000 fresh
 * refunds incrementally, and checks that the rollups equal the raw orders.
 */
import pg from 'pg';
import { openTestApp, TEST_HMAC_KEY, TEST_MASTER_KEYS } from '../test/helpers/boot.js';

const ORDERS = Number(process.env.BENCH_ORDERS ?? 1_000_000);
const TARGET_MS = 200;
const adminUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const dbName = `kaquan_bench_reports_${Date.now()}`;

async function admin(sql: string) {
  const c = new pg.Client({ connectionString: adminUrl.toString() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const secs = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
await admin(`create database ${dbName}`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
const t = await openTestApp({
  NODE_ENV: 'test',
  DATABASE_URL: url.toString(),
  DATA_DIR: `/tmp/${dbName}`,
  VAULT_MASTER_KEYS: TEST_MASTER_KEYS,
  HMAC_KEY: TEST_HMAC_KEY,
  SESSION_SECRET: 'bench-session-secret-with-enough-length-0123456789',
  LOG_LEVEL: 'silent',
});
const db = new pg.Client({ connectionString: url.toString() });
await db.connect();

try {
  let t0 = performance.now();
  await db.query(`insert into products (id, name, brand, category, kind, created_at)
    select 'prd_bench_' || i, 'Product ' || i, 'Brand ' || (i % 7), (array['game','video','music','gift','course'])[1 + i % 5], 'code', now() from generate_series(1, 20) i`);
  await db.query(`insert into skus (id, product_id, name, face_value_fen, cost_fen, retail_price_fen, created_at)
    select 'sku_bench_' || i, 'prd_bench_' || (1 + i % 20), 'SKU ' || i, 1000 * (1 + i % 10), 850 * (1 + i % 10), 960 * (1 + i % 10), now() from generate_series(1, 200) i`);
  await db.query(`insert into suppliers (id, name, adapter, base_url, credentials_sealed, credentials_key_id, lead_time_days, created_at)
    select 'sup_bench_' || i, 'Supplier ' || i, 'http_json', 'http://127.0.0.1:9', '\\x00', 'k', 2 + i % 5, now() from generate_series(1, 10) i`);
  await db.query(`insert into sku_suppliers (sku_id, supplier_id, external_sku, priority) select 'sku_bench_' || i, 'sup_bench_' || (1 + i % 10), 'EXT' || i, 1 from generate_series(1, 200) i`);
  await db.query(`insert into agents (id, name, role, parent_id, depth, path, referral_code, created_at)
    select 'agt_bench_' || i, 'Agent ' || i, 'group_leader', null, 1, 'agt_bench_' || i, 'REF' || i, now() from generate_series(1, 2000) i`);
  // Skewed SKU popularity, 80 % customers (half of them bound to an agent), 20 % agents buying to resell, 5 % whole and 5 % partial refunds.
  await db.query('alter table orders disable trigger analytics_order_inserted');
  await db.query(`insert into orders (id, buyer_type, buyer_id, sku_id, quantity, unit_price_fen, amount_fen, channel, agent_id, status, payment_provider, payment_deadline,
                                      delivered_quantity, refunded_fen, created_at, updated_at, paid_at, delivered_at)
    select 'ord_bench_' || i, case when r1 < 0.8 then 'customer' else 'agent' end,
           case when r1 < 0.8 then 'cus_bench_' || (1 + (hashint4(i) & 2147483647) % 200000) else 'agt_bench_' || (1 + (hashint4(i + 7) & 2147483647) % 2000) end,
           'sku_bench_' || sku, qty, price, price * qty,
           (array['api','telegram','wechat','miniprogram','admin'])[1 + i % 5],
           case when r1 < 0.4 then 'agt_bench_' || (1 + (hashint4(i + 13) & 2147483647) % 2000) end,
           case when r2 < 0.05 then 'refunded' when r2 < 0.10 then 'partially_refunded' else 'delivered' end, 'balance', paid,
           qty, case when r2 < 0.05 then price * qty when r2 < 0.10 then price else 0 end, paid, paid, paid, paid
    from (select i, random() as r1, random() as r2, 1 + floor(200 * power(random(), 2))::int as sku, 1 + (i % 3) as qty,
                 now() - random() * interval '365 days' as paid from generate_series(1, $1::int) i) g
    cross join lateral (select 960 * (1 + sku % 10) as price) pr`, [ORDERS]);
  await db.query('alter table orders enable trigger analytics_order_inserted');
  await db.query('analyze');
  console.log(`seeded ${ORDERS.toLocaleString('en')} orders in ${secs(t0)}`);

  const rollups = t.services.analytics.rollups;
  t0 = performance.now();
  await rollups.rebuild();
  await db.query('analyze');
  console.log(`rollups rebuilt from the orders in ${secs(t0)}`);

  const a = t.services.analytics;
  // The daily forecast job (after the day closed), timed on its own: the route's first run below reads its stored fits.
  t0 = performance.now();
  const job = await a.refreshForecasts();
  const jobMs = performance.now() - t0;
  t0 = performance.now();
  const jobAgain = await a.refreshForecasts();
  const jobAgainMs = performance.now() - t0;
  console.log(`forecast job: ${job.fitted} SKUs fitted and stored in ${jobMs.toFixed(0)} ms (fitting ${job.ms} ms); again the same day: ${jobAgain.fitted} fitted in ${jobAgainMs.toFixed(0)} ms`);
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: t.config.reportTimezone }).format(new Date());
  const back = (days: number) => new Date(Date.parse(today) - days * 86_400_000).toISOString().slice(0, 10);
  const year = { from: back(365), to: today };
  const month = { from: back(29), to: today };
  const queries: [string, () => Promise<unknown>][] = [
    ['dashboard', () => a.dashboard()],
    ['sales by product, 366 days', () => a.sales({ group_by: 'product', ...year })],
    ['sales by sku, 366 days', () => a.sales({ group_by: 'sku', ...year })],
    ['sales by category, 366 days', () => a.sales({ group_by: 'category', ...year })],
    ['sales by supplier, 366 days', () => a.sales({ group_by: 'supplier', ...year })],
    ['sales by channel, 366 days', () => a.sales({ group_by: 'channel', ...year })],
    ['sales by product, 30 days', () => a.sales({ group_by: 'product', ...month })],
    ['agent leaderboard top 20, 366 days', () => a.agentLeaderboard({ ...year, limit: 20 })],
    ['agent leaderboard top 20, 30 days', () => a.agentLeaderboard({ ...month, limit: 20 })],
    ['cohorts by month, 366 days', () => a.cohorts({ period: 'month', ...year })],
    ['cohorts by week, 12 weeks', () => a.cohorts({ period: 'week', from: back(83), to: today })],
    ['stock turnover, 30 days', () => a.stockTurnover(month)],
    ['forecast + reorder, 200 SKUs', () => a.forecast({ history_days: 56, safety_days: 3 })],
    ['forecast one SKU, 366 days', () => a.forecast({ sku_id: 'sku_bench_1', history_days: 366, safety_days: 3 })],
  ];
  const results: { query: string; first_ms: number; median_ms: number; pass: boolean }[] = [];
  for (const [name, run] of queries) {
    const first = performance.now();
    await run(); // the first run (cold caches) is shown too
    const firstMs = performance.now() - first;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await run();
      times.push(performance.now() - s);
    }
    times.sort((x, y) => x - y);
    results.push({ query: name, first_ms: Number(firstMs.toFixed(1)), median_ms: Number(times[2]!.toFixed(1)), pass: times[2]! < TARGET_MS });
  }

  // Incremental upkeep at this size: 1,000 delivered orders refunded (the trigger queues them), then applied.
  await db.query(`update orders set status = 'refunded', refunded_fen = amount_fen, updated_at = now() where id in (select id from orders where status = 'delivered' limit 1000)`);
  t0 = performance.now();
  let applied = 0;
  for (;;) {
    const r = await rollups.applyPending();
    applied += r?.applied ?? 0;
    if (!r || r.applied === 0) break;
  }
  const incrementalMs = performance.now() - t0;

  const [raw, rolled] = await Promise.all([rollups.rawTotals(), rollups.rollupTotals()]);
  const equal = JSON.stringify(raw) === JSON.stringify(rolled);
  const width = Math.max(...results.map((r) => r.query.length));
  console.log(`\n${'query'.padEnd(width)}  first ms  median ms  target  result`);
  for (const r of results) console.log(`${r.query.padEnd(width)}  ${String(r.first_ms).padStart(8)}  ${String(r.median_ms).padStart(9)}  ${String(TARGET_MS).padStart(6)}  ${r.pass ? 'pass' : 'FAIL'}`);
  console.log(`\nincremental: ${applied} queued order changes applied in ${incrementalMs.toFixed(0)} ms`);
  console.log(`rollups = raw orders: ${equal ? 'yes' : 'NO'}  raw ${JSON.stringify(raw)}  rollups ${JSON.stringify(rolled)}`);
  console.log(JSON.stringify({ orders: ORDERS, all_pass: results.every((r) => r.pass), rollups_equal_raw: equal, incremental_ms: Math.round(incrementalMs), forecast_job: { skus: job.fitted, ms: Math.round(jobMs) }, results }));
  if (!equal) process.exitCode = 1;
} finally {
  await db.end();
  await t.stop();
  if (!process.env.BENCH_KEEP) await admin(`drop database if exists ${dbName} with (force)`);
}
