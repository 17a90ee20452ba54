/**
 * npm run bench:http — throughput and latency of the platform's request path:
 * a bare health check, an authenticated admin list (session lookup + permission
 * check + a paginated query) and a signed open-API call (HMAC check + nonce
 * store). The server runs in its own process (bench/http-server.ts), on the
 * real servers when DATABASE_URL / REDIS_URL are set, otherwise embedded.
 * Prints a table and, as its last line, JSON.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { signedHeaders } from '../src/modules/auth/request-signature.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);

const server = spawn(process.execPath, ['--import', 'tsx', 'bench/http-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
const info = await new Promise<{ address: string; token: string; key: { id: string; secret: string }; database: string; cache: string }>((resolve, reject) => {
  server.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  createInterface({ input: server.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
});
const auth = { authorization: `Bearer ${info.token}` };

async function run(title: string, opts: { path?: string; headers?: Record<string, string>; requests?: autocannon.Request[] }) {
  const result = await autocannon({ url: info.address + (opts.path ?? ''), headers: opts.headers, requests: opts.requests, connections, duration: seconds });
  return { title, requests_per_second: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99, non_2xx: result.non2xx + result.errors };
}

const results = [
  await run('GET /healthz', { path: '/healthz' }),
  await run('GET /admin/customers (bearer session, RBAC, page of 20)', { path: '/admin/customers?limit=20', headers: auth }),
  await run('GET /open/v1/whoami (HMAC signature, nonce)', {
    requests: [{ method: 'GET', path: '/open/v1/whoami', setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...signedHeaders(info.key.id, info.key.secret, 'GET', '/open/v1/whoami', '') } }) }],
  }),
];

// The same signed request sent 20 times at once: exactly one may pass.
const replay = signedHeaders(info.key.id, info.key.secret, 'GET', '/open/v1/whoami', '');
const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${info.address}/open/v1/whoami`, { headers: replay }).then((r) => r.status)));

server.kill('SIGTERM');
console.log(`\nkaquan bench:http on ${info.database} + ${info.cache}, ${connections} connections, ${seconds}s each`);
console.table(results);
const invariants = { non_2xx_total: results.reduce((a, r) => a + r.non_2xx, 0), replayed_nonce_accepted: statuses.filter((s) => s === 200).length - 1 };
console.log('invariants (all must be 0):', invariants);
console.log(JSON.stringify({ bench: 'http', database: info.database, cache: info.cache, connections, seconds, results, invariants }));
if (invariants.non_2xx_total !== 0 || invariants.replayed_nonce_accepted !== 0) process.exitCode = 1;
