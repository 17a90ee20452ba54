import { and, asc, eq, inArray, lte, or, sql } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import { AppError } from '../../lib/errors.js';
import type { OrderService } from '../orders/service.js';
import type { PaymentService } from '../payments/service.js';
import { groupBuyGroups, groupBuyMembers } from './group-buy-schema.js';

const REASON = 'group buy did not fill before its deadline';

/**
 * Groups that did not fill in time fail and their members get their money
 * back. Safe to run twice or concurrently: a group is failed under its row
 * lock (SKIP LOCKED, so two runners split the work), balance payments are
 * refunded in that same transaction, and provider payments (each its own
 * transaction in the payments module) are retried until the order says it
 * is refunded. Unpaid seats are left to the orders' payment deadline: their
 * cancellation frees nothing (the group is over), and a payment that still
 * arrives is refunded here.
 */
export function createGroupBuyExpiry(p: Platform, deps: { orders: Pick<OrderService, 'refundInTx' | 'get'>; payments: Pick<PaymentService, 'refundOrder'>; actor: { id: string; type: 'system' } }) {
  /** Fails one group if it is open and past its deadline; refunds its balance-paid members. False if nothing to do. */
  async function failGroup(groupId: string): Promise<boolean> {
    return p.db.transaction(async (tx) => {
      const now = p.clock.now();
      const [g] = await tx.select().from(groupBuyGroups).where(and(eq(groupBuyGroups.id, groupId), eq(groupBuyGroups.status, 'open'), lte(groupBuyGroups.expiresAt, now))).for('update', { skipLocked: true });
      if (!g) return false;
      await tx.update(groupBuyGroups).set({ status: 'failed', failedAt: now }).where(eq(groupBuyGroups.id, g.id));
      const paid = await tx.select().from(groupBuyMembers).where(and(eq(groupBuyMembers.groupId, g.id), eq(groupBuyMembers.status, 'paid'), eq(groupBuyMembers.paidByBalance, true))).orderBy(asc(groupBuyMembers.orderId));
      for (const m of paid) await deps.orders.refundInTx(tx, m.orderId, { reason: REASON }, deps.actor);
      if (paid.length) await tx.update(groupBuyMembers).set({ status: 'refunded', updatedAt: now }).where(inArray(groupBuyMembers.orderId, paid.map((m) => m.orderId)));
      return true;
    });
  }

  /** Paid seats of failed groups (provider payments, late payers) and seats paid after being given up: refunded the way they were paid. */
  async function refundDue(limit = 200): Promise<number> {
    const due = await p.db
      .select({ orderId: groupBuyMembers.orderId, paidByBalance: groupBuyMembers.paidByBalance })
      .from(groupBuyMembers)
      .innerJoin(groupBuyGroups, eq(groupBuyGroups.id, groupBuyMembers.groupId))
      .where(or(and(eq(groupBuyMembers.status, 'paid'), eq(groupBuyGroups.status, 'failed')), eq(groupBuyMembers.status, 'refund_due')))
      .limit(limit);
    let n = 0;
    for (const m of due) {
      try {
        if (m.paidByBalance) {
          await p.db.transaction(async (tx) => {
            const [locked] = await tx.select().from(groupBuyMembers).where(and(eq(groupBuyMembers.orderId, m.orderId), inArray(groupBuyMembers.status, ['paid', 'refund_due']))).for('update', { skipLocked: true });
            if (!locked) return;
            await deps.orders.refundInTx(tx, m.orderId, { reason: REASON }, deps.actor);
            await markRefunded(tx, m.orderId);
          });
        } else {
          await deps.payments.refundOrder(m.orderId, { reason: REASON, to: 'original' }, deps.actor);
          await markRefunded(p.db, m.orderId);
        }
        n++;
      } catch (err) {
        // Another runner refunded it first (nothing left to refund): the seat is settled all the same.
        if (err instanceof AppError && err.code === 'CONFLICT' && (await deps.orders.get(m.orderId)).status === 'refunded') await markRefunded(p.db, m.orderId);
        else p.logger.warn({ err, order_id: m.orderId }, 'group-buy refund failed; retried on the next run');
      }
    }
    return n;
  }

  async function markRefunded(db: Pick<typeof p.db, 'update'>, orderId: string) {
    await db.update(groupBuyMembers).set({ status: 'refunded', updatedAt: p.clock.now() }).where(and(eq(groupBuyMembers.orderId, orderId), inArray(groupBuyMembers.status, ['paid', 'refund_due'])));
  }

  /** The job: every open group past its deadline fails (a batch), then the refunds still due are sent. */
  async function expireDue(limit = 200): Promise<{ failed: number; refunded: number }> {
    const due = await p.db.select({ id: groupBuyGroups.id }).from(groupBuyGroups).where(and(eq(groupBuyGroups.status, 'open'), sql`${groupBuyGroups.expiresAt} <= ${p.clock.now()}`)).orderBy(asc(groupBuyGroups.expiresAt)).limit(limit);
    let failed = 0;
    for (const { id } of due) if (await failGroup(id)) failed++;
    return { failed, refunded: await refundDue(limit) };
  }

  return { failGroup, refundDue, expireDue };
}
