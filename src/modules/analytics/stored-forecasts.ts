import type { Platform } from '../../platform.js';
import { queryRows } from '../../db/raw.js';
import { fitForecast, type Fit } from './forecast.js';
import { addDays } from './days.js';

/** Longest forecast kept: a lead time of up to 30 days plus up to 60 safety days. */
export const MAX_HORIZON = 90;
/** The history window the daily job keeps fitted for every SKU on sale (the route's default). */
export const DEFAULT_HISTORY_DAYS = 56;
/** SKUs fitted per query and upsert in the job; the event loop gets a turn between chunks. */
const CHUNK = 50;

export interface StoredFit {
  /** daily units, oldest first, through the window's last day */
  y: number[];
  fit: Fit;
}
/** A stored fit: the fit itself plus what it was fitted on. */
type Row = Fit & { sku_id: string; history_through: string; history: number[] };

/**
 * Demand forecasts as stored results (analytics_forecasts), shared by every
 * instance: a fit depends only on the SKU's daily units of a window of closed
 * days, so it is computed once per SKU, window and day — by the daily job for
 * the default window, or by the first read that finds it missing or stale
 * (a brand-new SKU, another window) — and read from the table otherwise.
 */
export function createForecastStore(p: Platform) {
  /** Daily units of the SKUs over [from, to] (zero-filled), fitted. */
  async function fitFresh(ids: string[], from: string, to: string, historyDays: number): Promise<Map<string, StoredFit>> {
    const series = await queryRows<{ sku_id: string; day: string; units: string }>(p.db, `select sku_id, day::text as day, sum(units) as units from sales_daily where sku_id = any($1::text[]) and day between $2::date and $3::date group by 1, 2`, [ids, from, to]);
    const unitsOf = new Map(series.map((x) => [`${x.sku_id}|${x.day}`, Number(x.units)]));
    const days = Array.from({ length: historyDays }, (_, i) => addDays(from, i));
    return new Map(
      ids.map((id) => {
        const y = days.map((d) => unitsOf.get(`${id}|${d}`) ?? 0);
        return [id, { y, fit: fitForecast(y, MAX_HORIZON) }];
      }),
    );
  }

  /**
   * Stores fits in one statement. A fit never replaces one over a later
   * window end, so a slow reader of yesterday cannot undo today's job.
   */
  async function store(fits: Map<string, StoredFit>, to: string, historyDays: number) {
    if (!fits.size) return;
    const rows = [...fits].map(([sku_id, { y, fit }]) => ({ sku_id, method: fit.method, alpha: fit.alpha, beta: fit.beta, gamma: fit.gamma, sse: fit.sse, sigma: fit.sigma, forecast: fit.forecast, history: y }));
    await queryRows(
      p.db,
      `insert into analytics_forecasts (sku_id, history_days, history_through, method, alpha, beta, gamma, sse, sigma, forecast, history, fitted_at)
       select r.sku_id, $2::int, $3::date, r.method, r.alpha, r.beta, r.gamma, r.sse, r.sigma, r.forecast, r.history, $4::timestamptz
       from jsonb_to_recordset($1::jsonb) as r(sku_id text, method text, alpha float8, beta float8, gamma float8, sse float8, sigma float8, forecast jsonb, history jsonb)
       on conflict (sku_id, history_days) do update set history_through = excluded.history_through, method = excluded.method, alpha = excluded.alpha, beta = excluded.beta,
         gamma = excluded.gamma, sse = excluded.sse, sigma = excluded.sigma, forecast = excluded.forecast, history = excluded.history, fitted_at = excluded.fitted_at
       where analytics_forecasts.history_through <= excluded.history_through`,
      [JSON.stringify(rows), historyDays, to, p.clock.now().toISOString()],
    );
  }

  async function readStored(ids: string[], to: string, historyDays: number): Promise<Map<string, StoredFit>> {
    const rows = await queryRows<Row>(
      p.db,
      `select sku_id, history_through::text as history_through, method, alpha, beta, gamma, sse, sigma, forecast, history from analytics_forecasts where history_days = $1 and sku_id = any($2::text[]) and history_through = $3::date`,
      [historyDays, ids, to],
    );
    return new Map(rows.map((r) => [r.sku_id, { y: r.history, fit: { method: r.method, alpha: Number(r.alpha), beta: Number(r.beta), gamma: Number(r.gamma), sse: Number(r.sse), sigma: Number(r.sigma), forecast: r.forecast } }]));
  }

  /** The fits of the SKUs over the window ending `to`: stored ones read, missing or stale ones fitted now and stored. */
  async function fitsFor(ids: string[], to: string, historyDays: number): Promise<{ fits: Map<string, StoredFit>; fitted: number }> {
    const from = addDays(to, -(historyDays - 1));
    const fits = await readStored(ids, to, historyDays);
    const missing = ids.filter((id) => !fits.has(id));
    if (missing.length) {
      const fresh = await fitFresh(missing, from, to, historyDays);
      await store(fresh, to, historyDays);
      for (const [id, f] of fresh) fits.set(id, f);
    }
    return { fits, fitted: missing.length };
  }

  /**
   * The daily refresh: fits the default window through `to` for the given SKUs
   * that lack it, and drops stale fits of other windows (a read refits those
   * on demand), so the table holds one window per SKU plus what was asked today.
   */
  async function refresh(ids: string[], to: string): Promise<{ fitted: number; dropped: number }> {
    let fitted = 0;
    for (let i = 0; i < ids.length; i += CHUNK) {
      fitted += (await fitsFor(ids.slice(i, i + CHUNK), to, DEFAULT_HISTORY_DAYS)).fitted;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const dropped = await queryRows<{ sku_id: string }>(
      p.db,
      `delete from analytics_forecasts where history_through < $1::date and (history_days <> $2::int or not (sku_id = any($3::text[]))) returning sku_id`,
      [to, DEFAULT_HISTORY_DAYS, ids],
    );
    return { fitted, dropped: dropped.length };
  }

  return { fitsFor, refresh, fitFresh };
}

export type ForecastStore = ReturnType<typeof createForecastStore>;
