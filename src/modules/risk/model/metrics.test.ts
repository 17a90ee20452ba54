import { describe, expect, it } from 'vitest';
import { atThreshold, averagePrecision, rocAuc } from './metrics.js';
import { mulberry32 } from './traffic.js';

describe('rocAuc', () => {
  it('is 1 for a perfect ranking and 0 for a reversed one', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
  });

  it('matches a hand count: 3 of 4 positive-negative pairs ordered right', () => {
    // pairs (pos, neg): (0.35,0.1) ok, (0.35,0.4) wrong, (0.8,0.1) ok, (0.8,0.4) ok
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('counts ties as half', () => {
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    // pos 0.5 vs negs {0.5 tie, 0.2 win}; pos 0.9 wins both: (0.5 + 1 + 1 + 1) / 4
    expect(rocAuc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1])).toBeCloseTo(0.875, 12);
  });

  it('is about 0.5 for random scores', () => {
    const r = mulberry32(7);
    const n = 20_000;
    const scores = Array.from({ length: n }, () => r());
    const labels = Array.from({ length: n }, () => (r() < 0.3 ? 1 : 0));
    expect(Math.abs(rocAuc(scores, labels) - 0.5)).toBeLessThan(0.02);
  });

  it('is NaN with one class only, and refuses mismatched lengths', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => rocAuc([0.1], [0, 1])).toThrow(/length/);
  });
});

describe('averagePrecision', () => {
  it('matches a hand computation', () => {
    // desc: 0.8(+) P=1 R=.5; 0.4(-); 0.35(+) P=2/3 R=1 -> .5*1 + .5*2/3
    expect(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it('is 1 for a perfect ranking, and treats ties as one threshold', () => {
    expect(averagePrecision([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
    // all tied: one threshold, precision 1/2, recall 1
    expect(averagePrecision([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(averagePrecision([0.5, 0.5], [1, 0])).toBe(0.5);
  });

  it('is near the positive share for random scores', () => {
    const r = mulberry32(11);
    const n = 20_000;
    const scores = Array.from({ length: n }, () => r());
    const labels = Array.from({ length: n }, () => (r() < 0.2 ? 1 : 0));
    expect(Math.abs(averagePrecision(scores, labels) - 0.2)).toBeLessThan(0.02);
  });
});

describe('atThreshold', () => {
  it('counts the confusion matrix at score >= threshold', () => {
    const m = atThreshold([0.1, 0.4, 0.35, 0.8, 0.6], [0, 0, 1, 1, 0], 0.4);
    expect({ tp: m.tp, fp: m.fp, fn: m.fn, tn: m.tn }).toEqual({ tp: 1, fp: 2, fn: 1, tn: 1 });
    expect(m.precision).toBeCloseTo(1 / 3, 12);
    expect(m.recall).toBe(0.5);
    expect(m.falsePositiveRate).toBeCloseTo(2 / 3, 12);
  });

  it('has precision 1 when nothing is flagged', () => {
    const m = atThreshold([0.1, 0.2], [0, 1], 0.9);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(0);
  });
});
