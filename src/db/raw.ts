import { Param, sql, type SQL } from 'drizzle-orm';
import pg from 'pg';
import type { DbOrTx } from './client.js';

/**
 * Hand-written SQL with $1..$n placeholders, run through drizzle so it joins
 * the caller's transaction. Each value is sent as one bound parameter (arrays
 * stay arrays: `= any($1::text[])`), never spliced into the text.
 */
export function rawSql(text: string, values: unknown[] = []): SQL {
  const chunks: SQL[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, m.index)));
    chunks.push(sql`${new Param(values[Number(m[1]) - 1])}`);
    last = m.index! + m[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  return sql.join(chunks, sql.raw(''));
}

// Dates and intervals come back as the database's text, exactly as drizzle returns them, so a query
// gives the same rows whichever path runs it.
const keepText = (value: string) => value;
const TEXT_TYPE_IDS = [pg.types.builtins.TIMESTAMPTZ, pg.types.builtins.TIMESTAMP, pg.types.builtins.DATE, pg.types.builtins.INTERVAL, 1231, 1115, 1185, 1187, 1182];
const pgTypes = { getTypeParser: (id: number, format?: string) => (TEXT_TYPE_IDS.includes(id) ? keepText : pg.types.getTypeParser(id, format as 'text')) };
const pgliteOptions = { rowMode: 'object' as const, parsers: Object.fromEntries(TEXT_TYPE_IDS.map((id) => [id, keepText])) };

interface PgliteLike {
  query<R>(text: string, values: unknown[], options: typeof pgliteOptions): Promise<{ rows: R[] }>;
  exec: unknown;
}

/**
 * Runs hand-written SQL straight on the driver connection that `db` (a
 * database or a transaction) holds: the same rows and errors as through
 * drizzle, without building a query object per call, which on the hot path
 * of selling cost more CPU than the statement itself.
 */
export async function queryRows<R = Record<string, unknown>>(db: DbOrTx, text: string, values: unknown[] = []): Promise<R[]> {
  const client = (db as unknown as { session?: { client?: unknown } }).session?.client;
  if (client instanceof pg.Pool || client instanceof pg.Client) {
    return (await client.query<R & pg.QueryResultRow>({ text, values, types: pgTypes })).rows;
  }
  if (client && typeof (client as PgliteLike).exec === 'function') {
    return (await (client as PgliteLike).query<R>(text, values, pgliteOptions)).rows;
  }
  const res = (await db.execute(rawSql(text, values))) as unknown as { rows: R[] };
  return res.rows;
}

/** The database's own message: drizzle wraps driver errors ("Failed query: …") and keeps the original as `cause`. */
export function databaseMessage(err: unknown): string {
  const e = err as { cause?: { message?: string }; message?: string };
  return e?.cause?.message ?? e?.message ?? String(err);
}
