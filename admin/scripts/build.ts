/**
 * Builds the admin panel (vite) into admin/dist and prints the size of the
 * JavaScript the first screen loads (entry chunk + its static imports,
 * gzipped); fails when it exceeds the 150 KB budget.
 *   tsx admin/scripts/build.ts             always build
 *   tsx admin/scripts/build.ts --if-stale  build only when dist is missing or older than the sources (tests)
 *   add --prestart                         never fail (npm start must bring the API up even if the panel cannot build)
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const adminDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = join(adminDir, 'dist');
const stampFile = join(distDir, '.build-stamp');
export const INITIAL_JS_BUDGET_BYTES = 150 * 1024;

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs; // a deleted file changes its directory's mtime
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/** The newest modification among everything that goes into the build. */
export function sourcesMtime(): number {
  const inputs = ['src', 'index.html', 'vite.config.ts', 'tsconfig.json'].map((p) => join(adminDir, p)).filter((p) => existsSync(p));
  return Math.max(...inputs.map(newestMtime));
}

export function isStale(): boolean {
  if (!existsSync(stampFile) || !existsSync(join(distDir, 'index.html'))) return true;
  return sourcesMtime() > Number(readFileSync(stampFile, 'utf8'));
}

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  imports?: string[];
  css?: string[];
}

/** The entry chunk and everything it imports statically: what the browser must fetch before the first render. */
export function initialJs(dir = distDir): { files: string[]; bytes: number; gzipBytes: number } {
  const manifest = JSON.parse(readFileSync(join(dir, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>;
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const imp of manifest[key]?.imports ?? []) visit(imp);
  };
  for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);
  const files = [...seen].map((k) => manifest[k]!.file).filter((f) => f.endsWith('.js'));
  let bytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    const buf = readFileSync(join(dir, f));
    bytes += buf.length;
    gzipBytes += gzipSync(buf).length;
  }
  return { files, bytes, gzipBytes };
}

export async function buildAdmin(): Promise<void> {
  const startedFrom = sourcesMtime();
  const { build } = await import('vite');
  await build({ root: adminDir, configFile: join(adminDir, 'vite.config.ts'), logLevel: 'warn' });
  // The stamp is the sources' time as of the start, so an edit during the build still counts as stale.
  writeFileSync(stampFile, String(startedFrom));
}

async function main() {
  const ifStale = process.argv.includes('--if-stale');
  if (ifStale && !isStale()) {
    console.log('admin panel: admin/dist is up to date');
  } else {
    const started = Date.now();
    await buildAdmin();
    console.log(`admin panel: built admin/dist in ${Date.now() - started} ms`);
  }
  const size = initialJs();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`admin panel: initial JS ${kb(size.bytes)} (${kb(size.gzipBytes)} gzip, budget ${kb(INITIAL_JS_BUDGET_BYTES)}) in ${size.files.join(', ')}`);
  if (size.gzipBytes > INITIAL_JS_BUDGET_BYTES) {
    console.error('admin panel: the initial JS is over budget; lazy-load the heavy parts (dynamic import)');
    if (!process.argv.includes('--prestart')) process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    // As `prestart` a failed build must not keep the API down: the server answers /admin/ with a 503 page that says what to run.
    process.exit(process.argv.includes('--prestart') ? 0 : 1);
  });
}
