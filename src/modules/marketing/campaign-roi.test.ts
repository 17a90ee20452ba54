import { describe, expect, it } from 'vitest';
import { campaignRoi } from './campaign-roi.js';

describe('campaign ROI', () => {
  const sales = { campaign_id: 'cmp_X', orders: 10, units: 12, revenue_fen: '90000', discount_fen: '5000', markdown_fen: '3000', commission_fen: '2000', new_customers: 4 };

  it('sums the four costs and takes promotion, commissions and the goods from revenue (discounts and markdowns are already missing from it)', () => {
    const r = campaignRoi(sales, { promotionFen: 10_000, costOfGoodsFen: 60_000 });
    expect(r.costs).toEqual({ discount_fen: 5_000, markdown_fen: 3_000, promotion_fen: 10_000, commission_fen: 2_000, total_fen: 20_000 });
    expect(r.gross_profit_fen).toBe(90_000 - 60_000 - 10_000 - 2_000);
    expect(r.roi).toBe(0.9);
    expect(r.cost_per_new_customer_fen).toBe(5_000);
  });

  it('has no ratio for a campaign that cost nothing or brought no customer, and can be negative', () => {
    const free = campaignRoi({ ...sales, discount_fen: 0, markdown_fen: 0, commission_fen: 0, new_customers: 0 }, { promotionFen: 0, costOfGoodsFen: 0 });
    expect([free.roi, free.cost_per_new_customer_fen]).toEqual([null, null]);
    const loss = campaignRoi({ ...sales, revenue_fen: 1_000 }, { promotionFen: 50_000, costOfGoodsFen: 800 });
    expect(loss.gross_profit_fen).toBe(1_000 - 800 - 50_000 - 2_000);
    expect(loss.roi).toBeLessThan(0);
  });
});
