import { describe, expect, it } from 'vitest';
import { fitForecast, reorderSuggestion } from './forecast.js';

const weekly = [5, -3, -4, -2, 0, 1, 3]; // a week's shape, summing to 0

describe('fitForecast', () => {
  it('continues a pure linear trend exactly (Holt on a short series)', () => {
    const y = Array.from({ length: 10 }, (_, t) => 10 + 2 * t);
    const fit = fitForecast(y, 3);
    expect(fit.method).toBe('holt');
    expect(fit.sse).toBeCloseTo(0, 9);
    expect(fit.forecast.map((v) => Math.round(v * 1000) / 1000)).toEqual([30, 32, 34]);
  });

  it('recovers a known trend and weekly season (Holt-Winters)', () => {
    const y = Array.from({ length: 8 * 7 }, (_, t) => 50 + 0.5 * t + weekly[t % 7]!);
    const fit = fitForecast(y, 14);
    expect(fit.method).toBe('holt_winters');
    const n = y.length;
    const truth = Array.from({ length: 14 }, (_, h) => 50 + 0.5 * (n + h) + weekly[(n + h) % 7]!);
    for (let h = 0; h < 14; h++) expect(Math.abs(fit.forecast[h]! - truth[h]!)).toBeLessThan(0.5);
  });

  it('fits noisy seasonal data better than a seasonless level would, and reports the error spread', () => {
    let seed = 42;
    const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2;
    const y = Array.from({ length: 12 * 7 }, (_, t) => 40 + 3 * weekly[t % 7]! + noise());
    const fit = fitForecast(y, 7);
    const truth = Array.from({ length: 7 }, (_, h) => 40 + 3 * weekly[(y.length + h) % 7]!);
    const mae = truth.reduce((s, v, h) => s + Math.abs(v - fit.forecast[h]!), 0) / 7;
    expect(mae).toBeLessThan(1.5); // a flat forecast of 40 would be off by ~7.7 on average
    expect(fit.sigma).toBeGreaterThan(0.3);
    expect(fit.sigma).toBeLessThan(1.5);
  });

  it('never forecasts negative demand and handles tiny series', () => {
    expect(fitForecast([9, 6, 3, 0, 0], 4).forecast.every((v) => v >= 0)).toBe(true);
    expect(fitForecast([], 2)).toMatchObject({ method: 'mean', forecast: [0, 0] });
    expect(fitForecast([4, 6], 2)).toMatchObject({ method: 'mean', forecast: [5, 5] });
  });
});

describe('reorderSuggestion', () => {
  it('covers lead time plus safety days, adds safety stock, subtracts stock and open purchases', () => {
    const r = reorderSuggestion({ forecast: Array(10).fill(10), sigma: 2, leadTimeDays: 4, safetyDays: 2, available: 15, onOrder: 5 });
    // demand 6 days * 10 = 60; safety ceil(1.65 * 2 * sqrt(4)) = 7; 60 + 7 - 15 - 5 = 47
    expect(r).toEqual({ demand: 60, safetyStock: 7, quantity: 47 });
  });
  it('suggests nothing when stock covers the horizon', () => {
    expect(reorderSuggestion({ forecast: Array(5).fill(1), sigma: 0, leadTimeDays: 3, safetyDays: 0, available: 50, onOrder: 0 }).quantity).toBe(0);
  });
});
