import { and, count, desc, eq, gt, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Platform } from '../../platform.js';
import type { DbOrTx, Tx } from '../../db/client.js';
import { pageFilter } from '../../db/paging.js';
import { queryRows } from '../../db/raw.js';
import { AppError, notFound } from '../../lib/errors.js';
import { newId } from '../../lib/ids.js';
import { toPage, type PageResult } from '../../lib/pagination.js';
import type { AuditService } from '../audit/service.js';
import { createIdempotency } from '../orders/idempotency.js';
import type { CampaignService } from './campaign-service.js';
import { issueRefusal, minimumDiscount, templateIssues, validityAt, type CouponKind, type CouponScope, type CouponState } from './coupon-rules.js';
import { couponTemplates, customerCoupons } from './coupon-schema.js';
import { createCouponOrders } from './coupon-orders.js';
import { couponView, templateView, type CouponTemplateView, type CouponView } from './coupon-views.js';

export interface TemplateInput {
  name: string;
  kind: CouponKind;
  amountOffFen?: number | null;
  percentOffBps?: number | null;
  maxOffFen?: number | null;
  minAmountFen?: number;
  scope?: CouponScope;
  scopeIds?: string[];
  validFrom?: Date | null;
  validUntil?: Date | null;
  validDays?: number | null;
  perUserLimit?: number;
  totalLimit?: number | null;
  budgetFen?: number | null;
  stackableWithOffers?: boolean;
  claimable?: boolean;
  newUserPack?: boolean;
  campaignId?: string | null;
}

export interface StaffActor {
  id: string;
  ip?: string;
}

export interface GrantInput {
  templateId: string;
  customerId: string;
  /** what issued it: claim, grant (staff), new_user_pack, cdk, referral, fission, points... */
  source: string;
  /** the issuing object (CDK id, referral id, idempotency key...): the same (template, source, ref, customer) issues once */
  sourceRef: string;
}

const refuseTemplate = (status: 'UNPROCESSABLE' | 'CONFLICT' | 'NOT_FOUND', message: string, code?: string) => new AppError(status, `template_id: ${message}`, [{ field: 'template_id', message, ...(code ? { code } : {}) }]);

/**
 * Coupon templates and the coupons customers hold. Issuing (claim, staff
 * grant, new-user pack, other tools' rewards) always goes through `issue`,
 * which locks the template row: the per-user count and the total limit are
 * then exact however many claims arrive at once. Use in an order is in
 * coupon-orders.ts.
 */
export function createCouponService(p: Platform, deps: { audit: AuditService; campaigns: CampaignService }) {
  const idempotency = createIdempotency(p);
  const { applyToOrder, releaseForOrder, retakeForOrder } = createCouponOrders(p);

  async function createTemplate(input: TemplateInput, actor: StaffActor): Promise<CouponTemplateView> {
    const now = p.clock.now();
    const row: typeof couponTemplates.$inferInsert & typeof couponTemplates.$inferSelect = {
      id: newId('cpt', now),
      name: input.name,
      kind: input.kind,
      amountOffFen: input.amountOffFen ?? null,
      percentOffBps: input.percentOffBps ?? null,
      maxOffFen: input.maxOffFen ?? null,
      minAmountFen: input.minAmountFen ?? 0,
      scope: input.scope ?? 'all',
      scopeIds: [...new Set(input.scopeIds ?? [])],
      validFrom: input.validFrom ?? null,
      validUntil: input.validUntil ?? null,
      validDays: input.validDays ?? null,
      perUserLimit: input.perUserLimit ?? 1,
      totalLimit: input.totalLimit ?? null,
      budgetFen: input.budgetFen ?? null,
      issuedCount: 0,
      usedCount: 0,
      spentFen: 0,
      stackableWithOffers: input.stackableWithOffers ?? false,
      claimable: input.claimable ?? false,
      newUserPack: input.newUserPack ?? false,
      campaignId: input.campaignId ?? null,
      status: 'active',
      createdBy: actor.id,
      createdAt: now,
      updatedAt: now,
    };
    const issues = templateIssues({ ...row, kind: input.kind, scope: row.scope as CouponScope });
    if (issues.length) throw new AppError('VALIDATION_FAILED', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues);
    await p.db.transaction(async (tx) => {
      await deps.campaigns.assertExists(row.campaignId, tx);
      await tx.insert(couponTemplates).values(row);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'coupon_template.created', targetType: 'coupon_template', targetId: row.id, ip: actor.ip ?? null, details: { name: row.name, kind: row.kind, amount_off_fen: row.amountOffFen, percent_off_bps: row.percentOffBps, total_limit: row.totalLimit, budget_fen: row.budgetFen, campaign_id: row.campaignId } }, tx);
    });
    return templateView(row);
  }

  async function getTemplate(id: string, db: DbOrTx = p.db): Promise<CouponTemplateView> {
    const [row] = await db.select().from(couponTemplates).where(eq(couponTemplates.id, id));
    if (!row) throw notFound('coupon template', id);
    return templateView(row);
  }

  async function listTemplates(q: { limit: number; cursor?: string; status?: 'active' | 'paused'; campaignId?: string; claimable?: boolean }): Promise<PageResult<CouponTemplateView>> {
    const rows = await p.db
      .select()
      .from(couponTemplates)
      .where(pageFilter(couponTemplates.id, q.cursor, q.status ? eq(couponTemplates.status, q.status) : undefined, q.campaignId ? eq(couponTemplates.campaignId, q.campaignId) : undefined, q.claimable === undefined ? undefined : eq(couponTemplates.claimable, q.claimable)))
      .orderBy(desc(couponTemplates.id))
      .limit(q.limit + 1);
    return toPage(rows.map(templateView), q.limit);
  }

  /**
   * The templates this customer can claim now, newest first: claimable, active, inside their window, not given out
   * (total limit, budget for one more) and under the customer's own limit. `issue` re-checks all of it under the lock.
   */
  async function listClaimable(q: { customerId: string; limit: number; cursor?: string }): Promise<PageResult<CouponTemplateView>> {
    const now = p.clock.now();
    const t = couponTemplates;
    const held = sql`(select count(*) from ${customerCoupons} where ${customerCoupons.templateId} = ${t.id} and ${customerCoupons.customerId} = ${q.customerId})`;
    const rows = await p.db
      .select()
      .from(t)
      .where(
        pageFilter(
          t.id,
          q.cursor,
          eq(t.claimable, true),
          eq(t.status, 'active'),
          or(isNull(t.validFrom), lte(t.validFrom, now)),
          or(isNull(t.validUntil), gt(t.validUntil, now)),
          or(isNull(t.totalLimit), sql`${t.issuedCount} < ${t.totalLimit}`),
          or(isNull(t.budgetFen), sql`${t.spentFen} + (case when ${t.kind} = 'percent' then 1 else coalesce(${t.amountOffFen}, 1) end) <= ${t.budgetFen}`),
          sql`${held} < ${t.perUserLimit}`,
        ),
      )
      .orderBy(desc(t.id))
      .limit(q.limit + 1);
    return toPage(rows.map(templateView), q.limit);
  }

  /** Pause (no more claims or grants; issued coupons stay usable) or resume. */
  async function setTemplateStatus(id: string, status: 'active' | 'paused', actor: StaffActor): Promise<CouponTemplateView> {
    return p.db.transaction(async (tx) => {
      const [row] = await tx.update(couponTemplates).set({ status, updatedAt: p.clock.now() }).where(eq(couponTemplates.id, id)).returning();
      if (!row) throw notFound('coupon template', id);
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: status === 'paused' ? 'coupon_template.paused' : 'coupon_template.resumed', targetType: 'coupon_template', targetId: id, ip: actor.ip ?? null, details: {} }, tx);
      return templateView(row);
    });
  }

  /**
   * Issues one coupon of a template to a customer, in the caller's transaction. The template row is locked first, so
   * issues of one template pass one at a time: the idempotency look-up, the per-user count and the total limit all see
   * every earlier issue. `couponId` lets a caller that stores its response up front (an Idempotency-Key) name the coupon.
   */
  async function issue(tx: Tx, input: GrantInput & { couponId?: string; claim?: boolean; gate?: (valueFen: number) => Promise<void> }): Promise<{ couponId: string; created: boolean }> {
    const now = p.clock.now();
    const [t] = await tx.select().from(couponTemplates).where(eq(couponTemplates.id, input.templateId)).for('update');
    if (!t || (input.claim && !t.claimable)) throw refuseTemplate('NOT_FOUND', `no ${input.claim ? 'claimable ' : ''}coupon template ${input.templateId}`);
    const mine = and(eq(customerCoupons.templateId, t.id), eq(customerCoupons.customerId, input.customerId));
    const [prior] = await tx.select({ id: customerCoupons.id }).from(customerCoupons).where(and(mine, eq(customerCoupons.source, input.source), eq(customerCoupons.sourceRef, input.sourceRef)));
    if (prior) return { couponId: prior.id, created: false };
    const refusal = issueRefusal(t, now);
    if (refusal) throw refuseTemplate('UNPROCESSABLE', refusal, 'COUPON_NOT_ISSUABLE');
    const [held] = await tx.select({ n: count() }).from(customerCoupons).where(mine);
    if ((held?.n ?? 0) >= t.perUserLimit) throw refuseTemplate('CONFLICT', `at most ${t.perUserLimit} of this coupon per customer`, 'COUPON_PER_USER_LIMIT');
    // The gate sees the claim once it is known to be possible (no risk counters spent on refusals) and before any write.
    await input.gate?.(t.kind === 'percent' ? (t.maxOffFen ?? 0) : (t.amountOffFen ?? 0));
    const counted = await queryRows(
      tx,
      `update coupon_templates set issued_count = issued_count + 1
       where id = $1 and (total_limit is null or issued_count < total_limit) and (budget_fen is null or spent_fen + $2 <= budget_fen) returning id`,
      [t.id, minimumDiscount({ kind: t.kind as CouponKind, amountOffFen: t.amountOffFen })],
    );
    if (counted.length === 0) throw refuseTemplate('CONFLICT', 'all coupons of this template have been given out', 'COUPONS_EXHAUSTED');
    const { validFrom, validUntil } = validityAt(t, now);
    const couponId = input.couponId ?? newId('ucp', now);
    await tx.insert(customerCoupons).values({ id: couponId, templateId: t.id, customerId: input.customerId, state: 'available', validFrom, validUntil, source: input.source, sourceRef: input.sourceRef, campaignId: t.campaignId, createdAt: now });
    return { couponId, created: true };
  }

  /** The contract's grant: idempotent per (template, source, source_ref, customer); 409/422 with field template_id when it cannot issue. */
  const grant = (tx: Tx, input: GrantInput) => issue(tx, input);

  /** Staff give a coupon to a customer (audited); the Idempotency-Key makes a retry give the same coupon. */
  async function grantByStaff(input: { templateId: string; customerId: string; idempotencyKey: string; reason: string }, actor: StaffActor): Promise<{ created: boolean; coupon: CouponView }> {
    const done = await p.db.transaction(async (tx) => {
      const g = await issue(tx, { templateId: input.templateId, customerId: input.customerId, source: 'grant', sourceRef: `staff:${input.idempotencyKey}` });
      if (g.created) await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'coupon.granted', targetType: 'customer_coupon', targetId: g.couponId, ip: actor.ip ?? null, details: { template_id: input.templateId, customer_id: input.customerId, reason: input.reason } }, tx);
      return g;
    });
    return { created: done.created, coupon: await getCoupon(done.couponId) };
  }

  /**
   * A customer claims a claimable coupon through a partner (Idempotency-Key per API key). `gate` is the risk gate: it
   * throws to refuse, and nothing (not even the key) stays written.
   */
  async function claim(input: { templateId: string; customerId: string; scope: string; idempotencyKey: string; gate?: (valueFen: number) => Promise<void> }): Promise<{ statusCode: 200 | 201; coupon: CouponView }> {
    const couponId = newId('ucp', p.clock.now());
    const done = await p.db.transaction(async (tx) => {
      const prior = await idempotency.claim(tx, input.scope, input.idempotencyKey, { template_id: input.templateId, customer_id: input.customerId }, { statusCode: 201, body: { coupon_id: couponId } });
      if (prior) return { statusCode: 200 as const, couponId: (prior.body as { coupon_id: string }).coupon_id };
      const g = await issue(tx, { templateId: input.templateId, customerId: input.customerId, source: 'claim', sourceRef: `${input.scope}:${input.idempotencyKey}`, couponId, claim: true, gate: input.gate });
      return { statusCode: 201 as const, couponId: g.couponId };
    });
    return { statusCode: done.statusCode, coupon: await getCoupon(done.couponId) };
  }

  /** The templates flagged new_user_pack, issued once to a new customer (each in its own transaction: one that is exhausted or paused does not stop the others). Answers the coupons issued now. */
  async function issueNewUserPack(customerId: string): Promise<{ issued: string[] }> {
    const pack = await p.db.select({ id: couponTemplates.id }).from(couponTemplates).where(and(eq(couponTemplates.newUserPack, true), eq(couponTemplates.status, 'active'))).orderBy(couponTemplates.id);
    const issued: string[] = [];
    for (const t of pack) {
      try {
        const g = await p.db.transaction((tx) => issue(tx, { templateId: t.id, customerId, source: 'new_user_pack', sourceRef: customerId }));
        if (g.created) issued.push(g.couponId);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        p.logger.info({ template_id: t.id, customer_id: customerId, reason: err.message }, 'new-user coupon not issued');
      }
    }
    return { issued };
  }

  async function getCoupon(id: string, db: DbOrTx = p.db): Promise<CouponView> {
    const [row] = await db.select({ c: customerCoupons, t: couponTemplates }).from(customerCoupons).innerJoin(couponTemplates, eq(couponTemplates.id, customerCoupons.templateId)).where(eq(customerCoupons.id, id));
    if (!row) throw notFound('coupon', id);
    return couponView(row.c, row.t, p.clock.now());
  }

  /** Issued coupons, newest first; state filters by the state shown (an available coupon past its end is expired). */
  async function listCoupons(q: { limit: number; cursor?: string; customerId?: string; templateId?: string; state?: CouponState }): Promise<PageResult<CouponView>> {
    const now = p.clock.now();
    const byState: Record<CouponState, SQL | undefined> = {
      available: and(eq(customerCoupons.state, 'available'), gt(customerCoupons.validUntil, now)),
      expired: or(eq(customerCoupons.state, 'expired'), and(eq(customerCoupons.state, 'available'), lte(customerCoupons.validUntil, now))),
      used: eq(customerCoupons.state, 'used'),
      void: eq(customerCoupons.state, 'void'),
    };
    const rows = await p.db
      .select({ c: customerCoupons, t: couponTemplates })
      .from(customerCoupons)
      .innerJoin(couponTemplates, eq(couponTemplates.id, customerCoupons.templateId))
      .where(pageFilter(customerCoupons.id, q.cursor, q.customerId ? eq(customerCoupons.customerId, q.customerId) : undefined, q.templateId ? eq(customerCoupons.templateId, q.templateId) : undefined, q.state ? byState[q.state] : undefined))
      .orderBy(desc(customerCoupons.id))
      .limit(q.limit + 1);
    return toPage(rows.map((r) => couponView(r.c, r.t, now)), q.limit);
  }

  /** Staff withdraw an unused coupon (audited); it still counts as issued. */
  async function voidCoupon(id: string, reason: string, actor: StaffActor): Promise<CouponView> {
    await p.db.transaction(async (tx) => {
      const [row] = await tx.update(customerCoupons).set({ state: 'void' }).where(and(eq(customerCoupons.id, id), or(eq(customerCoupons.state, 'available'), eq(customerCoupons.state, 'expired')))).returning();
      if (!row) {
        await getCoupon(id, tx);
        throw new AppError('CONFLICT', `coupon ${id} is used or already void`, [{ field: 'id', message: 'not available' }]);
      }
      await deps.audit.record({ actorType: 'staff', actorId: actor.id, action: 'coupon.voided', targetType: 'customer_coupon', targetId: id, ip: actor.ip ?? null, details: { customer_id: row.customerId, template_id: row.templateId, reason } }, tx);
    });
    return getCoupon(id);
  }

  /** Marks available coupons past their end as expired (the lists already show them so); a batch per call. */
  async function expireDue(limit = 1000): Promise<number> {
    const rows = await queryRows(p.db, `update customer_coupons set state = 'expired' where id in (select id from customer_coupons where state = 'available' and valid_until <= $1::timestamptz limit $2 for update skip locked) returning id`, [p.clock.now().toISOString(), limit]);
    return rows.length;
  }

  return { createTemplate, getTemplate, listTemplates, listClaimable, setTemplateStatus, grant, grantByStaff, claim, issueNewUserPack, getCoupon, listCoupons, voidCoupon, expireDue, applyToOrder, releaseForOrder, retakeForOrder };
}

export type CouponService = ReturnType<typeof createCouponService>;
