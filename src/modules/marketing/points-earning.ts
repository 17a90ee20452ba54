import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import type { OrderReports } from '../orders/reports.js';
import type { PointsService } from './points.js';

export interface PointsEarningSettings {
  /** Points per 100 fen (one yuan) paid; 0 turns earning off. */
  pointsPer100Fen: number;
  /** Orders delivered within this many days are considered by the job. */
  lookbackDays?: number;
}

/** Points a payment earns: whole points, rounded down. */
export const pointsFor = (paidFen: number, pointsPer100Fen: number) => (paidFen <= 0 ? 0 : Math.floor((paidFen * pointsPer100Fen) / 100));

/** What a refund takes back of `awarded`: in proportion to the refunded share, all of it once wholly refunded. */
export const reversalTarget = (awarded: number, refundedFen: number, amountFen: number) =>
  refundedFen >= amountFen ? awarded : Math.floor((awarded * Math.max(0, refundedFen)) / Math.max(1, amountFen));

/**
 * Earning on purchases, as a job (like commission accrual): delivered
 * customer orders earn points for what the buyer paid (not the part paid
 * from the promotional balance; orders paid by the promotion budget, such as
 * points exchanges and CDK products, earn nothing). Each order is handled in
 * its own transaction that locks it, with a marker row (points_order_awards),
 * so it earns once; later refunds take back points in proportion, never below
 * zero (the shortfall is kept on the marker).
 * The scans and the lock go through the orders module's reports.
 */
export function createPointsEarning(p: Platform, deps: { points: PointsService; orderReports: Pick<OrderReports, 'lockForAccrual' | 'customerOrdersAwaitingPoints' | 'pointsOrdersRefundedSince'> }, settings: PointsEarningSettings) {
  async function dueOrders(limit: number): Promise<{ id: string; promo_paid_fen: number }[]> {
    return deps.orderReports.customerOrdersAwaitingPoints(new Date(p.clock.now().getTime() - (settings.lookbackDays ?? 30) * 86_400_000), limit);
  }

  const refundedOrders = (limit: number) => deps.orderReports.pointsOrdersRefundedSince(limit);

  async function reverseIn(tx: Parameters<PointsService['takeBack']>[0], orderId: string, customerId: string, refundedFen: number) {
    const [a] = await queryRows<{ amount_fen: number; awarded: number; reversed: number; shortfall: number; refunded_fen_seen: number }>(tx, 'select amount_fen, awarded, reversed, shortfall, refunded_fen_seen from points_order_awards where order_id = $1 for update', [orderId]);
    if (!a || refundedFen <= a.refunded_fen_seen) return;
    const target = reversalTarget(a.awarded, refundedFen, a.amount_fen);
    const due = Math.max(0, target - a.reversed - a.shortfall);
    const r = await deps.points.takeBack(tx, { customerId, points: due, reason: `refund:${refundedFen}`, refType: 'order', refId: orderId });
    await queryRows(tx, 'update points_order_awards set refunded_fen_seen = $2, reversed = reversed + $3, shortfall = shortfall + $4, updated_at = $5::timestamptz where order_id = $1', [orderId, refundedFen, r.taken, r.shortfall, p.clock.now().toISOString()]);
  }

  /** The job: awards due orders, then reverses for refunds seen since. Returns how many orders earned points. */
  async function run(limit = 200): Promise<{ awarded: number; reversed: number }> {
    let awarded = 0;
    if (settings.pointsPer100Fen > 0) {
      for (const due of await dueOrders(limit)) {
        await p.db.transaction(async (tx) => {
          const o = await deps.orderReports.lockForAccrual(tx, due.id);
          if (!o || o.buyer_type !== 'customer') return;
          const paid = o.amount_fen - Number(due.promo_paid_fen ?? 0);
          const points = pointsFor(paid, settings.pointsPer100Fen);
          const now = p.clock.now().toISOString();
          const marked = await queryRows(tx, `insert into points_order_awards (order_id, customer_id, amount_fen, awarded, created_at, updated_at) values ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz) on conflict (order_id) do nothing returning order_id`, [o.id, o.buyer_id, o.amount_fen, points, now]);
          if (marked.length === 0) return;
          if (points > 0) {
            await deps.points.award(tx, { customerId: o.buyer_id, points, reason: 'purchase', refType: 'order', refId: o.id });
            awarded++;
          }
          if (o.refunded_fen > 0) await reverseIn(tx, o.id, o.buyer_id, o.refunded_fen);
        });
      }
    }
    let reversed = 0;
    for (const id of await refundedOrders(limit)) {
      await p.db.transaction(async (tx) => {
        const o = await deps.orderReports.lockForAccrual(tx, id);
        if (!o) return;
        await reverseIn(tx, o.id, o.buyer_id, o.refunded_fen);
        reversed++;
      });
    }
    return { awarded, reversed };
  }

  /** The marker of one order (tests, support). */
  async function ofOrder(orderId: string) {
    const [a] = await queryRows<{ awarded: number; reversed: number; shortfall: number; refunded_fen_seen: number }>(p.db, 'select awarded, reversed, shortfall, refunded_fen_seen from points_order_awards where order_id = $1', [orderId]);
    return a ?? null;
  }

  return { run, ofOrder };
}

export type PointsEarning = ReturnType<typeof createPointsEarning>;
