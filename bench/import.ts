/**
 * npm run bench:import — streams a CSV of 200,000 codes (generated on the fly,
 * never held whole) through the real HTTP import endpoint into the database
 * (real PostgreSQL when DATABASE_URL is set) and prints codes per second and
 * the process's peak memory, then checks what landed.
 * Targets: >= 20,000 codes/s, peak RSS < 300 MB.
 */
import { randomBytes } from 'node:crypto';
import { bootTestApp } from '../test/helpers/boot.js';
import { createCodeSku } from '../test/helpers/codes.js';

const total = Number(process.env.BENCH_CODES ?? 200_000);
const mode = (process.env.BENCH_MODE ?? 'all_or_nothing') as 'all_or_nothing' | 'accept_valid';

const t = await bootTestApp();
const sku = await createCodeSku(t, { name: 'bench import' });
const owner = await t.loginAs('owner');
const address = await t.app.listen({ host: '127.0.0.1', port: 0 });

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 25);

// A multipart body streamed chunk by chunk: the file is produced while it is uploaded.
const boundary = `----kqbench${randomBytes(8).toString('hex')}`;
const encoder = new TextEncoder();
const sample: { line: number; secret: string }[] = [];
let produced = 0;
const body = new ReadableStream<Uint8Array>({
  start(controller) {
    controller.enqueue(encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="codes.csv"\r\nContent-Type: text/csv\r\n\r\ncard_number,secret\r\n`));
  },
  pull(controller) {
    if (produced >= total) {
      controller.enqueue(encoder.encode(`\r\n--${boundary}--\r\n`));
      controller.close();
      return;
    }
    let chunk = '';
    for (let i = 0; i < 5000 && produced < total; i++) {
      produced++;
      const secret = randomBytes(12).toString('base64url');
      if (produced % 20_000 === 1) sample.push({ line: produced + 1, secret });
      chunk += `CN${String(produced).padStart(10, '0')},${secret}\r\n`;
    }
    controller.enqueue(encoder.encode(chunk));
  },
});

const started = performance.now();
const res = await fetch(`${address}/admin/vault/imports?sku_id=${sku}&supplier=bench&unit_cost_fen=100&mode=${mode}`, {
  method: 'POST',
  headers: { authorization: `Bearer ${owner.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
  body,
  duplex: 'half',
} as RequestInit);
const report = (await res.json()) as { status: string; accepted: number; rejected: number };
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);

// Invariants: everything landed once, sealed, sellable, and the sample decrypts to what was sent.
const db = t.platform.database;
const [counts] = (await db.executeSql<{ n: number; distinct_hmac: number; available: number }>(`select count(*)::int as n, count(distinct secret_hmac)::int as distinct_hmac, (count(*) filter (where state = 'available'))::int as available from codes where sku_id = $1`, [sku])).rows;
const ids = (await db.executeSql<{ id: string }>('select id from codes where sku_id = $1 order by id limit 50', [sku])).rows.map((r) => r.id);
const rawLeaks = (await db.executeSql<{ n: number }>(`select count(*)::int as n from codes where sku_id = $1 and position(convert_to($2, 'UTF8') in sealed) > 0`, [sku, sample[0]!.secret])).rows[0]!.n;
const opened = await t.services.vault.openCodes(ids);
const invariants = {
  http_status_not_201: res.status === 201 ? 0 : 1,
  codes_missing: total - Number(counts!.n),
  duplicate_hashes: Number(counts!.n) - Number(counts!.distinct_hmac),
  not_available: Number(counts!.n) - Number(counts!.available),
  clear_secret_in_storage: Number(rawLeaks),
  undecryptable_sample: ids.length - [...opened.values()].filter((c) => c.secret.length === 16).length,
};
const result = {
  bench: 'import',
  database: t.platform.database.kind,
  mode,
  codes: total,
  seconds: Number(seconds.toFixed(2)),
  codes_per_second: Math.round(total / seconds),
  peak_rss_mb: Math.round(peakRss / 1024 / 1024),
  targets: { codes_per_second: 20_000, peak_rss_mb: 300 },
  report: { status: report.status, accepted: report.accepted, rejected: report.rejected },
  invariants,
};
console.log(`\nkaquan bench:import on ${result.database}: ${total} codes in ${result.seconds}s = ${result.codes_per_second} codes/s, peak RSS ${result.peak_rss_mb} MB`);
console.log('invariants (all must be 0):', invariants);
await t.close();
console.log(JSON.stringify(result));
if (Object.values(invariants).some((v) => v !== 0)) process.exitCode = 1;
