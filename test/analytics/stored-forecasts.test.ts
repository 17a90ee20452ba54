import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootTestApp, openTestApp, realServers, type TestApp } from '../helpers/boot.js';
import { createCodeSku } from '../helpers/codes.js';
import { ManualClock, DAY } from '../../src/lib/clock.js';
import { createAnalyticsService } from '../../src/modules/analytics/service.js';
import { createForecastStore, DEFAULT_HISTORY_DAYS, MAX_HORIZON } from '../../src/modules/analytics/stored-forecasts.js';
import { fitForecast } from '../../src/modules/analytics/forecast.js';
import { jobDefinitions } from '../../src/modules/jobs/definitions.js';

/**
 * Forecasts are stored results: the daily job fits every SKU on sale, a read
 * returns exactly what a fresh fit gives, a second instance (sharing only the
 * database) reads the stored fits without fitting, and a read fits only what
 * is missing (a brand-new SKU, another window) or stale (a day closed since).
 * Every fit is stored with fitted_at = now, and each test starts a minute
 * later on the same day, so the rows fitted at that minute are the fits it made
 * (test files share a worker's modules: no module mocks).
 */

// 2026-03-10 12:00 in Shanghai: the last closed report day is 2026-03-09.
const D = new Date('2026-03-10T04:00:00Z');
const NEXT_DAY = new Date('2026-03-11T04:00:00Z');
const clock = new ManualClock(D);
let t: TestApp;
let skuA: string;
let skuB: string;
let skuC: string;
const weekly = [5, -3, -4, -2, 0, 1, 3];
const addDays = (day: string, n: number) => new Date(Date.parse(day) + n * DAY).toISOString().slice(0, 10);

/** Units per day written straight into the daily rollup (the read model the fits read), oldest first, ending `last`. */
async function sales(skuId: string, last: string, units: number[]) {
  for (const [i, u] of units.entries()) {
    await t.platform.database.executeSql(`insert into sales_daily (day, sku_id, channel, supplier_id, orders, units, gmv_fen, cost_fen, refunds_fen) values ($1::date, $2, 'api', '', $3, $3, 0, 0, 0)`, [addDays(last, i - units.length + 1), skuId, u]);
  }
}
const seriesA = Array.from({ length: 70 }, (_, t) => 30 + Math.round(0.2 * t) + 3 * weekly[t % 7]! + ((t * 7919) % 5));
const seriesB = Array.from({ length: 70 }, (_, t) => Math.max(0, 40 - Math.round(0.5 * t) + ((t * 104729) % 3)));
const window = (series: number[], days: number, skip = 0) => series.slice(series.length - skip - days, series.length - skip);
const storedRow = async (skuId: string, historyDays = DEFAULT_HISTORY_DAYS) =>
  (await t.platform.database.executeSql<Record<string, unknown>>(`select history_through::text as history_through, method, alpha, beta, gamma, sse, sigma, forecast, history from analytics_forecasts where sku_id = $1 and history_days = $2`, [skuId, historyDays])).rows[0];

beforeAll(async () => {
  t = await bootTestApp({ clock });
  skuA = await createCodeSku(t, { name: 'Seasonal' });
  skuB = await createCodeSku(t, { name: 'Declining' });
  skuC = await createCodeSku(t, { name: 'No sales yet' });
  // Day 2026-03-10 (today, open) has sales too: a fit must never include the open day.
  await sales(skuA, '2026-03-10', [...seriesA, 999]);
  await sales(skuB, '2026-03-09', seriesB);
});
afterAll(async () => t?.close());
beforeEach(() => clock.advance(60_000));
/** Fits made (and stored) since this test began. */
const fitted = async () => Number((await t.platform.database.executeSql<{ n: string }>(`select count(*) as n from analytics_forecasts where fitted_at = $1::timestamptz`, [clock.now().toISOString()])).rows[0]!.n);

describe('stored forecasts', () => {
  let first: Awaited<ReturnType<TestApp['services']['analytics']['forecast']>>;

  it('the daily job fits every SKU on sale once; a second run that day fits nothing', async () => {
    const job = jobDefinitions(t.services, t.config).find((j) => j.name === 'analytics.refresh-forecasts')!;
    expect(job.cron).toBe('10 * * * *');
    await job.handler({}, { id: 'job_test', name: job.name });
    expect(await fitted()).toBe(3);
    clock.advance(60_000);
    expect(await t.services.analytics.refreshForecasts()).toMatchObject({ skus: 3, fitted: 0, dropped: 0 });
    expect(await fitted()).toBe(0);
  });

  it('the stored fit equals a fresh fit of the closed days, to the last bit', async () => {
    for (const [sku, series] of [[skuA, seriesA], [skuB, seriesB], [skuC, Array(70).fill(0)]] as const) {
      const y = window(series, DEFAULT_HISTORY_DAYS);
      const fresh = fitForecast(y, MAX_HORIZON);
      const row = await storedRow(sku);
      expect({ ...row, alpha: Number(row!.alpha), beta: Number(row!.beta), gamma: Number(row!.gamma), sse: Number(row!.sse), sigma: Number(row!.sigma) }).toEqual({ history_through: '2026-03-09', history: y, ...fresh });
    }
    expect((await storedRow(skuA))!.method).toBe('holt_winters');
  });

  it('the route reads the stored fits (no fitting) and answers as a fresh fit would', async () => {
    first = await t.services.analytics.forecast({ history_days: DEFAULT_HISTORY_DAYS, safety_days: 3 });
    expect(await fitted()).toBe(0);
    const fresh = fitForecast(window(seriesA, DEFAULT_HISTORY_DAYS), MAX_HORIZON);
    expect(first.history_to).toBe('2026-03-09');
    // No supplier: the default lead time of 3 days, so 3 + 3 = 6 days (at least 7 are shown).
    expect(first.data.find((r) => r.sku_id === skuA)).toMatchObject({ method: 'holt_winters', params: { alpha: fresh.alpha, beta: fresh.beta, gamma: fresh.gamma }, forecast: fresh.forecast.slice(0, 7).map((v) => Math.round(v * 100) / 100) });
  });

  it('a second instance, sharing only the database, reads the same forecasts without fitting', async () => {
    const other = realServers ? await openTestApp(t.env, { clock }) : undefined;
    try {
      const second = other?.services.analytics ?? createAnalyticsService(t.platform, { catalog: t.services.catalog, vault: t.services.vault, alerts: t.services.alerts });
      expect(await second.forecast({ history_days: DEFAULT_HISTORY_DAYS, safety_days: 3 })).toEqual(first);
      expect(await fitted()).toBe(0);
    } finally {
      await other?.stop();
    }
  });

  it('a brand-new SKU or another window is fitted on the first read, then stored', async () => {
    const skuD = await createCodeSku(t, { name: 'Brand new' });
    const all = await t.services.analytics.forecast({ history_days: DEFAULT_HISTORY_DAYS, safety_days: 3 });
    expect(await fitted()).toBe(1);
    expect(all.data.find((r) => r.sku_id === skuD)).toMatchObject({ method: 'holt_winters', forecast: Array(7).fill(0), reorder_quantity: 0 });
    const one = await t.services.analytics.forecast({ sku_id: skuA, history_days: 14, safety_days: 3 });
    expect(await fitted()).toBe(2);
    expect(one.data[0]!.history).toEqual(window(seriesA, 14));
    expect((await storedRow(skuA, 14))!.history).toEqual(window(seriesA, 14));
    clock.advance(60_000);
    await t.services.analytics.forecast({ sku_id: skuA, history_days: 14, safety_days: 3 });
    await t.services.analytics.forecast({ history_days: DEFAULT_HISTORY_DAYS, safety_days: 3 });
    expect(await fitted()).toBe(0);
  });

  it('once the next day closed, a read refits the stale fits; the job then drops stale other windows', async () => {
    const back = clock.now();
    clock.set(NEXT_DAY);
    try {
      const body = await t.services.analytics.forecast({ sku_id: skuA, history_days: DEFAULT_HISTORY_DAYS, safety_days: 3 });
      expect(await fitted()).toBe(1);
      // Through 2026-03-10 now: the 999 of that day is in the history.
      expect(body.data[0]!.history).toEqual([...window(seriesA, DEFAULT_HISTORY_DAYS - 1), 999]);
      expect(await t.services.analytics.refreshForecasts()).toMatchObject({ skus: 4, fitted: 3, dropped: 1 });
      expect(await storedRow(skuA, 14)).toBeUndefined();
      expect((await storedRow(skuB))!.history_through).toBe('2026-03-10');
    } finally {
      clock.set(back);
    }
  });

  it('a late writer of an older window end never replaces a newer fit', async () => {
    // The fits now end 2026-03-10; a reader still on 2026-03-09 fits, answers, but keeps the newer row.
    const store = createForecastStore(t.platform);
    const { fits: older, fitted } = await store.fitsFor([skuB], '2026-03-09', DEFAULT_HISTORY_DAYS);
    expect(fitted).toBe(1);
    expect(older.get(skuB)!.y).toEqual(window(seriesB, DEFAULT_HISTORY_DAYS));
    expect((await storedRow(skuB))!.history_through).toBe('2026-03-10');
  });
});
