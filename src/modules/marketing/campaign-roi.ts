import type { Platform } from '../../platform.js';
import type { DbOrTx } from '../../db/client.js';
import type { CampaignSalesRow } from '../orders/reports.js';
import type { CampaignView } from './campaign-service.js';

/**
 * Campaign ROI: what a campaign cost against what it brought.
 *
 * Costs: coupon discounts (money not taken), offer markdowns (flash-sale and
 * group prices under the list price), the promotion budget it spent
 * (bonuses, rewards, goods given for points or CDKs, net of refunds) and the
 * commissions its orders pay. Return: net revenue of its paid orders, the
 * gross profit after the goods' cost, promotion and commissions (discounts
 * and markdowns are already missing from revenue), and the customers whose
 * first order came through it.
 */
export interface CampaignRoi {
  campaign_id: string;
  orders: number;
  units: number;
  new_customers: number;
  revenue_fen: number;
  cost_of_goods_fen: number;
  costs: { discount_fen: number; markdown_fen: number; promotion_fen: number; commission_fen: number; total_fen: number };
  gross_profit_fen: number;
  /** gross profit per fen of marketing cost; null when the campaign cost nothing */
  roi: number | null;
  /** marketing cost per new customer; null without new customers */
  cost_per_new_customer_fen: number | null;
}

/** Pure: the figures from the orders' and the ledger's sums. */
export function campaignRoi(sales: CampaignSalesRow, ledger: { promotionFen: number; costOfGoodsFen: number }): CampaignRoi {
  const n = (v: string | number) => Number(v);
  const costs = { discount_fen: n(sales.discount_fen), markdown_fen: n(sales.markdown_fen), promotion_fen: ledger.promotionFen, commission_fen: n(sales.commission_fen), total_fen: 0 };
  costs.total_fen = costs.discount_fen + costs.markdown_fen + costs.promotion_fen + costs.commission_fen;
  const revenue = n(sales.revenue_fen);
  // Promotion-paid orders are booked as revenue in the ledger but paid by the promotion budget; their goods' cost stays a cost.
  const grossProfit = revenue - ledger.costOfGoodsFen - costs.promotion_fen - costs.commission_fen;
  return {
    campaign_id: sales.campaign_id,
    orders: sales.orders,
    units: sales.units,
    new_customers: sales.new_customers,
    revenue_fen: revenue,
    cost_of_goods_fen: ledger.costOfGoodsFen,
    costs,
    gross_profit_fen: grossProfit,
    roi: costs.total_fen > 0 ? Math.round((grossProfit / costs.total_fen) * 1000) / 1000 : null,
    cost_per_new_customer_fen: sales.new_customers > 0 ? Math.round(costs.total_fen / sales.new_customers) : null,
  };
}

export function createCampaignRoiService(
  p: Platform,
  deps: {
    orderReports: { campaignSales: (ids: string[], db?: DbOrTx) => Promise<CampaignSalesRow[]> };
    ledger: { campaignCosts: (ids: string[], db?: DbOrTx) => Promise<Map<string, { promotionFen: number; costOfGoodsFen: number }>> };
  },
) {
  /** The ROI of each campaign, in the order given. */
  async function of(campaigns: CampaignView[]): Promise<(CampaignRoi & { name: string; kind: string; status: string })[]> {
    const ids = campaigns.map((c) => c.id);
    const [sales, ledger] = await Promise.all([deps.orderReports.campaignSales(ids, p.db), deps.ledger.campaignCosts(ids, p.db)]);
    const byId = new Map(sales.map((s) => [s.campaign_id, s]));
    return campaigns.map((c) => ({
      ...campaignRoi(byId.get(c.id) ?? { campaign_id: c.id, orders: 0, units: 0, revenue_fen: 0, discount_fen: 0, markdown_fen: 0, commission_fen: 0, new_customers: 0 }, ledger.get(c.id) ?? { promotionFen: 0, costOfGoodsFen: 0 }),
      name: c.name,
      kind: c.kind,
      status: c.status,
    }));
  }
  return { of };
}

export type CampaignRoiService = ReturnType<typeof createCampaignRoiService>;
