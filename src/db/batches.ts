import { encodeTime } from 'ulid';

/**
 * Repeats `step` (one bounded statement, e.g. a DELETE of at most
 * `batchSize` rows) while it keeps filling a whole batch, so a large clean-up
 * runs as many short statements, each holding its row locks only briefly,
 * never as one long one. Stops after `budgetMs` of wall time; the next run
 * carries on. Returns how many rows all steps touched.
 */
export async function inBatches(step: () => Promise<number>, batchSize: number, budgetMs = 10 * 60_000): Promise<number> {
  const started = Date.now();
  let total = 0;
  for (;;) {
    const n = await step();
    total += n;
    if (n < batchSize || Date.now() - started > budgetMs) return total;
  }
}

/**
 * The lowest possible id with this prefix made at `at`. Ids are ULIDs of
 * their creation time (never earlier), so every id below it was created
 * before `at`: a range on the primary key that finds old rows without an
 * index on their timestamps. Rows it misses (an id whose time ran ahead of
 * its row's) are only kept longer, never deleted early.
 */
export const idFloor = (prefix: string, at: Date): string => `${prefix}_${encodeTime(at.getTime(), 10)}`;
