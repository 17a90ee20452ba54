import { and, lt, type Column, type SQL } from 'drizzle-orm';

/**
 * The WHERE of one page of a newest-first list: the filters that apply
 * (undefined ones are skipped) and ids below the cursor. Lists order by id
 * descending and fetch limit + 1 rows; `toPage` (lib/pagination) cuts them.
 */
export function pageFilter(idColumn: Column, cursor: string | undefined, ...filters: (SQL | undefined)[]): SQL | undefined {
  const parts = [...filters, cursor ? lt(idColumn, cursor) : undefined].filter((x): x is SQL => x !== undefined);
  return parts.length ? and(...parts) : undefined;
}
