import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** Both drivers give the same drizzle API; business code sees only this type. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface SqlResult<R = Record<string, unknown>> {
  rows: R[];
}

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Raw SQL for tools that bring their own (the job engine, verifiers, benchmarks). */
  executeSql<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<SqlResult<R>>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Statements sent to the database since it was opened (one increment each): benchmarks and tests assert hot paths that must not query. */
  queryCount(): number;
}

/** The drizzle/ folder next to package.json, from src/ (tsx) or from dist/src/ (compiled). */
export const migrationsFolder = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'drizzle', 'meta', '_journal.json'))) return join(dir, 'drizzle');
    dir = resolve(dir, '..');
  }
  throw new Error('drizzle/ migrations folder not found');
})();

// Keeps two instances starting at once from migrating over each other.
const MIGRATION_LOCK = 7_240_001;

export interface OpenOptions {
  databaseUrl?: string;
  /** Directory for the embedded database; `undefined` with no URL means in memory. */
  dataDir?: string;
  /**
   * An in-memory embedded database starts from this image (a PGlite data-dir dump) instead of running initdb: the
   * tests take one migrated image and open every file's database from it (about 4 s less each). Migrations still run.
   */
  image?: Blob;
  poolSize?: number;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.poolSize ?? 10) : openPglite(opts.dataDir, opts.image);
}

async function openPglite(dataDir: string | undefined, image?: Blob): Promise<Database> {
  // Loaded only in embedded mode: the WASM build weighs some 40 MB that a real-server deployment need not carry.
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle: drizzlePglite } = await import('drizzle-orm/pglite');
  const { migrate: migratePglite } = await import('drizzle-orm/pglite/migrator');
  let client: PGlite;
  if (dataDir) {
    const dir = join(dataDir, 'pglite');
    mkdirSync(dirname(dir), { recursive: true });
    client = new PGlite(dir);
  } else {
    client = image ? new PGlite({ loadDataDir: image }) : new PGlite();
  }
  await client.waitReady;
  const counted = countPgliteQueries(client);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  await migratePglite(db as never, { migrationsFolder });
  return {
    kind: 'pglite',
    db,
    async executeSql<R>(text: string, values?: unknown[]) {
      // Multi-statement scripts (no parameters) need the simple protocol.
      if (!values || values.length === 0) {
        const results = await client.exec(text);
        return { rows: (results.at(-1)?.rows ?? []) as R[] };
      }
      const res = await client.query<R>(text, values as never[]);
      return { rows: res.rows };
    },
    async ping() {
      await client.query('select 1');
    },
    async close() {
      if (!client.closed) await client.close();
    },
    queryCount: () => counted.n,
  };
}

/**
 * Counts every statement a PGlite instance runs: plain queries, exec scripts and those inside transactions (BEGIN
 * counts one). Each statement also first yields to the event loop: PGlite runs in this thread and its queued statements
 * otherwise follow one another in microtasks, so a backlog of transactions would hold every other request (even one
 * that needs no database) until all of them are done.
 */
function countPgliteQueries(client: PGlite): { n: number } {
  const counted = { n: 0 };
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const query = client.query.bind(client);
  const exec = client.exec.bind(client);
  const transaction = client.transaction.bind(client);
  client.query = (async (...args: Parameters<PGlite['query']>) => (counted.n++, await turn(), query(...args))) as PGlite['query'];
  client.exec = (async (...args: Parameters<PGlite['exec']>) => (counted.n++, await turn(), exec(...args))) as PGlite['exec'];
  client.transaction = ((fn: Parameters<PGlite['transaction']>[0]) =>
    transaction(async (tx) => {
      counted.n++;
      const txQuery = tx.query.bind(tx);
      const txExec = tx.exec.bind(tx);
      tx.query = (async (...args: Parameters<typeof tx.query>) => (counted.n++, await turn(), txQuery(...args))) as typeof tx.query;
      tx.exec = (async (...args: Parameters<typeof tx.exec>) => (counted.n++, await turn(), txExec(...args))) as typeof tx.exec;
      return fn(tx);
    })) as PGlite['transaction'];
  return counted;
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => undefined);
  // Every statement goes through some pooled client's query (pool.query included): counted there, once each.
  let queries = 0;
  pool.on('connect', (client) => {
    // A checked-out client (between two statements of a transaction) that loses its server emits 'error' with no
    // pool listener attached: without this the process dies on a database restart. Its next query fails instead.
    client.on('error', () => undefined);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => (queries++, query(...args));
  });
  const db = drizzlePg(pool, { schema }) as unknown as Db;
  const lockClient = await pool.connect();
  try {
    await lockClient.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migratePg(drizzlePg(lockClient, { schema }) as never, { migrationsFolder });
  } finally {
    await lockClient.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    lockClient.release();
  }
  return {
    kind: 'postgres',
    db,
    async executeSql<R>(text: string, values?: unknown[]) {
      const res = await pool.query(text, values as unknown[]);
      // A multi-statement query answers with an array of results.
      const last = Array.isArray(res) ? (res.at(-1) as pg.QueryResult) : res;
      return { rows: (last?.rows ?? []) as R[] };
    },
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      await pool.end();
    },
    queryCount: () => queries,
  };
}
