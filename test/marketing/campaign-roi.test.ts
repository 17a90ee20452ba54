import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { createCodeSku, stockCodes } from '../helpers/codes.js';

/**
 * Campaign ROI from real sales: a coupon order, a flash-price order and a
 * recharge bonus in one campaign, then a refund; the figures come from the
 * orders and the ledger through the admin route.
 */
let t: TestApp;
let ops: string;
let finance: string;
beforeAll(async () => {
  t = await bootTestApp({ env: { RISK_SEED_RULES: 'false' } });
  ops = (await t.loginAs('operations')).token;
  finance = (await t.loginAs('finance')).token;
});
afterAll(async () => t?.close());

const customer = async (name: string, cashFen: number) => {
  const { customerId } = await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: `roi-${name}-${Date.now()}` } });
  await t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type: 'customer', buyer_id: customerId, amount_fen: cashFen, reference: 'top-up' } });
  return customerId;
};

describe('campaign ROI', () => {
  it('sums revenue, cost of goods, discounts, markdowns, promotion spend and new customers; refunds take their share back', async () => {
    const campaign = (await t.inject({ method: 'POST', url: '/admin/marketing/campaigns', headers: bearer(ops), payload: { name: 'ROI test', kind: 'general' } })).json() as { id: string };
    const sku = await createCodeSku(t, { retailPriceFen: 1_000, costFen: 600 });
    await stockCodes(t, sku, 4);
    const staff = { id: 'stf_test' };
    const tpl = await t.services.coupons.createTemplate({ name: '¥2 off', kind: 'fixed', amountOffFen: 200, validDays: 7, campaignId: campaign.id }, staff);
    const a = await customer('a', 5_000);
    const b = await customer('b', 5_000);
    const { couponId } = await t.platform.db.transaction((tx) => t.services.coupons.grant(tx, { templateId: tpl.id, customerId: a, source: 'test', sourceRef: 'roi' }));
    const buy = (buyer: string, extra: object) => t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer: { type: 'customer', id: buyer }, skuId: sku, quantity: 1, channel: 'api', payment: 'balance', ...extra }, tx));
    await buy(a, { couponId });
    const flash = await buy(b, { offer: { kind: 'flash_sale', id: 'fls_ROI', unitPriceFen: 700, campaignId: campaign.id } });
    await t.services.recharges.createRule({ name: 'bonus', campaignId: campaign.id, tiers: [{ min_fen: 10_000, bonus_fen: 1_500 }] }, staff);
    await t.services.recharges.record({ customerId: b, amountFen: 10_000, reference: 'bank', key: 'roi-recharge' }, staff);

    const roi = async () => {
      const res = await t.inject({ method: 'GET', url: `/admin/marketing/campaigns/${campaign.id}/roi`, headers: bearer(ops) });
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    expect(await roi()).toMatchObject({
      orders: 2, units: 2, new_customers: 2, revenue_fen: 800 + 700, cost_of_goods_fen: 1_200,
      costs: { discount_fen: 200, markdown_fen: 300, promotion_fen: 1_500, commission_fen: 0, total_fen: 2_000 },
      gross_profit_fen: 1_500 - 1_200 - 1_500, roi: -0.6, cost_per_new_customer_fen: 1_000,
    });

    // The flash order refunded: its revenue, cost of goods and markdown leave the campaign.
    await t.services.orders.refund(flash.id, { reason: 'changed mind' }, staff);
    expect(await roi()).toMatchObject({ revenue_fen: 800, cost_of_goods_fen: 600, costs: { discount_fen: 200, markdown_fen: 0, promotion_fen: 1_500, total_fen: 1_700 } });

    const list = await t.inject({ method: 'GET', url: '/admin/marketing/roi?limit=5', headers: bearer(ops) });
    expect(list.json().data.map((r: { campaign_id: string }) => r.campaign_id)).toContain(campaign.id);
    expect((await t.inject({ method: 'GET', url: '/admin/marketing/roi?limit=500', headers: bearer(ops) })).statusCode).toBe(400);
  });
});
