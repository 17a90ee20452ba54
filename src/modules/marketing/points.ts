import { and, desc, eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import { pointsEntries } from './points-schema.js';

export interface PointsSettings {
  /** Days an earned lot lives (0: never expires). */
  expiryDays: number;
  /** "Expiring soon" in the balance: lots that expire within this many days. */
  expiringSoonDays?: number;
}

export interface PointsEntryView {
  id: string;
  kind: string;
  points: number;
  remaining: number;
  expires_at: string | null;
  reason: string;
  ref_type: string;
  ref_id: string;
  created_at: string;
}

export interface PointsBalance {
  points: number;
  expiringSoon: { points: number; expiresAt: string }[];
}

const DAY = 86_400_000;
const positive = (n: number) => Number.isSafeInteger(n) && n > 0;

export const insufficientPoints = (available: number, wanted: number) =>
  new AppError('UNPROCESSABLE', `not enough points: ${available} available, ${wanted} needed`, [{ field: 'points', message: `only ${available} available`, code: 'INSUFFICIENT_POINTS' }]);

const toView = (e: typeof pointsEntries.$inferSelect): PointsEntryView => ({
  id: e.id,
  kind: e.kind,
  points: e.points,
  remaining: e.remaining,
  expires_at: e.expiresAt?.toISOString() ?? null,
  reason: e.reason,
  ref_type: e.refType,
  ref_id: e.refId,
  created_at: e.createdAt.toISOString(),
});

/**
 * The points ledger. Entries are never changed except a lot's `remaining`;
 * every debit (spend, expiry, refund reversal, staff adjustment) runs with
 * the customer's wallet row locked and consumes unexpired lots oldest-expiry
 * first, so two racing spends queue and never overdraw.
 */
export function createPointsService(p: Platform, settings: PointsSettings) {
  /** Locks (creating on first use) the customer's wallet row: one statement, held until the caller's transaction ends. */
  async function lockWallet(tx: DbOrTx, customerId: string) {
    await queryRows(
      tx,
      `insert into points_wallets (customer_id, created_at) values ($1, $2::timestamptz)
       on conflict (customer_id) do update set customer_id = excluded.customer_id returning customer_id`,
      [customerId, p.clock.now().toISOString()],
    );
  }

  async function available(db: DbOrTx, customerId: string): Promise<number> {
    const [row] = await queryRows<{ s: string }>(
      db,
      `select coalesce(sum(remaining), 0)::text as s from points_entries
       where customer_id = $1 and remaining > 0 and (expires_at is null or expires_at > $2::timestamptz)`,
      [customerId, p.clock.now().toISOString()],
    );
    return Number(row?.s ?? 0);
  }

  /** Takes up to `wanted` points from the customer's unexpired lots, soonest expiry first (the wallet must be locked). */
  async function consume(tx: Tx, customerId: string, wanted: number): Promise<number> {
    const lots = await queryRows<{ id: string; remaining: number }>(
      tx,
      `select id, remaining from points_entries
       where customer_id = $1 and remaining > 0 and (expires_at is null or expires_at > $2::timestamptz)
       order by expires_at asc nulls last, id asc`,
      [customerId, p.clock.now().toISOString()],
    );
    let left = wanted;
    const ids: string[] = [];
    const takes: number[] = [];
    for (const lot of lots) {
      if (left === 0) break;
      const take = Math.min(left, Number(lot.remaining));
      ids.push(lot.id);
      takes.push(take);
      left -= take;
    }
    if (ids.length) {
      await queryRows(tx, `update points_entries e set remaining = e.remaining - u.take from unnest($1::text[], $2::int[]) as u(id, take) where e.id = u.id`, [ids, takes]);
    }
    return wanted - left;
  }

  async function insertEntry(tx: DbOrTx, e: { customerId: string; kind: string; points: number; remaining?: number; expiresAt?: Date | null; reason: string; refType: string; refId: string }): Promise<boolean> {
    const now = p.clock.now();
    const rows = await queryRows(
      tx,
      `insert into points_entries (id, customer_id, kind, points, remaining, expires_at, reason, ref_type, ref_id, created_at)
       values ($1, $2, $3, $4, $5, $6::timestamptz, $7, $8, $9, $10::timestamptz)
       on conflict (ref_type, ref_id, reason) do nothing returning id`,
      [newId('pnt', now), e.customerId, e.kind, e.points, e.remaining ?? 0, e.expiresAt?.toISOString() ?? null, e.reason, e.refType, e.refId, now.toISOString()],
    );
    return rows.length > 0;
  }

  const exists = async (tx: DbOrTx, refType: string, refId: string, reason: string) =>
    (await queryRows(tx, 'select 1 from points_entries where ref_type = $1 and ref_id = $2 and reason = $3', [refType, refId, reason])).length > 0;

  /** Credits a lot, once per (refType, refId, reason). */
  async function award(tx: Tx, input: { customerId: string; points: number; reason: string; refType: string; refId: string; expiresAt?: Date; kind?: 'earn' | 'adjust' }): Promise<{ created: boolean }> {
    if (!positive(input.points)) throw new AppError('VALIDATION_FAILED', 'points: must be a positive whole number', [{ field: 'points', message: 'must be positive' }]);
    const expiresAt = input.expiresAt ?? (settings.expiryDays > 0 ? new Date(p.clock.now().getTime() + settings.expiryDays * DAY) : null);
    const created = await insertEntry(tx, { customerId: input.customerId, kind: input.kind ?? 'earn', points: input.points, remaining: input.points, expiresAt, reason: input.reason, refType: input.refType, refId: input.refId });
    return { created };
  }

  /** Spends all of `points` or nothing (INSUFFICIENT_POINTS); a repeat with the same (refType, refId, reason) does nothing. */
  async function spend(tx: Tx, input: { customerId: string; points: number; reason: string; refType: string; refId: string; kind?: 'spend' | 'adjust' }): Promise<void> {
    if (!positive(input.points)) throw new AppError('VALIDATION_FAILED', 'points: must be a positive whole number', [{ field: 'points', message: 'must be positive' }]);
    await lockWallet(tx, input.customerId);
    if (await exists(tx, input.refType, input.refId, input.reason)) return;
    const have = await available(tx, input.customerId);
    if (have < input.points) throw insufficientPoints(have, input.points);
    const taken = await consume(tx, input.customerId, input.points);
    if (taken !== input.points) throw new Error(`points spend of ${input.customerId}: took ${taken} of ${input.points} under the wallet lock`);
    await insertEntry(tx, { customerId: input.customerId, kind: input.kind ?? 'spend', points: -input.points, reason: input.reason, refType: input.refType, refId: input.refId });
  }

  /**
   * Takes back up to `points` (a refund's reversal): never below zero; what
   * could not be taken is returned as the shortfall for the caller to record.
   */
  async function takeBack(tx: Tx, input: { customerId: string; points: number; reason: string; refType: string; refId: string }): Promise<{ taken: number; shortfall: number }> {
    if (input.points <= 0) return { taken: 0, shortfall: 0 };
    await lockWallet(tx, input.customerId);
    if (await exists(tx, input.refType, input.refId, input.reason)) return { taken: 0, shortfall: 0 };
    const taken = await consume(tx, input.customerId, input.points);
    if (taken > 0) await insertEntry(tx, { customerId: input.customerId, kind: 'reverse', points: -taken, reason: input.reason, refType: input.refType, refId: input.refId });
    return { taken, shortfall: input.points - taken };
  }

  async function balance(customerId: string, db: DbOrTx = p.db): Promise<PointsBalance> {
    const now = p.clock.now();
    const soon = new Date(now.getTime() + (settings.expiringSoonDays ?? 30) * DAY);
    const rows = await queryRows<{ expires_at: string; s: string }>(
      db,
      `select expires_at, sum(remaining)::text as s from points_entries
       where customer_id = $1 and remaining > 0 and expires_at > $2::timestamptz and expires_at <= $3::timestamptz
       group by expires_at order by expires_at limit 20`,
      [customerId, now.toISOString(), soon.toISOString()],
    );
    return { points: await available(db, customerId), expiringSoon: rows.map((r) => ({ points: Number(r.s), expiresAt: new Date(r.expires_at).toISOString() })) };
  }

  async function history(customerId: string, q: { limit: number; cursor?: string }): Promise<PageResult<PointsEntryView>> {
    const rows = await p.db.select().from(pointsEntries).where(pageFilter(pointsEntries.id, q.cursor, and(eq(pointsEntries.customerId, customerId)))).orderBy(desc(pointsEntries.id)).limit(q.limit + 1);
    return toPage(rows.map(toView), q.limit);
  }

  /**
   * The expiry job: lots past their expiry lose what is left, one negative
   * entry per lot (idempotent per lot), a customer per transaction with the
   * wallet locked. Returns how many lots expired.
   */
  async function expireDue(limit = 500): Promise<number> {
    const now = p.clock.now().toISOString();
    const customers = await queryRows<{ customer_id: string }>(p.db, `select distinct customer_id from points_entries where remaining > 0 and expires_at <= $1::timestamptz limit $2`, [now, limit]);
    let n = 0;
    for (const { customer_id } of customers) {
      n += await p.db.transaction(async (tx) => {
        await lockWallet(tx, customer_id);
        const lots = await queryRows<{ id: string; remaining: number }>(tx, `select id, remaining from points_entries where customer_id = $1 and remaining > 0 and expires_at <= $2::timestamptz`, [customer_id, now]);
        for (const lot of lots) {
          await insertEntry(tx, { customerId: customer_id, kind: 'expire', points: -Number(lot.remaining), reason: 'expire', refType: 'points_lot', refId: lot.id });
          await queryRows(tx, 'update points_entries set remaining = 0 where id = $1', [lot.id]);
        }
        return lots.length;
      });
    }
    return n;
  }

  /** Invariant for tests and checks: a customer's entries sum to what its lots still hold (expired or not). */
  async function verify(customerId: string): Promise<{ entries: number; lots: number }> {
    const [row] = await queryRows<{ e: string; l: string }>(p.db, 'select coalesce(sum(points), 0)::text as e, coalesce(sum(remaining), 0)::text as l from points_entries where customer_id = $1', [customerId]);
    return { entries: Number(row?.e ?? 0), lots: Number(row?.l ?? 0) };
  }

  return { award, spend, takeBack, balance, history, expireDue, verify, lockWallet };
}

export type PointsService = ReturnType<typeof createPointsService>;
