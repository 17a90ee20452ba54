import { describe, expect, it } from 'vitest';
import { pointsFor, reversalTarget } from './points-earning.js';

describe('points earned and taken back', () => {
  it('earns whole points per 100 fen, rounded down', () => {
    expect(pointsFor(19_200, 1)).toBe(192);
    expect(pointsFor(199, 1)).toBe(1);
    expect(pointsFor(99, 1)).toBe(0);
    expect(pointsFor(1_050, 3)).toBe(31);
    expect(pointsFor(0, 5)).toBe(0);
    expect(pointsFor(-10, 5)).toBe(0);
  });
  it('takes back in proportion to the refunded share, all of it once wholly refunded', () => {
    expect(reversalTarget(192, 9_600, 19_200)).toBe(96);
    expect(reversalTarget(100, 1, 3)).toBe(33);
    expect(reversalTarget(100, 3, 3)).toBe(100);
    expect(reversalTarget(100, 5, 3)).toBe(100);
    expect(reversalTarget(100, 0, 3)).toBe(0);
  });
});
