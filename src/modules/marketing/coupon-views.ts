import type { couponTemplates, customerCoupons } from './coupon-schema.js';

export interface CouponTemplateView {
  id: string;
  name: string;
  kind: string;
  amount_off_fen: number | null;
  percent_off_bps: number | null;
  max_off_fen: number | null;
  min_amount_fen: number;
  scope: string;
  scope_ids: string[];
  valid_from: string | null;
  valid_until: string | null;
  valid_days: number | null;
  per_user_limit: number;
  total_limit: number | null;
  budget_fen: number | null;
  issued_count: number;
  used_count: number;
  spent_fen: number;
  stackable_with_offers: boolean;
  claimable: boolean;
  new_user_pack: boolean;
  campaign_id: string | null;
  status: string;
  created_by: string | null;
  created_at: string;
}

export interface CouponView {
  id: string;
  template_id: string;
  customer_id: string;
  /** available | used | expired | void: an available coupon past valid_until shows as expired before the job marks it */
  state: string;
  valid_from: string;
  valid_until: string;
  source: string;
  order_id: string | null;
  discount_fen: number | null;
  used_at: string | null;
  campaign_id: string | null;
  created_at: string;
  terms: { name: string; kind: string; amount_off_fen: number | null; percent_off_bps: number | null; max_off_fen: number | null; min_amount_fen: number; scope: string; stackable_with_offers: boolean };
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function templateView(t: typeof couponTemplates.$inferSelect): CouponTemplateView {
  return {
    id: t.id,
    name: t.name,
    kind: t.kind,
    amount_off_fen: t.amountOffFen,
    percent_off_bps: t.percentOffBps,
    max_off_fen: t.maxOffFen,
    min_amount_fen: t.minAmountFen,
    scope: t.scope,
    scope_ids: t.scopeIds,
    valid_from: iso(t.validFrom),
    valid_until: iso(t.validUntil),
    valid_days: t.validDays,
    per_user_limit: t.perUserLimit,
    total_limit: t.totalLimit,
    budget_fen: t.budgetFen,
    issued_count: t.issuedCount,
    used_count: t.usedCount,
    spent_fen: t.spentFen,
    stackable_with_offers: t.stackableWithOffers,
    claimable: t.claimable,
    new_user_pack: t.newUserPack,
    campaign_id: t.campaignId,
    status: t.status,
    created_by: t.createdBy,
    created_at: t.createdAt.toISOString(),
  };
}

export function couponView(c: typeof customerCoupons.$inferSelect, t: typeof couponTemplates.$inferSelect, now: Date): CouponView {
  return {
    id: c.id,
    template_id: c.templateId,
    customer_id: c.customerId,
    state: c.state === 'available' && c.validUntil <= now ? 'expired' : c.state,
    valid_from: c.validFrom.toISOString(),
    valid_until: c.validUntil.toISOString(),
    source: c.source,
    order_id: c.orderId,
    discount_fen: c.discountFen,
    used_at: iso(c.usedAt),
    campaign_id: c.campaignId,
    created_at: c.createdAt.toISOString(),
    terms: { name: t.name, kind: t.kind, amount_off_fen: t.amountOffFen, percent_off_bps: t.percentOffBps, max_off_fen: t.maxOffFen, min_amount_fen: t.minAmountFen, scope: t.scope, stackable_with_offers: t.stackableWithOffers },
  };
}
