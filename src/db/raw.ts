import { Param, sql, type SQL } from 'drizzle-orm';
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

export async function queryRows<R = Record<string, unknown>>(db: DbOrTx, text: string, values: unknown[] = []): Promise<R[]> {
  const res = (await db.execute(rawSql(text, values))) as unknown as { rows: R[] };
  return res.rows;
}

/** The database's own message: drizzle wraps driver errors ("Failed query: …") and keeps the original as `cause`. */
export function databaseMessage(err: unknown): string {
  const e = err as { cause?: { message?: string }; message?: string };
  return e?.cause?.message ?? e?.message ?? String(err);
}
