/**
 * npm run bench:orders — many concurrent agents buying through the signed
 * HTTP open API (balance payment: reserve + pay + deliver in one transaction,
 * codes in the response), against real PostgreSQL and Redis when
 * DATABASE_URL / REDIS_URL are set. Beside it, in the same run, a raw SQL
 * transaction doing the same claim and ledger writes. Last line: JSON with
 * delivered orders/s, p50/p99, the raw figure and the invariants checked
 * afterwards (all must be 0). Targets on a 2-core machine: >= 1,000
 * delivered orders/s and >= half the raw SQL figure.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import autocannon from 'autocannon';
import { signedHeaders } from '../src/modules/auth/request-signature.js';

const orders = Number(process.env.BENCH_ORDERS ?? 10_000);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);

const server = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []), '--import', 'tsx', 'bench/orders-server.ts'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_STOCK: String(orders + 1000) } });
const lines = createInterface({ input: server.stdout! });
const nextLine = () => new Promise<string>((resolve, reject) => {
  lines.once('line', resolve);
  server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});
const info = JSON.parse(await nextLine()) as { address: string; sku: string; rawSku: string; keys: { id: string; secret: string }[]; databaseUrl: string | null; database: string; cache: string };

let n = 0;
const result = await autocannon({
  url: info.address,
  connections,
  amount: orders,
  requests: [
    {
      method: 'POST',
      path: '/open/v1/orders',
      setupRequest: (req) => {
        const key = info.keys[n++ % info.keys.length]!;
        const body = JSON.stringify({ sku_id: info.sku, quantity: 1, payment: 'balance' });
        return { ...req, body, headers: { 'content-type': 'application/json', 'idempotency-key': `bench-${randomUUID()}`, ...signedHeaders(key.id, key.secret, 'POST', '/open/v1/orders', body) } };
      },
    },
  ],
});
const api = { orders_per_second: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99, non_2xx: result.non2xx + result.errors, sent: result.requests.sent };

// Raw SQL: the same claim, order row and ledger entries in one transaction, same concurrency.
let raw: { orders_per_second: number; p50_ms: number; p99_ms: number } | null = null;
if (info.databaseUrl) {
  const pool = new pg.Pool({ connectionString: info.databaseUrl, max: 24 });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (;;) {
        const i = next++;
        if (i >= orders) return;
        const t0 = performance.now();
        const c = await pool.connect();
        try {
          const id = `ord_raw_${i}`;
          const tx = `ltx_raw_${i}`;
          await c.query('begin');
          const { rows } = await c.query<{ id: string }>(
            `with picked as (select id from codes where sku_id = $1 and state = 'available' and allocation_id is null order by expires_at limit 1 for update skip locked)
             update codes c set state = 'revealed', order_id = $2 from picked where c.id = picked.id returning c.id`,
            [info.rawSku, id],
          );
          await c.query(`insert into code_events (id, code_id, from_state, to_state, actor_type, at) values ($1, $2, 'available', 'revealed', 'order', now())`, [`cev_${randomUUID()}`, rows[0]!.id]);
          await c.query(`insert into orders (id, buyer_type, buyer_id, sku_id, quantity, unit_price_fen, amount_fen, channel, status, payment_deadline, created_at, updated_at) values ($1, 'agent', 'raw', $2, 1, 1000, 1000, 'api', 'delivered', now(), now(), now())`, [id, info.rawSku]);
          await c.query(`insert into ledger_transactions (id, kind, created_at) values ($1, 'raw', now())`, [tx]);
          await c.query(`insert into ledger_entries (transaction_id, account_id, amount_fen, created_at) values ($1, 'platform:cash', -1000, now()), ($1, 'platform:revenue', 1000, now())`, [tx]);
          await c.query('commit');
        } finally {
          c.release();
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  raw = { orders_per_second: Math.round(orders / seconds), p50_ms: Number(latencies[Math.floor(latencies.length / 2)]!.toFixed(1)), p99_ms: Number(latencies[Math.floor(latencies.length * 0.99)]!.toFixed(1)) };
  await pool.end();
}

server.stdin!.write('check\n');
const checked = JSON.parse(await nextLine()) as Record<string, number>;
const invariants = { non_2xx: api.non_2xx, codes_sold_twice: checked.codes_sold_twice!, stock_mismatch: checked.stock_mismatch!, ledger_imbalance: checked.ledger_imbalance!, balance_mismatch: checked.balance_mismatch!, orders_missing: orders - checked.delivered_orders! };
const ratio = raw ? Number((api.orders_per_second / raw.orders_per_second).toFixed(2)) : null;
console.log(`\nkaquan bench:orders on ${info.database} + ${info.cache}: ${orders} orders, ${connections} connections`);
console.table([{ path: 'HTTP open API (signed, idempotent)', ...api }, ...(raw ? [{ path: 'raw SQL transaction', ...raw }] : [])]);
console.log(`API / raw SQL = ${ratio}; invariants (all must be 0):`, invariants);
console.log(JSON.stringify({ bench: 'orders', database: info.database, cache: info.cache, orders, connections, delivered_orders_per_second: api.orders_per_second, p50_ms: api.p50_ms, p99_ms: api.p99_ms, raw_sql: raw, api_to_raw_ratio: ratio, targets: { orders_per_second: 1000, ratio: 0.5 }, invariants }));
if (Object.values(invariants).some((v) => v !== 0)) process.exitCode = 1;
