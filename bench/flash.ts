/**
 * npm run bench:flash — a flash sale of 1,000 units (one per buyer) on a SKU
 * with more codes than that, and 20,000 purchase attempts from 20,000
 * distinct funded customers, fired through the signed HTTP open API
 * (POST /open/v1/flash-sales/:id/orders) with BENCH_CONCURRENCY (512) in
 * flight. Then, with the sale sold out, 2,000 more attempts at the same
 * concurrency and 500 at BENCH_PROBE_CONCURRENCY (4) while the database's
 * statement counter is watched: refused attempts must not reach the
 * database. Embedded by default; real PostgreSQL and Redis with
 * DATABASE_URL / REDIS_URL. Last line: JSON with units_sold (must be 1,000),
 * oversold (must be 0, from the database), attempts_per_second,
 * p99_rejected_ms (target < 50; under saturation it is mostly queueing: in
 * flight / refusals per second), db_queries_by_rejected (target 0) and the
 * invariants checked (all must be 0).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { signedHeaders } from '../src/modules/auth/request-signature.js';

const attempts = Number(process.env.BENCH_ATTEMPTS ?? 20_000);
const afterAttempts = Number(process.env.BENCH_REJECTED_WINDOW ?? 2_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 512);
// The refusals-only window also runs at a low concurrency: latency under saturation is queueing (in flight / rate),
// at a few in flight it is what one refusal costs.
const probeConcurrency = Number(process.env.BENCH_PROBE_CONCURRENCY ?? 4);

const server = spawn(process.execPath, [...(process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []), '--import', 'tsx', 'bench/flash-server.ts'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_BUYERS: String(attempts + afterAttempts + 600) } });
const lines = createInterface({ input: server.stdout! });
const pending: ((line: string) => void)[] = [];
lines.on('line', (line) => pending.shift()?.(line));
server.once('exit', (code) => {
  if (pending.length) {
    console.error(`bench server exited with ${code}`);
    process.exit(1);
  }
});
const nextLine = () => new Promise<string>((resolve) => pending.push(resolve));
const command = async <T>(cmd: string): Promise<T> => {
  const answer = nextLine();
  server.stdin!.write(`${cmd}\n`);
  return JSON.parse(await answer) as T;
};

const info = JSON.parse(await nextLine()) as { address: string; saleId: string; keys: { id: string; secret: string }[]; units: number; stock: number; database: string; cache: string };
const url = new URL(info.address);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const path = `/open/v1/flash-sales/${info.saleId}/orders`;

interface Outcome {
  status: number;
  ms: number;
  reason?: string;
}

// signedHeaders' own nonce is the time and a Math.random tail, which is now and then shorter than the 16 characters
// the server requires (one 401 in some 20,000): the bench makes its own, always 26 characters.
const nonceOf = (n: number) => `fb${n.toString(36).padStart(8, '0')}${randomBytes(8).toString('hex')}`;

/** One signed purchase attempt by buyer n (buyer-n is a funded customer's partner identity). */
function attempt(n: number): Promise<Outcome> {
  const key = info.keys[n % info.keys.length]!;
  const body = JSON.stringify({ customer: { provider: 'partner', external_id: `buyer-${n}` } });
  const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'idempotency-key': `flash-bench-${n}`, ...signedHeaders(key.id, key.secret, 'POST', path, body, new Date(), nonceOf(n)) };
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const ms = performance.now() - t0;
        let reason: string | undefined;
        if (res.statusCode !== 201) {
          try {
            const e = (JSON.parse(Buffer.concat(chunks).toString()) as { error?: { details?: { reason?: string }; code?: string; message?: string } }).error;
            reason = e?.details?.reason ?? `${e?.code}: ${e?.message?.slice(0, 80)}`;
          } catch {
            reason = 'unparsable';
          }
        }
        resolve({ status: res.statusCode ?? 0, ms, reason });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Fires buyers [from, to) with `concurrency` requests in flight; returns the outcomes and the wall time. */
async function fire(from: number, to: number, inFlight = concurrency) {
  const out: Outcome[] = [];
  let next = from;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        const n = next++;
        if (n >= to) return;
        out.push(await attempt(n).catch(() => ({ status: 0, ms: 0, reason: 'network' })));
      }
    }),
  );
  return { out, seconds: (performance.now() - started) / 1000 };
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor(s.length * p))]!.toFixed(1));
};
const tally = (out: Outcome[]) => out.reduce<Record<string, number>>((m, o) => ((m[o.status === 201 ? '201' : `${o.status}:${o.reason}`] = (m[`${o.status === 201 ? '201' : `${o.status}:${o.reason}`}`] ?? 0) + 1), m), {});

// Phase 1: the crowd.
const baseline = (await command<{ queries: number }>('queries')).queries;
const crowd = await fire(0, attempts);
const crowdQueries = (await command<{ queries: number }>('queries')).queries - baseline;
const rejected = crowd.out.filter((o) => o.status === 409 || o.status === 422);
const admitted = crowd.out.filter((o) => o.status === 201);

// Phase 2: the sale is sold out; every attempt is refused. The API keys are cached 5 s per instance from when they
// were read: past that, one attempt per key reads them again, so the window (well under 5 s) measures the purchase path alone.
await new Promise((resolve) => setTimeout(resolve, 5_200));
await Promise.all(info.keys.map((_, i) => attempt(attempts + i)));
const before = (await command<{ queries: number }>('queries')).queries;
const late = await fire(attempts + info.keys.length, attempts + info.keys.length + afterAttempts);
const probeFrom = attempts + info.keys.length + afterAttempts;
const probe = await fire(probeFrom, probeFrom + 500, probeConcurrency);
const after = (await command<{ queries: number }>('queries')).queries;
const lateRejected = [...late.out, ...probe.out].filter((o) => o.status === 409);

const checked = await command<Record<string, number | null>>('check');
const result = {
  bench: 'flash',
  database: info.database,
  cache: info.cache,
  attempts,
  concurrency,
  units: info.units,
  units_sold: checked.units_sold,
  oversold: checked.oversold,
  attempts_per_second: Math.round(attempts / crowd.seconds),
  p50_ms: pct(crowd.out.map((o) => o.ms), 0.5),
  p99_admitted_ms: pct(admitted.map((o) => o.ms), 0.99),
  p50_rejected_ms: pct(rejected.map((o) => o.ms), 0.5),
  p99_rejected_ms: pct(rejected.map((o) => o.ms), 0.99),
  rejected_window: { attempts: afterAttempts + probe.out.length, seconds: Number((late.seconds + probe.seconds).toFixed(2)), refused: lateRejected.length, p99_ms: pct(late.out.map((o) => o.ms), 0.99), per_second: Math.round(afterAttempts / late.seconds), probe: { in_flight: probeConcurrency, p50_ms: pct(probe.out.map((o) => o.ms), 0.5), p99_ms: pct(probe.out.map((o) => o.ms), 0.99) } },
  db_queries_per_admitted: Number((crowdQueries / Math.max(1, admitted.length)).toFixed(1)),
  db_queries_by_rejected: after - before,
  responses: tally(crowd.out),
  targets: { units_sold: info.units, oversold: 0, p99_rejected_ms: 50, db_queries_by_rejected: 0 },
  invariants: {
    units_sold_matches: checked.units_sold === info.units && admitted.length === info.units ? 0 : 1,
    oversold: checked.oversold,
    unexpected_responses: crowd.out.length - admitted.length - rejected.length + (afterAttempts + probe.out.length - lateRejected.length),
    buyers_over_limit: checked.buyers_over_limit,
    codes_sold_twice: checked.codes_sold_twice,
    codes_vs_orders: Math.abs(Number(checked.codes_delivered) - Number(checked.units_sold)),
    ledger_imbalance: checked.ledger_imbalance,
    balance_mismatch: checked.balance_mismatch,
    gate_vs_orders: checked.gate_vs_orders,
    counter_vs_orders: checked.counter_vs_orders,
  },
};
console.log(`\nkaquan bench:flash on ${info.database} + ${info.cache}: ${attempts} attempts for ${info.units} units, ${concurrency} in flight`);
console.table([
  { phase: 'crowd (mixed)', attempts, seconds: Number(crowd.seconds.toFixed(2)), per_second: result.attempts_per_second, p99_rejected_ms: result.p99_rejected_ms, p99_admitted_ms: result.p99_admitted_ms },
  { phase: 'sold out (refusals only)', attempts: afterAttempts, seconds: Number(late.seconds.toFixed(2)), per_second: result.rejected_window.per_second, p99_rejected_ms: result.rejected_window.p99_ms, db_queries: result.db_queries_by_rejected },
  { phase: `sold out, ${probeConcurrency} in flight`, attempts: probe.out.length, seconds: Number(probe.seconds.toFixed(2)), per_second: Math.round(probe.out.length / probe.seconds), p99_rejected_ms: result.rejected_window.probe.p99_ms },
]);
console.log('responses:', result.responses, 'invariants (all must be 0):', result.invariants);
console.log(JSON.stringify(result));
agent.destroy();
if (Object.values(result.invariants).some((v) => v !== 0) || result.db_queries_by_rejected !== 0) process.exitCode = 1;
