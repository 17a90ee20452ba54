import { describe, expect, it } from 'vitest';
import { checkUse, discountFor, inScope, issueRefusal, templateIssues, validityAt, type TemplateTerms } from './coupon-rules.js';

const base: TemplateTerms = { kind: 'fixed', amountOffFen: 500, percentOffBps: null, maxOffFen: null, minAmountFen: 0, scope: 'all', scopeIds: [], validFrom: null, validUntil: new Date('2030-01-01T00:00:00Z'), validDays: null, perUserLimit: 1, totalLimit: null, budgetFen: null };
const fields = (t: Partial<TemplateTerms>) => templateIssues({ ...base, ...t }).map((i) => i.field);

describe('template terms', () => {
  it('a sound template has no issues', () => {
    expect(templateIssues(base)).toEqual([]);
    expect(fields({ kind: 'percent', amountOffFen: null, percentOffBps: 1500, maxOffFen: 2000 })).toEqual([]);
    expect(fields({ kind: 'threshold', amountOffFen: 1000, minAmountFen: 5000 })).toEqual([]);
  });
  it('names the field that is wrong', () => {
    expect(fields({ amountOffFen: null })).toEqual(['amount_off_fen']);
    expect(fields({ kind: 'percent', amountOffFen: null })).toEqual(['percent_off_bps']);
    expect(fields({ kind: 'percent', amountOffFen: null, percentOffBps: 10_000 })).toEqual(['percent_off_bps']);
    expect(fields({ kind: 'percent', percentOffBps: 1000 })).toEqual(['amount_off_fen']);
    expect(fields({ maxOffFen: 100 })).toEqual(['max_off_fen']);
    expect(fields({ kind: 'threshold', minAmountFen: 0 })).toEqual(['min_amount_fen']);
    expect(fields({ kind: 'threshold', minAmountFen: 500 })).toEqual(['amount_off_fen']);
    expect(fields({ scope: 'products' })).toEqual(['scope_ids']);
    expect(fields({ scopeIds: ['prd_x'] })).toEqual(['scope_ids']);
    expect(fields({ validUntil: null })).toEqual(['valid_until']);
    expect(fields({ validFrom: new Date('2031-01-01T00:00:00Z') })).toEqual(['valid_until']);
    expect(fields({ perUserLimit: 5, totalLimit: 2 })).toEqual(['per_user_limit']);
    expect(fields({ budgetFen: 100 })).toEqual(['budget_fen']);
  });
});

describe('discount', () => {
  it('fixed and threshold take their amount off, never the whole order', () => {
    expect(discountFor(base, 9_600)).toBe(500);
    expect(discountFor(base, 400)).toBe(399);
    expect(discountFor(base, 1)).toBe(0);
    const threshold = { ...base, kind: 'threshold' as const, amountOffFen: 1_000, minAmountFen: 5_000 };
    expect(discountFor(threshold, 4_999)).toBe(0);
    expect(discountFor(threshold, 5_000)).toBe(1_000);
  });
  it('percent rounds down and respects its cap', () => {
    const pct = { ...base, kind: 'percent' as const, amountOffFen: null, percentOffBps: 1_500, maxOffFen: null };
    expect(discountFor(pct, 9_999)).toBe(1_499);
    expect(discountFor({ ...pct, maxOffFen: 1_000 }, 9_999)).toBe(1_000);
    expect(discountFor({ ...pct, percentOffBps: 9_999 }, 100)).toBe(99);
  });
});

describe('scope and validity', () => {
  const sku = { id: 'sku_1', productId: 'prd_1', category: 'gift' };
  it('scope by products, categories or skus', () => {
    expect(inScope({ scope: 'all', scopeIds: [] }, sku)).toBe(true);
    expect(inScope({ scope: 'products', scopeIds: ['prd_1'] }, sku)).toBe(true);
    expect(inScope({ scope: 'products', scopeIds: ['prd_2'] }, sku)).toBe(false);
    expect(inScope({ scope: 'categories', scopeIds: ['gift'] }, sku)).toBe(true);
    expect(inScope({ scope: 'skus', scopeIds: ['sku_2'] }, sku)).toBe(false);
  });
  it('absolute window, or N days from issue capped by the window', () => {
    const now = new Date('2029-12-30T00:00:00Z');
    expect(validityAt({ validFrom: new Date('2029-01-01T00:00:00Z'), validUntil: base.validUntil, validDays: null }, now)).toEqual({ validFrom: new Date('2029-01-01T00:00:00Z'), validUntil: base.validUntil });
    expect(validityAt({ validFrom: null, validUntil: null, validDays: 7 }, now)).toEqual({ validFrom: now, validUntil: new Date('2030-01-06T00:00:00Z') });
    expect(validityAt({ validFrom: null, validUntil: base.validUntil, validDays: 7 }, now).validUntil).toEqual(base.validUntil);
  });
  it('issue only while active and within the window', () => {
    const t = { validFrom: new Date('2029-01-01T00:00:00Z'), validUntil: base.validUntil, status: 'active' };
    expect(issueRefusal(t, new Date('2029-06-01T00:00:00Z'))).toBeNull();
    expect(issueRefusal(t, new Date('2028-06-01T00:00:00Z'))).toMatch(/not be claimed yet/);
    expect(issueRefusal(t, base.validUntil!)).toMatch(/ended/);
    expect(issueRefusal({ ...t, status: 'paused' }, new Date('2029-06-01T00:00:00Z'))).toMatch(/paused/);
  });
});

describe('use on an order', () => {
  const now = new Date('2029-06-01T00:00:00Z');
  const ok = {
    coupon: { customerId: 'cus_1', state: 'available', validFrom: new Date('2029-01-01T00:00:00Z'), validUntil: base.validUntil! },
    template: { ...base, stackableWithOffers: false },
    buyer: { type: 'customer', id: 'cus_1' } as { type: 'customer' | 'agent'; id: string },
    sku: { id: 'sku_1', productId: 'prd_1', category: 'gift' },
    amountFen: 9_600,
    now,
  };
  const why = (over: Partial<typeof ok> & { offerKind?: string }) => {
    const r = checkUse({ ...ok, ...over });
    return r.ok ? `ok ${r.discountFen}` : `${r.status}: ${r.message}`;
  };
  it('prices a good coupon', () => expect(why({})).toBe('ok 500'));
  it('refuses with a reason', () => {
    expect(why({ buyer: { type: 'customer', id: 'cus_2' } })).toMatch(/does not belong/);
    expect(why({ buyer: { type: 'agent', id: 'cus_1' } })).toMatch(/does not belong/);
    expect(why({ coupon: { ...ok.coupon, state: 'used' } })).toMatch(/^CONFLICT: .*already been used/);
    expect(why({ coupon: { ...ok.coupon, state: 'void' } })).toMatch(/is void/);
    expect(why({ now: base.validUntil! })).toMatch(/expired/);
    expect(why({ now: new Date('2028-01-01T00:00:00Z') })).toMatch(/not valid yet/);
    expect(why({ offerKind: 'flash_sale' })).toMatch(/cannot be combined with a flash_sale/);
    expect(why({ offerKind: 'flash_sale', template: { ...ok.template, stackableWithOffers: true } })).toBe('ok 500');
    expect(why({ template: { ...ok.template, scope: 'skus', scopeIds: ['sku_9'] } })).toMatch(/does not apply/);
    expect(why({ template: { ...ok.template, kind: 'threshold', minAmountFen: 10_000 } })).toMatch(/must reach 10000 fen/);
  });
});
