import type { Platform } from '../../platform.js';
import { inBatches, idFloor } from '../../db/batches.js';
import { queryRows } from '../../db/raw.js';

const DAY_MS = 86_400_000;

export interface OrderRetentionSettings {
  /** Idempotency keys are kept at least this many days (90 or more: a client may retry that late). */
  idempotencyDays: number;
  /** Reveal links used or expired this many days ago are deleted. */
  revealTokenDays?: number;
  /** Rows per DELETE statement. */
  batchSize?: number;
}

/**
 * Deletes what the orders module no longer needs, a batch per statement
 * (SKIP LOCKED: a row some transaction is using is left for the next run).
 */
export function createOrderRetention(p: Platform, settings: OrderRetentionSettings) {
  const batchSize = settings.batchSize ?? 5_000;
  const cutoff = (days: number) => new Date(p.clock.now().getTime() - days * DAY_MS);
  const count = async (text: string, values: unknown[]) => Number((await queryRows<{ n: number }>(p.db, text, values))[0]?.n ?? 0);

  /** Idempotency keys older than the retention (strictly: a key exactly that old stays until the next run). */
  async function purgeIdempotencyKeys(): Promise<number> {
    const before = cutoff(settings.idempotencyDays).toISOString();
    return inBatches(
      () =>
        count(
          `with doomed as (
             select scope, key from idempotency_keys where created_at < $1::timestamptz order by created_at limit $2 for update skip locked
           ), gone as (
             delete from idempotency_keys k using doomed d where k.scope = d.scope and k.key = d.key returning 1
           )
           select count(*)::int as n from gone`,
          [before, batchSize],
        ),
      batchSize,
    );
  }

  /** Reveal links that were used, or expired, more than the retention ago. */
  async function purgeRevealTokens(): Promise<number> {
    const at = cutoff(settings.revealTokenDays ?? 30);
    return inBatches(
      () =>
        count(
          `with doomed as (
             select id from reveal_tokens
             where id < $1 and (used_at < $2::timestamptz or expires_at < $2::timestamptz)
             order by id limit $3 for update skip locked
           ), gone as (
             delete from reveal_tokens t using doomed d where t.id = d.id returning 1
           )
           select count(*)::int as n from gone`,
          [idFloor('rvt', at), at.toISOString(), batchSize],
        ),
      batchSize,
    );
  }

  return { purgeIdempotencyKeys, purgeRevealTokens };
}

export type OrderRetention = ReturnType<typeof createOrderRetention>;
