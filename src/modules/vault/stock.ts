import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import type { AuditService } from '../audit/service.js';
import type { CatalogService } from '../catalog/service.js';
import { transitionFor, type CodeEvent, type CodeState } from './code-state.js';

export interface TransitionContext {
  actorType: 'staff' | 'system' | 'customer' | 'order' | 'store_staff';
  actorId?: string | null;
  /** what caused it: an order id, a refund id, a reason */
  ref?: string | null;
}

export interface StockFigures {
  sku_id: string;
  available: number;
  available_free: number;
  available_allocated: number;
  reserved: number;
  sold: number;
  delivered: number;
  revealed: number;
  redeemed: number;
  expired: number;
  voided: number;
  expiring_soon: number;
}

/** A claimed code's sealed secret and its batch's wrapped data key, for opening without another query. */
export interface SealedRow {
  code_id: string;
  sealed: Uint8Array;
  batch_id: string;
  data_key_sealed: Uint8Array;
  master_key_id: string;
}

type Row = Record<string, unknown>;

/**
 * Claims and state changes of codes. Claims lock the rows they take
 * (FOR UPDATE SKIP LOCKED): two buyers never get the same code and never
 * wait on each other's rows. Allocation is physical (codes carry their
 * allocation id), so a quota is claimed exactly like the free pool.
 */
export function createStock(p: Platform, deps: { audit: AuditService; catalog: CatalogService }) {
  const exec = <R = Row>(db: DbOrTx | undefined, text: string, values: unknown[], opts?: { prepare?: boolean }): Promise<R[]> => queryRows<R>(db ?? p.db, text, values, opts);

  async function logEvents(db: DbOrTx | undefined, ids: string[], from: string | string[], to: CodeState, ctx: TransitionContext) {
    if (ids.length === 0) return;
    const now = p.clock.now();
    const fromStates = Array.isArray(from) ? from : ids.map(() => from);
    await exec(
      db,
      `insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at)
       select u.id, u.code_id, u.from_state, $1, $2, $3, $4, $5 from unnest($6::text[], $7::text[], $8::text[]) as u(id, code_id, from_state)`,
      [to, ctx.actorType, ctx.actorId ?? null, ctx.ref ?? null, now.toISOString(), ids.map(() => newId('cev', now)), ids, fromStates],
    );
  }

  // Whether a SKU's codes are shared (and how often each sells) is read on every claim; it changes rarely,
  // so it is cached for a few seconds per instance instead of costing a query per order.
  const saleRulesCache = new Map<string, { reusable: boolean; maxSalesPerCode: number; at: number }>();
  async function saleRules(skuId: string, db?: DbOrTx) {
    const hit = saleRulesCache.get(skuId);
    if (hit && Date.now() - hit.at < 5_000) return hit;
    const sku = await deps.catalog.getSku(skuId, db);
    const rules = { reusable: sku.reusable, maxSalesPerCode: sku.maxSalesPerCode, at: Date.now() };
    if (saleRulesCache.size > 10_000) saleRulesCache.clear();
    saleRulesCache.set(skuId, rules);
    return rules;
  }

  /**
   * Takes up to `quantity` codes from one pool (an allocation or the free
   * pool), earliest expiry first, and moves them to 'reserved', or further
   * along `then` (sell -> deliver -> reveal for an order paid at once): the
   * claim, the update and one history row per code and step in one statement,
   * a single round trip on the hot path of every sale.
   */
  async function claimFrom(db: DbOrTx | undefined, q: { skuId: string; quantity: number; allocationId: string | null; holder: string; until: Date; ctx: TransitionContext; then?: CodeEvent[]; sealed?: SealedRow[] }): Promise<string[]> {
    const now = p.clock.now().toISOString();
    const steps = [transitionFor('reserve'), ...(q.then ?? []).map(transitionFor)];
    steps.forEach((step, i) => {
      if (i > 0 && !(step.from as readonly string[]).includes(steps[i - 1]!.to)) throw new Error(`${q.then![i - 1]} cannot follow ${i === 1 ? 'reserve' : q.then![i - 2]}`);
    });
    const selling = (q.then ?? []).includes('sell');
    const values: unknown[] = [];
    const bind = (value: unknown) => `$${values.push(value)}`;
    const at = bind(now);
    const rows = await exec<{ code_id: string }>(
      db,
      `with picked as (
         select id from codes
         where sku_id = ${bind(q.skuId)} and state = 'available' and ${q.allocationId ? `allocation_id = ${bind(q.allocationId)}` : 'allocation_id is null'}
           and (expires_at is null or expires_at > ${at}::timestamptz)
         order by expires_at asc nulls last
         limit ${bind(q.quantity)}
         for update skip locked),
       claimed as (
         update codes c set state = ${bind(steps.at(-1)!.to)}, reserved_by = ${bind(q.holder)}, updated_at = ${at}::timestamptz,
           ${selling ? `reserved_until = null, order_id = ${bind(q.ctx.ref ?? q.holder)}` : `reserved_until = ${bind(q.until.toISOString())}::timestamptz`}
         from picked where c.id = picked.id
         returning c.id, c.sealed, c.batch_id),
       events as (
         insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at)
         select ${bind(newId('cev', p.clock.now()))} || '_' || lpad((row_number() over (order by c.id, s.n))::text, 6, '0'), c.id, s.from_state, s.to_state,
                ${bind(q.ctx.actorType)}, ${bind(q.ctx.actorId ?? null)}, ${bind(q.ctx.ref ?? null)}, ${at}::timestamptz
         from claimed c cross join unnest(${bind(steps.map((step, i) => (i === 0 ? 'available' : steps[i - 1]!.to)))}::text[], ${bind(steps.map((step) => step.to))}::text[]) with ordinality as s(from_state, to_state, n))
       ${
         // A sale that hands the codes over at once reads their sealed secrets in the same statement.
         q.sealed
           ? 'select c.id as code_id, c.sealed, c.batch_id, b.data_key_sealed, b.master_key_id from claimed c join code_batches b on b.id = c.batch_id'
           : 'select id as code_id from claimed'
       }`,
      values,
      { prepare: true },
    );
    if (q.sealed) q.sealed.push(...(rows as unknown as SealedRow[]));
    return rows.map((r) => r.code_id);
  }

  /**
   * Reserves codes for a holder (an order) until a deadline: from the
   * holder's allocation first, then from the free pool. All or nothing:
   * when there are not enough, nothing stays reserved and OUT_OF_STOCK says
   * how many there were.
   */
  async function reserve(q: { skuId: string; quantity: number; holder: string; until: Date; allocationId?: string; ctx?: TransitionContext; then?: CodeEvent[]; sealed?: SealedRow[] }, tx?: DbOrTx): Promise<string[]> {
    if (!Number.isInteger(q.quantity) || q.quantity < 1) throw new AppError('VALIDATION_FAILED', 'quantity: must be a positive integer', [{ field: 'quantity', message: 'must be a positive integer' }]);
    const sku = await saleRules(q.skuId, tx);
    const run = async (db: DbOrTx) => {
      if (sku.reusable) {
        if (q.then?.length) throw new AppError('UNPROCESSABLE', 'shared-account codes are not sold through orders yet', [{ field: 'sku_id', message: 'is a shared-account SKU' }]);
        return claimShared(db, { ...q, maxSales: sku.maxSalesPerCode });
      }
      const ctx = q.ctx ?? { actorType: 'order' as const, actorId: q.holder, ref: q.holder };
      const fromAllocation = q.allocationId ? await claimFrom(db, { ...q, ctx, allocationId: q.allocationId }) : [];
      const rest = q.quantity - fromAllocation.length;
      const fromFree = rest > 0 ? await claimFrom(db, { ...q, ctx, quantity: rest, allocationId: null }) : [];
      const ids = [...fromAllocation, ...fromFree];
      // Short: what was claimed goes back before refusing, so a caller's transaction that carries on holds nothing.
      if (ids.length < q.quantity && ids.length > 0) await putBack(db, ids, ctx);
      if (ids.length < q.quantity) throw new AppError('OUT_OF_STOCK', `only ${ids.length} of ${q.quantity} codes are available`, { sku_id: q.skuId, available: ids.length, requested: q.quantity });
      return ids;
    };
    return tx ? run(tx) : p.db.transaction(run);
  }

  /** Undoes a short claim inside the caller's transaction: back to available (or their state, if the claim went further). */
  async function putBack(db: DbOrTx, ids: string[], ctx: TransitionContext) {
    await exec(
      db,
      `update codes set state = 'available', reserved_by = null, reserved_until = null, order_id = null, updated_at = $2::timestamptz where id = any($1::text[])`,
      [ids, p.clock.now().toISOString()],
    );
    await logEvents(db, ids, ids.map(() => 'reserved'), 'available', { ...ctx, ref: `${ctx.ref ?? ''} (not enough stock: claim undone)`.trim() });
  }

  /**
   * Shared-account (reusable) codes are sold to several buyers: a sale takes
   * one unit of a code's sale limit; the code leaves sale ('sold') when its
   * limit is used up. One order never gets the same code twice.
   */
  async function claimShared(db: DbOrTx, q: { skuId: string; quantity: number; holder: string; allocationId?: string; maxSales: number; ctx?: TransitionContext }): Promise<string[]> {
    const now = p.clock.now().toISOString();
    const rows = await exec<{ id: string; state: string }>(
      db,
      `with picked as (
         select id from codes
         where sku_id = $1 and state = 'available' and sale_count < $3 and (expires_at is null or expires_at > $2::timestamptz)
         order by sale_count desc, expires_at asc nulls last
         limit $4
         for update skip locked)
       update codes c set sale_count = c.sale_count + 1, state = case when c.sale_count + 1 >= $3 then 'sold' else 'available' end, updated_at = $2::timestamptz
       from picked where c.id = picked.id
       returning c.id, c.state`,
      [q.skuId, now, q.maxSales, q.quantity],
    );
    if (rows.length < q.quantity) throw new AppError('OUT_OF_STOCK', `only ${rows.length} of ${q.quantity} shared codes have sales left`, { sku_id: q.skuId, available: rows.length, requested: q.quantity });
    const soldOut = rows.filter((r) => r.state === 'sold').map((r) => r.id);
    await logEvents(db, soldOut, 'available', 'sold', q.ctx ?? { actorType: 'order', actorId: q.holder, ref: `${q.holder} (last sale of a shared code)` });
    return rows.map((r) => r.id);
  }

  /** Gives back one sale of each shared code (an unpaid or refunded order of a reusable SKU). */
  async function releaseShared(codeIds: string[], ctx: TransitionContext, tx?: DbOrTx): Promise<number> {
    const run = async (db: DbOrTx) => {
      const rows = await exec<{ id: string; was: string }>(
        db,
        `with target as (select id, state as was from codes where id = any($1::text[]) and sale_count > 0 and state in ('available', 'sold') for update)
         update codes c set sale_count = c.sale_count - 1, state = 'available', updated_at = $2::timestamptz from target where c.id = target.id returning c.id, target.was`,
        [codeIds, p.clock.now().toISOString()],
      );
      await logEvents(db, rows.filter((r) => r.was === 'sold').map((r) => r.id), 'sold', 'available', ctx);
      return rows.length;
    };
    return tx ? run(tx) : p.db.transaction(run);
  }

  /**
   * Applies one life-cycle event to codes. Only rows still in an allowed
   * state change; if any code was not, nothing changes and the transition is
   * refused, naming the codes and their states.
   */
  async function transition(codeIds: string[], event: CodeEvent, ctx: TransitionContext, tx?: DbOrTx): Promise<string[]> {
    if (codeIds.length === 0) return [];
    const t = transitionFor(event);
    const extra =
      event === 'sell'
        ? `, order_id = $5, reserved_until = null`
        : event === 'release' || event === 'restock'
          ? `, reserved_by = null, reserved_until = null, order_id = null`
          : '';
    const run = async (db: DbOrTx) => {
      const now = p.clock.now().toISOString();
      const rows = await exec<{ id: string; from_state: string }>(
        db,
        `with target as (select id, state as from_state from codes where id = any($1::text[]) and state = any($2::text[]) for update)
         update codes c set state = $3, updated_at = $4::timestamptz ${extra}
         from target where c.id = target.id
         returning c.id, target.from_state`,
        event === 'sell' ? [codeIds, [...t.from], t.to, now, ctx.ref ?? null] : [codeIds, [...t.from], t.to, now],
      );
      if (rows.length !== new Set(codeIds).size) {
        const changed = new Set(rows.map((r) => r.id));
        const refused = codeIds.filter((id) => !changed.has(id));
        const states = await exec<{ id: string; state: string }>(db, 'select id, state from codes where id = any($1::text[])', [refused]);
        throw new AppError('CONFLICT', `cannot ${event} ${refused.length} code(s): not in ${t.from.join(' or ')}`, {
          event,
          refused: refused.map((id) => ({ id, state: states.find((s) => s.id === id)?.state ?? 'not found' })),
        });
      }
      await logEvents(db, rows.map((r) => r.id), rows.map((r) => r.from_state), t.to, ctx);
      return rows.map((r) => r.id);
    };
    return tx ? run(tx) : p.db.transaction(run);
  }

  /**
   * Several life-cycle steps at once (e.g. sell -> deliver -> reveal when a
   * paid order hands its codes straight to their owner): one UPDATE to the
   * last state, checked against the first step's allowed states (and each
   * step against the one before), and one history row per step.
   */
  async function transitionChain(codeIds: string[], events: CodeEvent[], ctx: TransitionContext, tx: DbOrTx): Promise<string[]> {
    const steps = events.map(transitionFor);
    steps.forEach((s, i) => {
      if (i > 0 && !(s.from as readonly string[]).includes(steps[i - 1]!.to)) throw new Error(`${events[i]} cannot follow ${events[i - 1]}`);
    });
    const selling = events.includes('sell');
    const now = p.clock.now().toISOString();
    // The update and one history row per code and step, in one statement.
    const rows = await exec<{ code_id: string }>(
      tx,
      `with target as (select id, state as from_state from codes where id = any($1::text[]) and state = any($2::text[]) for update),
       moved as (
         update codes c set state = $3, updated_at = $4::timestamptz ${selling ? ', order_id = $11, reserved_until = null' : ''}
         from target where c.id = target.id returning c.id, target.from_state)
       insert into code_events (id, code_id, from_state, to_state, actor_type, actor_id, ref, at)
       select $5 || '_' || row_number() over (), m.id, case when s.n = 1 then m.from_state else s.from_state end, s.to_state, $6, $7, $8, $4::timestamptz
       from moved m cross join unnest($9::text[], $10::text[]) with ordinality as s(from_state, to_state, n)
       returning code_id`,
      [
        codeIds,
        [...steps[0]!.from],
        steps.at(-1)!.to,
        now,
        newId('cev', p.clock.now()),
        ctx.actorType,
        ctx.actorId ?? null,
        ctx.ref ?? null,
        steps.map((s, i) => (i === 0 ? '' : steps[i - 1]!.to)),
        steps.map((s) => s.to),
        ...(selling ? [ctx.ref ?? null] : []),
      ],
    );
    const moved = [...new Set(rows.map((r) => r.code_id))];
    if (moved.length !== new Set(codeIds).size) throw new AppError('CONFLICT', `cannot ${events.join(' + ')} ${codeIds.length - moved.length} code(s)`, { events });
    return moved;
  }

  /** Safety net behind the orders' own expiry: reservations past their deadline go back to stock. */
  async function releaseExpiredReservations(): Promise<{ codeId: string; holder: string | null }[]> {
    return p.db.transaction(async (db) => {
      const rows = await exec<{ id: string; holder: string | null }>(
        db,
        `with target as (select id, reserved_by as holder from codes where state = 'reserved' and reserved_until < $1::timestamptz for update skip locked)
         update codes c set state = 'available', reserved_by = null, reserved_until = null, updated_at = $1::timestamptz
         from target where c.id = target.id returning c.id, target.holder`,
        [p.clock.now().toISOString()],
      );
      await logEvents(db, rows.map((r) => r.id), 'reserved', 'available', { actorType: 'system', ref: 'reservation deadline passed' });
      return rows.map((r) => ({ codeId: r.id, holder: r.holder }));
    });
  }

  /** Unsold codes past their expiry leave sale. */
  async function expireCodes(): Promise<number> {
    return p.db.transaction(async (db) => {
      const rows = await exec<{ id: string; from_state: string }>(
        db,
        `with target as (select id, state as from_state from codes where state in ('available', 'reserved') and expires_at <= $1::timestamptz for update skip locked)
         update codes c set state = 'expired', updated_at = $1::timestamptz from target where c.id = target.id returning c.id, target.from_state`,
        [p.clock.now().toISOString()],
      );
      await logEvents(db, rows.map((r) => r.id), rows.map((r) => r.from_state), 'expired', { actorType: 'system', ref: 'expiry date passed' });
      return rows.length;
    });
  }

  /** Per-SKU figures computed from the codes themselves, so they always agree with them. */
  async function stockFigures(skuIds: string[], expiringWithinDays = 7): Promise<StockFigures[]> {
    if (skuIds.length === 0) return [];
    const soon = new Date(p.clock.now().getTime() + expiringWithinDays * 86_400_000).toISOString();
    const rows = await exec<{ sku_id: string; state: string; allocated: boolean; n: number; expiring: number }>(
      undefined,
      `select sku_id, state, allocation_id is not null as allocated, count(*)::int as n,
              (count(*) filter (where state = 'available' and expires_at is not null and expires_at <= $2::timestamptz))::int as expiring
       from codes where sku_id = any($1::text[]) group by sku_id, state, allocation_id is not null`,
      [skuIds, soon],
    );
    return skuIds.map((skuId) => {
      const f: StockFigures = { sku_id: skuId, available: 0, available_free: 0, available_allocated: 0, reserved: 0, sold: 0, delivered: 0, revealed: 0, redeemed: 0, expired: 0, voided: 0, expiring_soon: 0 };
      for (const r of rows.filter((x) => x.sku_id === skuId)) {
        const n = Number(r.n);
        if (r.state === 'available') {
          f.available += n;
          if (r.allocated) f.available_allocated += n;
          else f.available_free += n;
          f.expiring_soon += Number(r.expiring);
        } else if (r.state in f) {
          (f as unknown as Record<string, number>)[r.state]! += n;
        }
      }
      return f;
    });
  }

  async function availableBySku(skuIds: string[]): Promise<Map<string, number>> {
    const figures = await stockFigures(skuIds);
    return new Map(figures.map((f) => [f.sku_id, f.available]));
  }

  /** Available codes of an allocation, or of the free pool of a SKU. */
  async function availableIn(skuId: string, allocationId: string | null, db?: DbOrTx): Promise<number> {
    const rows = await exec<{ n: number }>(
      db,
      `select count(*)::int as n from codes where sku_id = $1 and state = 'available' and ${allocationId ? 'allocation_id = $2' : 'allocation_id is null'}`,
      allocationId ? [skuId, allocationId] : [skuId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Moves free codes into an allocation (all or nothing). */
  async function moveToAllocation(skuId: string, allocationId: string, quantity: number, tx?: DbOrTx): Promise<number> {
    const run = async (db: DbOrTx) => {
      const rows = await exec<{ id: string }>(
        db,
        `with picked as (select id from codes where sku_id = $1 and state = 'available' and allocation_id is null order by expires_at asc nulls last limit $2 for update skip locked)
         update codes c set allocation_id = $3 from picked where c.id = picked.id returning c.id`,
        [skuId, quantity, allocationId],
      );
      if (rows.length < quantity) throw new AppError('OUT_OF_STOCK', `only ${rows.length} free codes to allocate, ${quantity} asked`, { available: rows.length, requested: quantity });
      return rows.length;
    };
    return tx ? run(tx) : p.db.transaction(run);
  }

  /** Returns an allocation's unsold codes (all, or `quantity` of them) to the free pool. */
  async function returnFromAllocation(allocationId: string, quantity: number | 'all', tx?: DbOrTx): Promise<number> {
    const run = async (db: DbOrTx) => {
      const rows = await exec<{ id: string }>(
        db,
        `with picked as (select id from codes where allocation_id = $1 and state = 'available' order by expires_at desc nulls first, id ${quantity === 'all' ? '' : 'limit $2'} for update skip locked)
         update codes c set allocation_id = null from picked where c.id = picked.id returning c.id`,
        quantity === 'all' ? [allocationId] : [allocationId, quantity],
      );
      if (quantity !== 'all' && rows.length < quantity) throw new AppError('CONFLICT', `the allocation has only ${rows.length} unsold codes`, { available: rows.length });
      return rows.length;
    };
    return tx ? run(tx) : p.db.transaction(run);
  }

  /** SKUs with available codes expiring within `days`, with how many. */
  async function expiringSoon(days: number): Promise<{ skuId: string; count: number; first: string }[]> {
    const now = p.clock.now();
    const rows = await exec<{ sku_id: string; n: number; first: string }>(
      undefined,
      `select sku_id, count(*)::int as n, min(expires_at)::text as first from codes
       where state = 'available' and expires_at > $1::timestamptz and expires_at <= $2::timestamptz group by sku_id`,
      [now.toISOString(), new Date(now.getTime() + days * 86_400_000).toISOString()],
    );
    return rows.map((r) => ({ skuId: r.sku_id, count: Number(r.n), first: r.first }));
  }

  /** The codes an order holds: reserved for it, or sold to it. */
  async function codesOfOrder(orderId: string, db?: DbOrTx): Promise<{ id: string; state: string }[]> {
    return exec<{ id: string; state: string }>(db, `select id, state from codes where order_id = $1 or (state = 'reserved' and reserved_by = $1) order by id`, [orderId]);
  }

  return { reserve, releaseShared, codesOfOrder, transition, transitionChain, releaseExpiredReservations, expireCodes, stockFigures, availableBySku, availableIn, moveToAllocation, returnFromAllocation, expiringSoon };
}
