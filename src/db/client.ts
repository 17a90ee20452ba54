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
  };
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => undefined);
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
  };
}
