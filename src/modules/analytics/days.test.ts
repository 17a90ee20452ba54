import { describe, expect, it } from 'vitest';
import { addDays, dayIn, daysBetween, splitRange } from './days.js';

describe('report days', () => {
  it('a day in Shanghai starts at 16:00 UTC the day before', () => {
    expect(dayIn(new Date('2026-03-09T15:59:59Z'), 'Asia/Shanghai')).toBe('2026-03-09');
    expect(dayIn(new Date('2026-03-09T16:00:00Z'), 'Asia/Shanghai')).toBe('2026-03-10');
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(daysBetween('2025-03-10', '2026-03-10')).toBe(365);
  });
  it('splits a range into edge days and whole months', () => {
    const empty = ['2000-01-02', '2000-01-01'];
    expect(splitRange('2025-03-10', '2026-03-10')).toEqual({ head: ['2025-03-10', '2025-03-31'], months: ['2025-04-01', '2026-02-01'], tail: ['2026-03-01', '2026-03-10'] });
    expect(splitRange('2026-01-01', '2026-03-31')).toEqual({ head: empty, months: ['2026-01-01', '2026-03-01'], tail: empty });
    expect(splitRange('2025-12-01', '2026-02-27')).toEqual({ head: empty, months: ['2025-12-01', '2026-01-01'], tail: ['2026-02-01', '2026-02-27'] });
    expect(splitRange('2026-03-02', '2026-03-30')).toEqual({ head: ['2026-03-02', '2026-03-30'], months: empty, tail: empty });
    expect(splitRange('2026-02-15', '2026-03-14')).toEqual({ head: ['2026-02-15', '2026-03-14'], months: empty, tail: empty });
  });
});
