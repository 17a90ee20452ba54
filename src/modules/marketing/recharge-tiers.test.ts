import { describe, expect, it } from 'vitest';
import { bonusFor, checkTiers } from './recharge-tiers.js';

const tiers = [
  { min_fen: 10_000, bonus_fen: 1_000 },
  { min_fen: 50_000, bonus_fen: 8_000 },
  { min_fen: 20_000, bonus_fen: 3_000 },
];

describe('recharge tiers', () => {
  it('picks the highest tier reached', () => {
    expect(bonusFor(tiers, 9_999)).toBe(0);
    expect(bonusFor(tiers, 10_000)).toBe(1_000);
    expect(bonusFor(tiers, 49_999)).toBe(3_000);
    expect(bonusFor(tiers, 50_000)).toBe(8_000);
    expect(bonusFor(tiers, 1_000_000)).toBe(8_000);
  });
  it('refuses malformed tiers with the field', () => {
    expect(checkTiers(tiers)).toBeNull();
    expect(checkTiers([])).toEqual({ field: 'tiers', message: 'at least one tier' });
    expect(checkTiers([{ min_fen: 100, bonus_fen: 200 }])?.field).toBe('tiers[0].bonus_fen');
    expect(checkTiers([{ min_fen: 100, bonus_fen: 10 }, { min_fen: 100, bonus_fen: 20 }])?.message).toMatch(/twice/);
    expect(checkTiers([{ min_fen: 100, bonus_fen: 50 }, { min_fen: 200, bonus_fen: 20 }])?.message).toMatch(/smaller/);
    expect(checkTiers([{ min_fen: 1.5, bonus_fen: 1 }])?.field).toBe('tiers[0].min_fen');
  });
});
