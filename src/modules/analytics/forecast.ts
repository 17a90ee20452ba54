/**
 * Demand forecasting on daily sales: Holt's linear trend, or additive
 * Holt-Winters with a weekly season once there are two full weeks of history.
 * Smoothing parameters are fitted by minimising the sum of squared one-step
 * errors over a small grid (coarse, then refined around its best point). Pure: numbers in, numbers out.
 */
export const SEASON = 7;
const GRID = [0.1, 0.3, 0.5, 0.8];
const STEP = 0.1;

export interface Fit {
  method: 'holt_winters' | 'holt' | 'mean';
  alpha: number;
  beta: number;
  gamma: number;
  /** sum of squared one-step-ahead errors over the fitted part of the series */
  sse: number;
  /** standard deviation of the one-step errors (0 when there are none) */
  sigma: number;
  /** the next `horizon` days, never negative */
  forecast: number[];
}

interface Run {
  sse: number;
  errors: number;
  forecast: (h: number) => number;
}

function holt(y: number[], a: number, b: number): Run {
  let level = y[0]!;
  let trend = y.length > 1 ? y[1]! - y[0]! : 0;
  let sse = 0;
  let errors = 0;
  for (let t = 1; t < y.length; t++) {
    const e = y[t]! - (level + trend);
    sse += e * e;
    errors++;
    const prev = level;
    level = a * y[t]! + (1 - a) * (level + trend);
    trend = b * (level - prev) + (1 - b) * trend;
  }
  return { sse, errors, forecast: (h) => level + h * trend };
}

function holtWinters(y: number[], a: number, b: number, g: number, m = SEASON): Run {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const first = y.slice(0, m);
  let level = mean(first);
  let trend = (mean(y.slice(m, 2 * m)) - level) / m;
  const season = first.map((v) => v - level);
  let sse = 0;
  let errors = 0;
  for (let t = m; t < y.length; t++) {
    const s = season[t - m]!;
    const e = y[t]! - (level + trend + s);
    sse += e * e;
    errors++;
    const prev = level;
    level = a * (y[t]! - s) + (1 - a) * (level + trend);
    trend = b * (level - prev) + (1 - b) * trend;
    season.push(g * (y[t]! - level) + (1 - g) * s);
  }
  const n = y.length;
  return { sse, errors, forecast: (h) => level + h * trend + season[n - m + ((h - 1) % m)]! };
}

/** Fits the series (oldest first) and forecasts `horizon` days ahead. */
export function fitForecast(series: number[], horizon: number): Fit {
  const y = series.map((v) => (Number.isFinite(v) ? v : 0));
  const ahead = (f: (h: number) => number) => Array.from({ length: horizon }, (_, i) => Math.max(0, f(i + 1)));
  if (y.length < 3) {
    const avg = y.length ? y.reduce((s, v) => s + v, 0) / y.length : 0;
    return { method: 'mean', alpha: 0, beta: 0, gamma: 0, sse: 0, sigma: 0, forecast: ahead(() => avg) };
  }
  const seasonal = y.length >= 2 * SEASON;
  let best: { run: Run; a: number; b: number; g: number } | null = null;
  const tryGrid = (as: number[], bs: number[], gs: number[]) => {
    for (const a of as) {
      for (const b of bs) {
        for (const g of seasonal ? gs : [0]) {
          const run = seasonal ? holtWinters(y, a, b, g) : holt(y, a, b);
          if (!best || run.sse < best.run.sse - 1e-12) best = { run, a, b, g };
        }
      }
    }
  };
  // A coarse grid, then a finer one around its best point (a few dozen fits instead of hundreds).
  tryGrid(GRID, GRID, GRID);
  const around = (v: number) => [...new Set([v - STEP, v, v + STEP].map((x) => Math.round(Math.min(0.95, Math.max(0.02, x)) * 1000) / 1000))];
  const coarse: { a: number; b: number; g: number } = best!;
  tryGrid(around(coarse.a), around(coarse.b), around(coarse.g));
  const { run, a, b, g } = best! as { run: Run; a: number; b: number; g: number };
  return {
    method: seasonal ? 'holt_winters' : 'holt',
    alpha: a,
    beta: b,
    gamma: g,
    sse: run.sse,
    sigma: run.errors > 1 ? Math.sqrt(run.sse / (run.errors - 1)) : 0,
    forecast: ahead(run.forecast),
  };
}

export interface ReorderInput {
  /** forecast daily demand, from tomorrow on, at least leadTimeDays + safetyDays long */
  forecast: number[];
  sigma: number;
  leadTimeDays: number;
  safetyDays: number;
  available: number;
  onOrder: number;
  /** service level factor (1.65 ≈ 95 %) */
  z?: number;
}

/**
 * What to buy now: the demand expected until a purchase placed today arrives
 * and is safely covered (lead time + safety days), plus safety stock against
 * forecast error over the lead time, less what we hold and have on order.
 */
export function reorderSuggestion(i: ReorderInput): { demand: number; safetyStock: number; quantity: number } {
  const days = i.leadTimeDays + i.safetyDays;
  const demand = i.forecast.slice(0, days).reduce((s, v) => s + v, 0);
  const safetyStock = Math.ceil((i.z ?? 1.65) * i.sigma * Math.sqrt(Math.max(1, i.leadTimeDays)));
  const quantity = Math.max(0, Math.ceil(demand + safetyStock - i.available - i.onOrder));
  return { demand: Math.round(demand * 100) / 100, safetyStock, quantity };
}
