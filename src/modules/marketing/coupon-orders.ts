import { eq } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { Tx } from '../../db/client.js';
import { queryRows } from '../../db/raw.js';
import { AppError } from '../../lib/errors.js';
import { checkUse, type CouponKind, type CouponScope } from './coupon-rules.js';
import { couponTemplates, customerCoupons } from './coupon-schema.js';

export interface ApplyInput {
  couponId: string;
  buyer: { type: 'customer' | 'agent'; id: string };
  orderId: string;
  sku: { id: string; productId: string; category: string };
  unitPriceFen: number;
  quantity: number;
  /** The order's amount before the coupon (unit price x quantity). */
  amountFen: number;
  /** Set when the order is priced by an offer (flash sale, group buy...): only stackable coupons apply. */
  offerKind?: string;
}

const refuse = (status: 'UNPROCESSABLE' | 'CONFLICT', message: string, code?: string) => new AppError(status, `coupon_id: ${message}`, [{ field: 'coupon_id', message, ...(code ? { code } : {}) }]);

/**
 * A coupon paying part of an order, inside the order's own transaction. The
 * checks run on a plain read first (clear refusals); what decides under
 * concurrency is the two conditional UPDATEs: the coupon moves only if it is
 * still available (two orders racing for one coupon: the second finds it
 * used), and the template's counters move only while the budget has room. If
 * the second one refuses, the error rolls back the whole order.
 */
export function createCouponOrders(p: Platform) {
  async function applyToOrder(tx: Tx, input: ApplyInput): Promise<{ discountFen: number; campaignId: string | null }> {
    const now = p.clock.now();
    const [row] = await tx.select({ c: customerCoupons, t: couponTemplates }).from(customerCoupons).innerJoin(couponTemplates, eq(couponTemplates.id, customerCoupons.templateId)).where(eq(customerCoupons.id, input.couponId));
    if (!row) throw refuse('UNPROCESSABLE', `no coupon ${input.couponId}`);
    const { c, t } = row;
    const verdict = checkUse({
      coupon: c,
      template: { ...t, kind: t.kind as CouponKind, scope: t.scope as CouponScope },
      buyer: input.buyer,
      sku: input.sku,
      amountFen: input.amountFen,
      offerKind: input.offerKind,
      now,
    });
    if (!verdict.ok) throw refuse(verdict.status, verdict.message, verdict.status === 'CONFLICT' ? 'COUPON_USED' : undefined);
    const discountFen = verdict.discountFen;
    const moved = await queryRows(
      tx,
      `update customer_coupons set state = 'used', order_id = $2, discount_fen = $3, used_at = $4::timestamptz
       where id = $1 and customer_id = $5 and state = 'available' and valid_from <= $4::timestamptz and valid_until > $4::timestamptz returning id`,
      [c.id, input.orderId, discountFen, now.toISOString(), input.buyer.id],
    );
    if (moved.length === 0) throw refuse('CONFLICT', 'the coupon has already been used', 'COUPON_USED');
    const counted = await queryRows(
      tx,
      `update coupon_templates set used_count = used_count + 1, spent_fen = spent_fen + $2
       where id = $1 and (total_limit is null or used_count < total_limit) and (budget_fen is null or spent_fen + $2 <= budget_fen) returning id`,
      [t.id, discountFen],
    );
    if (counted.length === 0) throw refuse('UNPROCESSABLE', 'the budget of this coupon is spent', 'COUPON_BUDGET_EXHAUSTED');
    return { discountFen, campaignId: t.campaignId };
  }

  /** The order was cancelled or rejected unpaid: its coupon is available again (expired if its time has passed) and the template's counters go back. */
  async function releaseForOrder(tx: Tx, orderId: string): Promise<void> {
    const now = p.clock.now().toISOString();
    const held = await queryRows<{ id: string; template_id: string; discount_fen: number }>(tx, `select id, template_id, discount_fen from customer_coupons where order_id = $1 and state = 'used' for update`, [orderId]);
    for (const c of held) {
      await queryRows(
        tx,
        `update customer_coupons set state = case when valid_until > $2::timestamptz then 'available' else 'expired' end, order_id = null, discount_fen = null, used_at = null where id = $1`,
        [c.id, now],
      );
      await queryRows(tx, `update coupon_templates set used_count = used_count - 1, spent_fen = spent_fen - $2 where id = $1`, [c.template_id, Number(c.discount_fen)]);
    }
  }

  /**
   * A payment came after the deadline for an order whose cancel gave its coupon
   * back: the coupon is taken again for the same discount (the buyer paid the
   * discounted price; validity was judged when the order was made), if it is
   * still available and the budget allows. Refuses otherwise.
   */
  async function retakeForOrder(tx: Tx, input: { couponId: string; orderId: string; discountFen: number }): Promise<void> {
    const now = p.clock.now().toISOString();
    const moved = await queryRows<{ template_id: string }>(
      tx,
      `update customer_coupons set state = 'used', order_id = $2, discount_fen = $3, used_at = $4::timestamptz where id = $1 and state in ('available', 'expired') returning template_id`,
      [input.couponId, input.orderId, input.discountFen, now],
    );
    if (moved.length === 0) throw refuse('CONFLICT', 'the coupon was used again meanwhile', 'COUPON_USED');
    const counted = await queryRows(
      tx,
      `update coupon_templates set used_count = used_count + 1, spent_fen = spent_fen + $2
       where id = $1 and (total_limit is null or used_count < total_limit) and (budget_fen is null or spent_fen + $2 <= budget_fen) returning id`,
      [moved[0]!.template_id, input.discountFen],
    );
    if (counted.length === 0) throw refuse('UNPROCESSABLE', 'the budget of this coupon is spent', 'COUPON_BUDGET_EXHAUSTED');
  }

  return { applyToOrder, releaseForOrder, retakeForOrder };
}
