import { Param, sql, type SQL } from 'drizzle-orm';
import { createHash } from 'node:crypto';
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

const preparedNames = new Map<string, string>();
function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (!name) {
    if (preparedNames.size > 500) throw new Error('too many distinct prepared statements: only fixed hot-path statements should be prepared');
    name = `kq_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    preparedNames.set(text, name);
  }
  return name;
}

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
export async function queryRows<R = Record<string, unknown>>(db: DbOrTx, text: string, values: unknown[] = [], opts: { prepare?: boolean } = {}): Promise<R[]> {
  const client = (db as unknown as { session?: { client?: unknown } }).session?.client;
  if (client instanceof pg.Pool || client instanceof pg.Client) {
    // Prepared (parsed and planned once per connection) for the few fixed statements of the hot path.
    const name = opts.prepare ? preparedName(text) : undefined;
    return (await client.query<R & pg.QueryResultRow>({ name, text, values, types: pgTypes })).rows;
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

/** One simple SQL statement (no WITH of its own) and its values, to be run together with others. */
export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * Runs simple statements (inserts, updates, selects) written by different
 * modules as one statement: each becomes a CTE with its placeholders
 * renumbered. One round trip instead of several, on paths where the round
 * trips are the cost; each module still writes only its own SQL. Returns
 * the rows each statement returns (data-modifying ones need RETURNING to
 * return any), as JSON values.
 */
export async function runTogether(db: DbOrTx, statements: Statement[]): Promise<unknown[][]> {
  if (statements.length === 1) return [await queryRows(db, statements[0]!.text, statements[0]!.values, { prepare: true })];
  const values: unknown[] = [];
  const ctes = statements.map((st, i) => {
    const offset = values.length;
    values.push(...st.values);
    return `s${i} as (${st.text.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + offset}`)})`;
  });
  const returning = statements.map((st) => /^\s*select\b|\breturning\b/i.test(st.text));
  const select = statements.map((_, i) => (returning[i] ? `(select coalesce(json_agg(s${i}), '[]'::json) from s${i}) as r${i}` : `null as r${i}`)).join(', ');
  const [row] = await queryRows<Record<string, unknown[] | null>>(db, `with ${ctes.join(', ')} select ${select}`, values, { prepare: true });
  return statements.map((_, i) => row?.[`r${i}`] ?? []);
}
