import type { FieldIssue } from '../../lib/errors.js';

/** Pure coupon arithmetic and checks: no database, no clock of their own. */

export const couponKinds = ['fixed', 'percent', 'threshold'] as const;
export type CouponKind = (typeof couponKinds)[number];
export const couponScopes = ['all', 'products', 'categories', 'skus'] as const;
export type CouponScope = (typeof couponScopes)[number];
export const couponStates = ['available', 'used', 'expired', 'void'] as const;
export type CouponState = (typeof couponStates)[number];

const DAY_MS = 24 * 60 * 60 * 1000;

export interface TemplateTerms {
  kind: CouponKind;
  amountOffFen: number | null;
  percentOffBps: number | null;
  maxOffFen: number | null;
  minAmountFen: number;
  scope: CouponScope;
  scopeIds: string[];
  validFrom: Date | null;
  validUntil: Date | null;
  validDays: number | null;
  perUserLimit: number;
  totalLimit: number | null;
  budgetFen: number | null;
}

/** Everything wrong with a template's terms, field by field (API names), empty when it is sound. */
export function templateIssues(t: TemplateTerms): FieldIssue[] {
  const out: FieldIssue[] = [];
  const add = (field: string, message: string) => out.push({ field, message });
  if (t.kind === 'fixed' || t.kind === 'threshold') {
    if (t.amountOffFen === null) add('amount_off_fen', `required for a ${t.kind} coupon`);
    if (t.percentOffBps !== null) add('percent_off_bps', `only for percent coupons`);
    if (t.maxOffFen !== null) add('max_off_fen', `only for percent coupons`);
  }
  if (t.kind === 'percent') {
    if (t.percentOffBps === null) add('percent_off_bps', 'required for a percent coupon');
    else if (t.percentOffBps < 1 || t.percentOffBps > 9_999) add('percent_off_bps', 'between 1 and 9999 (0.01% to 99.99%)');
    if (t.amountOffFen !== null) add('amount_off_fen', 'not for percent coupons (use max_off_fen to cap the discount)');
  }
  if (t.kind === 'threshold') {
    if (t.minAmountFen <= 0) add('min_amount_fen', 'required for a threshold coupon');
    else if (t.amountOffFen !== null && t.amountOffFen >= t.minAmountFen) add('amount_off_fen', 'must be below min_amount_fen (an order is never free)');
  }
  if (t.scope === 'all' && t.scopeIds.length > 0) add('scope_ids', 'must be empty when scope is all');
  if (t.scope !== 'all' && t.scopeIds.length === 0) add('scope_ids', `list the ${t.scope} the coupon applies to`);
  if (t.validUntil === null && t.validDays === null) add('valid_until', 'give valid_until, valid_days or both');
  if (t.validFrom && t.validUntil && t.validUntil <= t.validFrom) add('valid_until', 'must be after valid_from');
  if (t.totalLimit !== null && t.perUserLimit > t.totalLimit) add('per_user_limit', 'cannot exceed total_limit');
  if (t.budgetFen !== null && t.amountOffFen !== null && t.budgetFen < t.amountOffFen) add('budget_fen', 'smaller than one coupon\'s discount');
  return out;
}

/** The discount on an order of amountFen (before any coupon): 0 below the threshold; never the whole amount. */
export function discountFor(t: Pick<TemplateTerms, 'kind' | 'amountOffFen' | 'percentOffBps' | 'maxOffFen' | 'minAmountFen'>, amountFen: number): number {
  if (amountFen < 2 || amountFen < t.minAmountFen) return 0;
  let off: number;
  if (t.kind === 'percent') {
    off = Math.floor((amountFen * (t.percentOffBps ?? 0)) / 10_000);
    if (t.maxOffFen !== null) off = Math.min(off, t.maxOffFen);
  } else {
    off = t.amountOffFen ?? 0;
  }
  // At least one fen is always paid: a coupon lowers a price, it never makes an order free.
  return Math.max(0, Math.min(off, amountFen - 1));
}

/** The most one coupon of this template can take off: what its budget has to leave room for at issue time. */
export function minimumDiscount(t: Pick<TemplateTerms, 'kind' | 'amountOffFen'>): number {
  return t.kind === 'percent' ? 1 : (t.amountOffFen ?? 1);
}

export function inScope(t: Pick<TemplateTerms, 'scope' | 'scopeIds'>, sku: { id: string; productId: string; category: string }): boolean {
  switch (t.scope) {
    case 'all':
      return true;
    case 'products':
      return t.scopeIds.includes(sku.productId);
    case 'categories':
      return t.scopeIds.includes(sku.category);
    case 'skus':
      return t.scopeIds.includes(sku.id);
  }
}

/** When a coupon issued at `now` is usable: the template's window, or N days from issue (never past the window's end). */
export function validityAt(t: Pick<TemplateTerms, 'validFrom' | 'validUntil' | 'validDays'>, now: Date): { validFrom: Date; validUntil: Date } {
  const validFrom = t.validDays !== null ? now : (t.validFrom ?? now);
  const relative = t.validDays !== null ? new Date(now.getTime() + t.validDays * DAY_MS) : null;
  const end = relative && t.validUntil ? (relative < t.validUntil ? relative : t.validUntil) : (relative ?? t.validUntil!);
  return { validFrom, validUntil: end };
}

/** Why the template cannot issue a coupon now (claim or grant), or null. */
export function issueRefusal(t: Pick<TemplateTerms, 'validFrom' | 'validUntil'> & { status: string }, now: Date): string | null {
  if (t.status !== 'active') return 'the coupon template is paused';
  if (t.validFrom && now < t.validFrom) return 'the coupon cannot be claimed yet';
  if (t.validUntil && now >= t.validUntil) return 'the coupon template has ended';
  return null;
}

export interface UseCheck {
  coupon: { customerId: string; state: string; validFrom: Date; validUntil: Date };
  template: TemplateTerms & { stackableWithOffers: boolean };
  buyer: { type: 'customer' | 'agent'; id: string };
  sku: { id: string; productId: string; category: string };
  amountFen: number;
  offerKind?: string;
  now: Date;
}

/** Why this coupon cannot pay part of this order (code for the client, message for people), or its discount. */
export function checkUse(c: UseCheck): { ok: true; discountFen: number } | { ok: false; status: 'UNPROCESSABLE' | 'CONFLICT'; message: string } {
  const no = (message: string, status: 'UNPROCESSABLE' | 'CONFLICT' = 'UNPROCESSABLE') => ({ ok: false as const, status, message });
  if (c.buyer.type !== 'customer' || c.coupon.customerId !== c.buyer.id) return no('the coupon does not belong to the buyer');
  if (c.coupon.state === 'used') return no('the coupon has already been used', 'CONFLICT');
  if (c.coupon.state !== 'available') return no(`the coupon is ${c.coupon.state}`);
  if (c.now < c.coupon.validFrom) return no('the coupon is not valid yet');
  if (c.now >= c.coupon.validUntil) return no('the coupon has expired');
  if (c.offerKind && !c.template.stackableWithOffers) return no(`the coupon cannot be combined with a ${c.offerKind} offer`);
  if (!inScope(c.template, c.sku)) return no('the coupon does not apply to this product');
  if (c.amountFen < c.template.minAmountFen) return no(`the order must reach ${c.template.minAmountFen} fen to use this coupon`);
  const discountFen = discountFor(c.template, c.amountFen);
  if (discountFen <= 0) return no('the coupon takes nothing off this order');
  return { ok: true, discountFen };
}
