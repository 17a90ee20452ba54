import type { FieldIssue } from '../../lib/errors.js';
import type { RechargeTier } from './points-schema.js';

/** The bonus a top-up earns under one rule: the tier with the highest threshold it reaches (0 below every tier). */
export function bonusFor(tiers: RechargeTier[], amountFen: number): number {
  let best: RechargeTier | null = null;
  for (const t of tiers) if (amountFen >= t.min_fen && (!best || t.min_fen > best.min_fen)) best = t;
  return best?.bonus_fen ?? 0;
}

/** Tiers must be whole fen, thresholds distinct, each bonus positive and not above its threshold, bonuses rising with thresholds. */
export function checkTiers(tiers: RechargeTier[]): FieldIssue | null {
  if (tiers.length === 0) return { field: 'tiers', message: 'at least one tier' };
  const sorted = [...tiers].sort((a, b) => a.min_fen - b.min_fen);
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    if (!Number.isSafeInteger(t.min_fen) || t.min_fen <= 0) return { field: `tiers[${i}].min_fen`, message: 'must be a positive whole number of fen' };
    if (!Number.isSafeInteger(t.bonus_fen) || t.bonus_fen <= 0) return { field: `tiers[${i}].bonus_fen`, message: 'must be a positive whole number of fen' };
    if (t.bonus_fen > t.min_fen) return { field: `tiers[${i}].bonus_fen`, message: 'must not exceed the top-up it rewards' };
    if (i > 0 && t.min_fen === sorted[i - 1]!.min_fen) return { field: 'tiers', message: `threshold ${t.min_fen} appears twice` };
    if (i > 0 && t.bonus_fen < sorted[i - 1]!.bonus_fen) return { field: 'tiers', message: 'a higher threshold must not give a smaller bonus' };
  }
  return null;
}
