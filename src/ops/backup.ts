import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { migrationsFolder } from '../db/client.js';
import { sealedColumns } from '../modules/vault/rotation.js';

/**
 * Backups of the whole database, both modes: PostgreSQL with `pg_dump -Fc`
 * inside an exported snapshot, the embedded database (PGlite) as a gzipped
 * tarball of its data directory taken between transactions. Each backup
 * gets a manifest beside it (`<file>.manifest.json`) whose row counts and
 * migration level are read at exactly the backup point, so a restore can be
 * checked against it. Master keys are never part of a backup.
 */

export type BackupKind = 'postgres' | 'pglite';

export interface BackupManifest {
  format: 'kaquan-backup/1';
  kind: BackupKind;
  file: string;
  bytes: number;
  sha256: string;
  created_at: string;
  took_ms: number;
  /** The database backed up (a URL without its password, or the embedded data directory). */
  source: string;
  server_version: string;
  schema: { migrations_applied: number; latest_migration: string | null };
  /** Master key ids the vault needs: restore with VAULT_MASTER_KEYS holding these keys or the codes stay sealed. */
  master_key_ids: string[];
  /** Exact rows per table (schema public) at the backup point. */
  tables: Record<string, number>;
}

/** Runs one query and gives its rows: a pg client, a PGlite transaction, anything alike. */
export type RunSql = <R = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<R[]>;

export const manifestPath = (file: string) => `${file}.manifest.json`;

export function readManifest(file: string): BackupManifest {
  const path = manifestPath(file);
  if (!existsSync(path)) throw new Error(`no manifest next to the backup (${path})`);
  const m = JSON.parse(readFileSync(path, 'utf8')) as BackupManifest;
  if (m.format !== 'kaquan-backup/1') throw new Error(`${path} is not a kaquan backup manifest`);
  return m;
}

export function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The tables of schema public with their exact row counts, in one statement (one snapshot). */
export async function tableCounts(run: RunSql): Promise<Record<string, number>> {
  const tables = await run<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`);
  if (tables.length === 0) return {};
  const union = tables.map((t) => `select '${t.name.replace(/'/g, "''")}' as name, count(*)::bigint as n from public."${t.name.replace(/"/g, '""')}"`).join(' union all ');
  const rows = await run<{ name: string; n: string | number }>(union);
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

/** How many drizzle migrations the database has, and the newest one's tag (from drizzle/meta/_journal.json). */
export async function migrationLevel(run: RunSql): Promise<BackupManifest['schema']> {
  const exists = await run<{ t: string | null }>(`select to_regclass('drizzle.__drizzle_migrations')::text as t`);
  if (!exists[0]?.t) return { migrations_applied: 0, latest_migration: null };
  const rows = await run<{ n: number; latest: string | null }>('select count(*)::int as n, max(created_at)::text as latest from drizzle.__drizzle_migrations');
  const journal = JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };
  const latest = journal.entries.find((e) => String(e.when) === rows[0]?.latest);
  return { migrations_applied: Number(rows[0]?.n ?? 0), latest_migration: latest?.tag ?? (rows[0]?.latest ? `unknown (created_at ${rows[0].latest})` : null) };
}

/** Master key ids any sealed column uses. */
export async function masterKeyIds(run: RunSql): Promise<string[]> {
  const parts = sealedColumns.map((c) => `select ${c.keyId} as id from ${c.table} where ${c.sealed} is not null`);
  const rows = await run<{ id: string }>(`select distinct id from (${parts.join(' union ')}) k order by 1`);
  return rows.map((r) => r.id);
}

function prepareOutput(file: string, force: boolean) {
  if (existsSync(file) && !force) throw new RefusedError(`${file} exists; choose another --out or add --force to overwrite it`);
  mkdirSync(dirname(file), { recursive: true });
}

/** A refusal that changed nothing (exit code 1, no stack trace). */
export class RefusedError extends Error {}

async function finish(file: string, m: Omit<BackupManifest, 'format' | 'file' | 'bytes' | 'sha256' | 'took_ms'>, started: number): Promise<BackupManifest> {
  const manifest: BackupManifest = { format: 'kaquan-backup/1', ...m, file: file.split('/').at(-1)!, bytes: statSync(file).size, sha256: await sha256File(file), took_ms: Date.now() - started };
  // Key order as declared, for people reading it.
  const ordered = { format: manifest.format, kind: manifest.kind, file: manifest.file, bytes: manifest.bytes, sha256: manifest.sha256, created_at: manifest.created_at, took_ms: manifest.took_ms, source: manifest.source, server_version: manifest.server_version, schema: manifest.schema, master_key_ids: manifest.master_key_ids, tables: manifest.tables };
  writeFileSync(manifestPath(file), `${JSON.stringify(ordered, null, 2)}\n`);
  return ordered;
}

/** Runs a PostgreSQL client tool; the password goes in the environment, never on the command line. */
export function runPgTool(tool: 'pg_dump' | 'pg_restore', args: string[], databaseUrl: string): Promise<void> {
  const u = new URL(databaseUrl);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) || process.env.PGPASSWORD || '' };
  return new Promise((resolve, reject) => {
    const child = spawn(tool, [...args, '--dbname', withoutPassword(databaseUrl)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`${tool} could not start (${e.message}); install the PostgreSQL client tools of the server's major version`)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${tool} exited with ${code}: ${err.trim().slice(0, 2000)}`))));
  });
}

/**
 * PostgreSQL: a repeatable-read transaction exports its snapshot, the
 * manifest is read in it and `pg_dump --snapshot` dumps exactly that state,
 * while the platform keeps selling (pg_dump takes no locks writers wait for).
 */
export async function backupPostgres(opts: { databaseUrl: string; outFile: string; force?: boolean }): Promise<BackupManifest> {
  const started = Date.now();
  prepareOutput(opts.outFile, opts.force ?? false);
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  try {
    await client.query('begin isolation level repeatable read read only');
    const run: RunSql = async (text, values) => (await client.query(text, values as unknown[])).rows;
    const { snapshot, version } = (await run<{ snapshot: string; version: string }>(`select pg_export_snapshot() as snapshot, current_setting('server_version') as version`))[0]!;
    const createdAt = new Date().toISOString();
    const [tables, schema, keys] = [await tableCounts(run), await migrationLevel(run), await masterKeyIds(run)];
    await runPgTool('pg_dump', ['--format=custom', `--snapshot=${snapshot}`, '--file', opts.outFile], opts.databaseUrl);
    await client.query('commit');
    return finish(opts.outFile, { kind: 'postgres', created_at: createdAt, source: withoutPassword(opts.databaseUrl), server_version: version, schema, master_key_ids: keys, tables }, started);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The PGlite calls a backup needs (the live client of a running app, or one opened on a stopped data directory). */
export interface PgliteLike {
  transaction<T>(fn: (tx: { query<R>(text: string, values?: unknown[]): Promise<{ rows: R[] }> }) => Promise<T>): Promise<T>;
  dumpDataDir(compression?: 'none' | 'gzip' | 'auto'): Promise<Blob>;
}

/**
 * The embedded database: inside a transaction (PGlite runs one at a time, so
 * every other statement waits for the ~1-2 s this takes) the manifest is read
 * and the data directory dumped, so both show the same committed state.
 */
export async function backupPglite(client: PgliteLike, opts: { outFile: string; source: string; force?: boolean }): Promise<BackupManifest> {
  const started = Date.now();
  prepareOutput(opts.outFile, opts.force ?? false);
  const taken = await client.transaction(async (tx) => {
    const run: RunSql = async (text, values) => (await tx.query(text, values)).rows as never[];
    const createdAt = new Date().toISOString();
    const { version } = (await run<{ version: string }>(`select current_setting('server_version') as version`))[0]!;
    const [tables, schema, keys] = [await tableCounts(run), await migrationLevel(run), await masterKeyIds(run)];
    const image = await client.dumpDataDir('gzip');
    return { createdAt, version, tables, schema, keys, image };
  });
  writeFileSync(opts.outFile, Buffer.from(await taken.image.arrayBuffer()));
  return finish(opts.outFile, { kind: 'pglite', created_at: taken.createdAt, source: opts.source, server_version: `${taken.version} (PGlite)`, schema: taken.schema, master_key_ids: taken.keys, tables: taken.tables }, started);
}

/** The live PGlite client behind a running app's database (drizzle keeps it as $client), or null on PostgreSQL. */
export function pgliteClientOf(db: unknown): PgliteLike | null {
  const client = (db as { $client?: Partial<PgliteLike> }).$client;
  return client && typeof client.dumpDataDir === 'function' ? (client as PgliteLike) : null;
}

/**
 * A stopped embedded database (DATA_DIR/pglite). PGlite is one process: a
 * second one opening the directory while the app runs would corrupt it, so a
 * directory that looks open (postmaster.pid present) is refused unless forced.
 */
export async function backupPgliteDir(opts: { dataDir: string; outFile: string; force?: boolean; ignoreOpenMark?: boolean }): Promise<BackupManifest> {
  const dir = join(opts.dataDir, 'pglite');
  if (!existsSync(join(dir, 'PG_VERSION'))) throw new RefusedError(`no embedded database in ${dir}`);
  if (existsSync(join(dir, 'postmaster.pid')) && !opts.ignoreOpenMark)
    throw new RefusedError(`${dir} looks open (postmaster.pid): stop the app first (the embedded database is single-process), or, if it was killed and is not running, add --force`);
  const { PGlite } = await import('@electric-sql/pglite');
  const client = new PGlite(dir);
  await client.waitReady;
  try {
    return await backupPglite(client as unknown as PgliteLike, { outFile: opts.outFile, source: opts.dataDir, force: opts.force });
  } finally {
    await client.close();
  }
}

/** `counts` compared with the manifest's: the tables whose rows differ (missing tables count as 0). */
export function countDifferences(expected: Record<string, number>, actual: Record<string, number>): { table: string; expected: number; actual: number }[] {
  const names = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return names.filter((n) => (expected[n] ?? 0) !== (actual[n] ?? 0)).map((n) => ({ table: n, expected: expected[n] ?? 0, actual: actual[n] ?? 0 }));
}
