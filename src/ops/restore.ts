import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { verifyVault, type VaultKeys, type VaultVerification } from '../modules/vault/verify.js';
import { countDifferences, migrationLevel, readManifest, RefusedError, runPgTool, sha256File, tableCounts, withoutPassword, type BackupManifest, type RunSql } from './backup.js';

/**
 * Restores a backup into a NEW place (a PostgreSQL database, or an embedded
 * data directory) and checks the copy against the backup's manifest: the
 * file's hash before, then the migration level, the rows of every table and,
 * with the master keys at hand, that every sealed value opens.
 */

export interface RestoreReport {
  ok: boolean;
  kind: BackupManifest['kind'];
  target: string;
  took_ms: number;
  manifest: BackupManifest;
  rows: number;
  tables: number;
  schema: BackupManifest['schema'];
  differences: { table: string; expected: number; actual: number }[];
  /** null when no master keys were given (the vault was not checked). */
  vault: VaultVerification | null;
}

async function checkFile(file: string): Promise<BackupManifest> {
  if (!existsSync(file)) throw new RefusedError(`${file} does not exist`);
  const manifest = readManifest(file);
  const hash = await sha256File(file);
  if (hash !== manifest.sha256) throw new RefusedError(`${file} does not match its manifest (sha256 ${hash.slice(0, 12)}… instead of ${manifest.sha256.slice(0, 12)}…): damaged or replaced`);
  return manifest;
}

type RunSqlResult = <R = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<{ rows: R[] }>;

async function checkCopy(run: RunSql, exec: { executeSql: RunSqlResult }, manifest: BackupManifest, keys: VaultKeys | null) {
  const counts = await tableCounts(run);
  const schema = await migrationLevel(run);
  const differences = countDifferences(manifest.tables, counts);
  const vault = keys ? await verifyVault(exec, keys) : null;
  const schemaOk = schema.migrations_applied === manifest.schema.migrations_applied && schema.latest_migration === manifest.schema.latest_migration;
  return {
    counts,
    schema,
    differences,
    vault,
    ok: differences.length === 0 && schemaOk && (vault?.ok ?? true),
  };
}

const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * PostgreSQL: the target database is created when missing. An existing one
 * that holds any table is refused unless `force`, which drops and recreates
 * it (and so ends its sessions). `pg_restore --no-owner --no-privileges`, so
 * the copy belongs to whoever restores it.
 */
export async function restorePostgres(opts: { file: string; targetUrl: string; force?: boolean; keys: VaultKeys | null; jobs?: number }): Promise<RestoreReport> {
  const started = Date.now();
  const manifest = await checkFile(opts.file);
  if (manifest.kind !== 'postgres') throw new RefusedError(`${opts.file} is an embedded (PGlite) backup: restore it with --data-dir`);
  const target = new URL(opts.targetUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (!DB_NAME.test(name)) throw new RefusedError(`target database name "${name}" must be letters, digits and _`);
  const admin = new URL(target);
  admin.pathname = '/postgres';
  const adminClient = new pg.Client({ connectionString: admin.toString() });
  await adminClient.connect();
  try {
    const exists = (await adminClient.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
    if (exists) {
      const probe = new pg.Client({ connectionString: target.toString() });
      await probe.connect();
      const used = await probe
        .query<{ n: number }>(`select count(*)::int as n from pg_class c join pg_namespace s on s.oid = c.relnamespace where c.relkind in ('r', 'p') and s.nspname not in ('pg_catalog', 'information_schema') and s.nspname not like 'pg_toast%'`)
        .finally(() => probe.end());
      const tables = used.rows[0]?.n ?? 0;
      if (tables > 0 && !opts.force) throw new RefusedError(`database ${name} is not empty (${tables} tables); restore into a new database, or add --force to drop and recreate it`);
      if (tables > 0) await adminClient.query(`drop database "${name}" with (force)`);
      if (tables > 0) await adminClient.query(`create database "${name}"`);
    } else {
      await adminClient.query(`create database "${name}"`);
    }
  } finally {
    await adminClient.end();
  }
  await runPgTool('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', `--jobs=${opts.jobs ?? 2}`, opts.file], opts.targetUrl);
  const client = new pg.Client({ connectionString: opts.targetUrl });
  await client.connect();
  try {
    const executeSql: RunSqlResult = async (text, values) => ({ rows: (await client.query(text, values as unknown[])).rows });
    const run: RunSql = async (text, values) => (await executeSql(text, values)).rows as never[];
    const c = await checkCopy(run, { executeSql }, manifest, opts.keys);
    return report(manifest, withoutPassword(opts.targetUrl), started, c);
  } finally {
    await client.end();
  }
}

/**
 * The embedded database: the tarball becomes DATA_DIR/pglite of a new data
 * directory. An existing non-empty DATA_DIR/pglite is refused unless `force`,
 * which replaces it (files next to it, such as secrets.json, stay).
 */
export async function restorePglite(opts: { file: string; dataDir: string; force?: boolean; keys: VaultKeys | null }): Promise<RestoreReport> {
  const started = Date.now();
  const manifest = await checkFile(opts.file);
  if (manifest.kind !== 'pglite') throw new RefusedError(`${opts.file} is a PostgreSQL backup: restore it with --to <postgres url>`);
  const dir = join(opts.dataDir, 'pglite');
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!opts.force) throw new RefusedError(`${dir} is not empty; restore into a new data directory, or add --force to replace it`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(opts.dataDir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const client = new PGlite(dir, { loadDataDir: new Blob([readFileSync(opts.file)]) });
  await client.waitReady;
  try {
    const executeSql: RunSqlResult = async (text, values) => ({ rows: (await client.query(text, values as never[])).rows as never[] });
    const run: RunSql = async (text, values) => (await executeSql(text, values)).rows as never[];
    const c = await checkCopy(run, { executeSql }, manifest, opts.keys);
    return report(manifest, opts.dataDir, started, c);
  } finally {
    await client.close();
  }
}

function report(manifest: BackupManifest, target: string, started: number, c: Awaited<ReturnType<typeof checkCopy>>): RestoreReport {
  return {
    ok: c.ok,
    kind: manifest.kind,
    target,
    took_ms: Date.now() - started,
    manifest,
    rows: Object.values(c.counts).reduce((a, b) => a + b, 0),
    tables: Object.keys(c.counts).length,
    schema: c.schema,
    differences: c.differences,
    vault: c.vault,
  };
}
