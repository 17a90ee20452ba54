/**
 * npm run bench:import — streams a CSV of 200,000 codes (generated on the fly,
 * never held whole) through the real HTTP import endpoint into the database
 * (real PostgreSQL when DATABASE_URL is set). The server runs in its own
 * process (bench/import-server.ts) and its peak memory is read from the
 * kernel (VmHWM). Prints codes per second and peak memory, then checks what
 * landed. Targets: >= 20,000 codes/s, peak RSS < 300 MB.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';

const total = Number(process.env.BENCH_CODES ?? 200_000);
const mode = (process.env.BENCH_MODE ?? 'all_or_nothing') as 'all_or_nothing' | 'accept_valid';

const server = spawn(process.execPath, ['--import', 'tsx', 'bench/import-server.ts'], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: server.stdout! });
const nextLine = () => new Promise<string>((resolve, reject) => {
  lines.once('line', resolve);
  server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
});
const info = JSON.parse(await nextLine()) as { address: string; sku: string; token: string; database: string };
const kb = (field: string) => Number(/(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field)) ?? '')?.[1] ?? 0);
const rssBefore = kb('VmRSS:');

// A multipart body streamed chunk by chunk: the file is produced while it is uploaded.
const boundary = `----kqbench${randomBytes(8).toString('hex')}`;
const encoder = new TextEncoder();
let sample = '';
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
      if (!sample) sample = secret;
      chunk += `CN${String(produced).padStart(10, '0')},${secret}\r\n`;
    }
    controller.enqueue(encoder.encode(chunk));
  },
});

const started = performance.now();
const res = await fetch(`${info.address}/admin/vault/imports?sku_id=${info.sku}&supplier=bench&unit_cost_fen=100&mode=${mode}`, {
  method: 'POST',
  headers: { authorization: `Bearer ${info.token}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
  body,
  duplex: 'half',
} as RequestInit);
const report = (await res.json()) as { status: string; accepted: number; rejected: number };
const seconds = (performance.now() - started) / 1000;
const peakRss = kb('VmHWM:');

server.stdin!.write(`${JSON.stringify({ sample })}\n`);
const landed = JSON.parse(await nextLine()) as { n: number; distinct: number; available: number; leaks: number; sampled: number; decrypted: number };
const invariants = {
  http_status_not_201: res.status === 201 ? 0 : 1,
  codes_missing: total - landed.n,
  duplicate_hashes: landed.n - landed.distinct,
  not_available: landed.n - landed.available,
  clear_secret_in_storage: landed.leaks,
  undecryptable_sample: landed.sampled - landed.decrypted,
};
const result = {
  bench: 'import',
  database: info.database,
  mode,
  codes: total,
  seconds: Number(seconds.toFixed(2)),
  codes_per_second: Math.round(total / seconds),
  server_peak_rss_mb: Math.round(peakRss / 1024),
  server_rss_before_import_mb: Math.round(rssBefore / 1024),
  targets: { codes_per_second: 20_000, peak_rss_mb: 300 },
  report: { status: report.status, accepted: report.accepted, rejected: report.rejected },
  invariants,
};
console.log(`\nkaquan bench:import on ${result.database}: ${total} codes in ${result.seconds}s = ${result.codes_per_second} codes/s; server peak RSS ${result.server_peak_rss_mb} MB (${result.server_rss_before_import_mb} MB before the import)`);
console.log('invariants (all must be 0):', invariants);
console.log(JSON.stringify(result));
if (Object.values(invariants).some((v) => v !== 0)) process.exitCode = 1;
