import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { stockCodes } from '../helpers/codes.js';
import { ManualClock, DAY } from '../../src/lib/clock.js';
import { fitForecast, reorderSuggestion } from '../../src/modules/analytics/forecast.js';

/**
 * Every report's numbers against hand-computed values from a few real orders
 * (balance orders through the orders service, refunds through the admin API),
 * and the rollups against a raw aggregation of the orders.
 *
 * Day D = 2026-03-10 (a Tuesday), 12:00 in Shanghai. Prices are retail (no level rules):
 *   o1 agent X  A×3 = 9,000 (admin)    then 1 unit refunded (3,000)   cost 6,000 → 4,000
 *   o2 cust C1  B×1 = 5,000 (telegram)                                 cost 4,500
 *   o3 agent X  B×2 = 10,000 (admin)   then refunded whole             cost 9,000 → 0
 *   o4 cust C2  A×1 = 3,000 (telegram)                                 cost 2,000
 *   o5 cust C1  A×1 = 3,000 (telegram) on D+7 (the next week)          cost 2,000
 */
const D = new Date('2026-03-10T04:00:00Z');
const clock = new ManualClock(D);
let t: TestApp;
let owner: string;
let finance: string;
let skuA: string;
let skuB: string;
let productA: string;
let agentX: string;
const ids: string[] = [];

async function product(name: string, category: string, retailPriceFen: number, costFen: number) {
  const p = await t.services.catalog.createProduct({ name, brand: 'Brand', category, kind: 'code', skus: [{ name: `${name} SKU`, faceValueFen: retailPriceFen, costFen, retailPriceFen, lowStockThreshold: 0 }] });
  return { productId: p.id, skuId: p.skus[0]!.id };
}
const get = (url: string, token = owner) => t.inject({ method: 'GET', url, headers: bearer(token) });
const credit = (buyer_type: string, buyer_id: string, amount_fen: number) => t.inject({ method: 'POST', url: '/admin/balances/credit', headers: bearer(finance), payload: { buyer_type, buyer_id, amount_fen, reference: 'test' } });
const buy = async (buyer: { type: 'agent' | 'customer'; id: string }, skuId: string, quantity: number, channel: string) => {
  const o = await t.platform.db.transaction((tx) => t.services.orders.createOrder({ buyer, skuId, quantity, channel, payment: 'balance' }, tx));
  ids.push(o.id);
  return o;
};
const refund = (id: string, payload: Record<string, unknown>) => t.inject({ method: 'POST', url: `/admin/orders/${id}/refund`, headers: bearer(finance), payload });

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { SESSION_TTL_MINUTES: '43200' } });
  owner = (await t.loginAs('owner')).token;
  finance = (await t.loginAs('finance')).token;
  ({ skuId: skuA, productId: productA } = await product('Alpha', 'gift', 3_000, 2_000));
  ({ skuId: skuB } = await product('Beta', 'game', 5_000, 4_500));
  await stockCodes(t, skuA, 10);
  await stockCodes(t, skuB, 5);
  // A supplier with a 5-day lead time fills Alpha (the forecast's reorder horizon).
  await t.platform.database.executeSql(`insert into suppliers (id, name, adapter, base_url, credentials_sealed, credentials_key_id, lead_time_days, created_at) values ('sup_test', 'Supplier One', 'http_json', 'http://127.0.0.1:9', '\\x00', 'k', 5, now())`, []);
  await t.platform.database.executeSql(`insert into sku_suppliers (sku_id, supplier_id, external_sku, priority) values ($1, 'sup_test', 'EXT-A', 1)`, [skuA]);

  agentX = (await t.services.agents.create({ name: 'Agent X', role: 'group_leader' })).id;
  const c1 = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'an-1' } })).customerId;
  const c2 = (await t.services.customers.resolve({ identity: { provider: 'telegram', externalId: 'an-2' } })).customerId;
  expect((await credit('agent', agentX, 50_000)).statusCode).toBe(200);
  expect((await credit('customer', c1, 20_000)).statusCode).toBe(200);
  expect((await credit('customer', c2, 20_000)).statusCode).toBe(200);

  const o1 = await buy({ type: 'agent', id: agentX }, skuA, 3, 'admin');
  const o2 = await buy({ type: 'customer', id: c1 }, skuB, 1, 'telegram');
  const o3 = await buy({ type: 'agent', id: agentX }, skuB, 2, 'admin');
  const o4 = await buy({ type: 'customer', id: c2 }, skuA, 1, 'telegram');
  expect([o1, o2, o3, o4].map((o) => o.amountFen)).toEqual([9_000, 5_000, 10_000, 3_000]);
  expect((await refund(o1.id, { reason: 'one unit', quantity: 1 })).statusCode).toBe(200);
  expect((await refund(o3.id, { reason: 'all of it' })).statusCode).toBe(200);
  // Rolled back after the order was written: never counted, never published.
  await expect(
    t.platform.db.transaction(async (tx) => {
      await t.services.orders.createOrder({ buyer: { type: 'customer', id: c2 }, skuId: skuB, quantity: 1, channel: 'telegram', payment: 'balance' }, tx);
      throw new Error('rolled back on purpose');
    }),
  ).rejects.toThrow('rolled back on purpose');
  clock.advance(7 * DAY);
  await buy({ type: 'customer', id: c1 }, skuA, 1, 'telegram');
  clock.set(D);
});
afterAll(async () => t?.close());

const fig = (orders: number, units: number, gmv: number, refunds: number, cost: number) => ({ orders, units, gmv_fen: gmv, refunds_fen: refunds, net_sales_fen: gmv - refunds, cost_fen: cost, gross_profit_fen: gmv - refunds - cost });

describe('dashboard', () => {
  it("shows today's orders, GMV, gross profit, refunds and new customers, and the minute they came in", async () => {
    const res = await get('/admin/analytics/dashboard');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.today).toEqual({ orders: 4, gmv_fen: 27_000, gross_profit_fen: 27_000 - 13_000 - 10_500, refunds_fen: 13_000, customers_new: 2 });
    expect(body.orders_per_minute).toHaveLength(60);
    expect(body.orders_per_minute[59]).toEqual({ minute: '2026-03-10T04:00:00.000Z', orders: 4, gmv_fen: 27_000 });
    expect(body.orders_per_minute.slice(0, 59).every((m: { orders: number }) => m.orders === 0)).toBe(true);
    expect(body.orders_per_minute[0].minute).toBe('2026-03-10T03:01:00.000Z');
  });
});

describe('sales', () => {
  const day = '?from=2026-03-10&to=2026-03-10';
  it('by product, with the daily series', async () => {
    const body = (await get(`/admin/analytics/sales${day}&group_by=product`)).json();
    expect(body.rows).toEqual([
      { key: expect.stringMatching(/^prd_/), name: 'Beta', ...fig(2, 3, 15_000, 10_000, 4_500) },
      { key: productA, name: 'Alpha', ...fig(2, 4, 12_000, 3_000, 6_000) },
    ]);
    expect(body.totals).toEqual(fig(4, 7, 27_000, 13_000, 10_500));
    expect(body.series).toEqual([{ day: '2026-03-10', ...fig(4, 7, 27_000, 13_000, 10_500) }]);
  });
  it('by category, channel and supplier; a week-long series is zero-filled', async () => {
    expect((await get(`/admin/analytics/sales${day}&group_by=category`)).json().rows).toEqual([
      { key: 'game', name: 'game', ...fig(2, 3, 15_000, 10_000, 4_500) },
      { key: 'gift', name: 'gift', ...fig(2, 4, 12_000, 3_000, 6_000) },
    ]);
    expect((await get(`/admin/analytics/sales${day}&group_by=channel`)).json().rows).toEqual([
      { key: 'admin', name: 'admin', ...fig(2, 5, 19_000, 13_000, 4_000) },
      { key: 'telegram', name: 'telegram', ...fig(2, 2, 8_000, 0, 6_500) },
    ]);
    expect((await get(`/admin/analytics/sales${day}&group_by=supplier`)).json().rows).toEqual([
      { key: '', name: '', ...fig(2, 3, 15_000, 10_000, 4_500) },
      { key: 'sup_test', name: 'Supplier One', ...fig(2, 4, 12_000, 3_000, 6_000) },
    ]);
    const week = (await get('/admin/analytics/sales?from=2026-03-10&to=2026-03-17&group_by=sku')).json();
    expect(week.series.map((d: { day: string; orders: number }) => [d.day, d.orders])).toEqual([['2026-03-10', 4], ['2026-03-11', 0], ['2026-03-12', 0], ['2026-03-13', 0], ['2026-03-14', 0], ['2026-03-15', 0], ['2026-03-16', 0], ['2026-03-17', 1]]);
    expect(week.totals).toEqual(fig(5, 8, 30_000, 13_000, 12_500));
  });
  it('the incremental rollups equal a raw aggregation of the orders, and a full rebuild gives the same report', async () => {
    const reports = ['/admin/analytics/sales?from=2026-03-01&to=2026-03-31&group_by=sku', '/admin/analytics/sales?from=2025-04-01&to=2026-03-31&group_by=product', '/admin/analytics/agents?from=2026-03-01&to=2026-03-31', '/admin/analytics/cohorts?period=week&from=2026-03-01&to=2026-03-31', '/admin/analytics/cohorts?period=month&from=2026-01-01&to=2026-03-31', '/admin/analytics/dashboard'];
    const incremental = await Promise.all(reports.map(async (url) => (await get(url)).json()));
    expect(incremental[3].data).toEqual([{ cohort: '2026-03-09', customers: 2, retention: [{ offset: 1, customers: 1, share: 0.5 }] }]);
    // A year of whole months (read from the monthly rollup) has the same totals as March alone.
    expect(incremental[1].totals).toEqual(fig(5, 8, 30_000, 13_000, 12_500));
    const before = incremental[0];
    expect(await t.services.analytics.rollups.rollupTotals()).toEqual({ orders: 5, units: 8, gmv_fen: 30_000, cost_fen: 12_500, refunds_fen: 13_000 });
    expect(await t.services.analytics.rollups.rawTotals()).toEqual(await t.services.analytics.rollups.rollupTotals());
    await t.services.analytics.rollups.rebuild();
    expect(await Promise.all(reports.map(async (url) => (await get(url)).json()))).toEqual(incremental);
    expect(before.totals).toEqual(fig(5, 8, 30_000, 13_000, 12_500));
  });
});

describe('agents, cohorts, stock, forecast, campaigns', () => {
  it('agent leaderboard', async () => {
    const body = (await get('/admin/analytics/agents?from=2026-03-10&to=2026-03-10&limit=5')).json();
    expect(body.data).toEqual([{ rank: 1, agent_id: agentX, name: 'Agent X', level: 1, ...fig(2, 5, 19_000, 13_000, 4_000), commission_fen: 0 }]);
  });
  it('weekly cohorts: both customers started in the week of D, one of two came back the next week', async () => {
    const body = (await get('/admin/analytics/cohorts?period=week&from=2026-03-01&to=2026-03-31')).json();
    expect(body.data).toEqual([{ cohort: '2026-03-09', customers: 2, retention: [{ offset: 1, customers: 1, share: 0.5 }] }]);
    const months = (await get('/admin/analytics/cohorts?period=month&from=2026-03-01&to=2026-03-31')).json();
    expect(months.data).toEqual([{ cohort: '2026-03-01', customers: 2, retention: [] }]);
  });
  it('stock turnover and days of cover', async () => {
    const body = (await get('/admin/analytics/stock?from=2026-03-10&to=2026-03-10')).json();
    // Alpha: 10 stocked, 3 + 1 sold on D, 1 refunded back to stock, 1 sold on D+7: 6 left. Beta: 5 - 1 - 2 + 2 = 4.
    expect(body.data.find((r: { sku_id: string }) => r.sku_id === skuA)).toEqual({ sku_id: skuA, sku_name: 'Alpha SKU', units_sold: 4, daily_demand: 4, available: 6, on_order: 0, turnover: 0.67, days_of_cover: 1.5 });
    expect(body.data.find((r: { sku_id: string }) => r.sku_id === skuB)).toMatchObject({ units_sold: 3, available: 4, turnover: 0.75, days_of_cover: 1.3 });
  });
  it("forecast and reorder use the SKU's daily history and its supplier's lead time", async () => {
    clock.set(new Date(D.getTime() + 8 * DAY));
    const body = (await get(`/admin/analytics/forecast?sku_id=${skuA}&history_days=14`)).json();
    clock.set(D);
    // History: 2026-03-04 .. 2026-03-17 (yesterday); 4 units on 03-10, 1 on 03-17.
    const history = Array(14).fill(0);
    history[6] = 4;
    history[13] = 1;
    const fit = fitForecast(history, 8);
    const reorder = reorderSuggestion({ forecast: fit.forecast, sigma: fit.sigma, leadTimeDays: 5, safetyDays: 3, available: 6, onOrder: 0 });
    expect([body.history_from, body.history_to]).toEqual(['2026-03-04', '2026-03-17']);
    expect(body.data).toHaveLength(1);
    expect(body.data[0]).toMatchObject({ sku_id: skuA, supplier_id: 'sup_test', method: 'holt_winters', history, lead_time_days: 5, safety_days: 3, available: 6, on_order: 0, safety_stock: reorder.safetyStock, reorder_quantity: reorder.quantity });
    expect(body.data[0].forecast).toHaveLength(8);
  });
  it('campaign ROI comes from the marketing module (an empty page here)', async () => {
    expect((await get('/admin/analytics/campaigns')).json()).toEqual({ data: [], has_more: false, next_cursor: null });
  });
});

describe('refusals', () => {
  it('bad ranges name the field', async () => {
    const cases: [string, string][] = [
      ['/admin/analytics/sales?group_by=product&from=2026-03-10&to=2026-03-01', 'from'],
      ['/admin/analytics/sales?group_by=product&from=2025-01-01&to=2026-01-02', 'to'],
      ['/admin/analytics/agents?from=2026-02-30&to=2026-03-01', 'from'],
      ['/admin/analytics/cohorts?from=10-03-2026', 'from'],
      ['/admin/analytics/sales?group_by=agent', 'group_by'],
    ];
    for (const [url, field] of cases) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.details[0].field, url).toBe(field);
    }
    expect((await get('/admin/analytics/sales?group_by=product&from=2025-03-10&to=2026-03-10')).statusCode).toBe(200);
  });
  it('support may not read analytics; nobody may without logging in', async () => {
    const support = (await t.loginAs('support')).token;
    const res = await get('/admin/analytics/dashboard', support);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('FORBIDDEN');
    expect((await t.inject({ method: 'GET', url: '/admin/analytics/sales?group_by=product' })).statusCode).toBe(401);
    expect((await get('/admin/analytics/dashboard', (await t.loginAs('readonly')).token)).statusCode).toBe(200);
  });
});
