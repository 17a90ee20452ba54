import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkProfitGuard, checkRuleShape, computeCommissions, tierBps, type ChainMember, type CommissionRule, type LevelRule } from './rules.js';

const bps = fc.integer({ min: 0, max: 10_000 });
const level: fc.Arbitrary<LevelRule> = fc.oneof(
  bps.map((b) => ({ kind: 'percent_of_price' as const, bps: b })),
  bps.map((b) => ({ kind: 'percent_of_margin' as const, bps: b })),
  fc.integer({ min: 0, max: 50_000 }).map((fen) => ({ kind: 'fixed' as const, fen })),
  fc
    .uniqueArray(fc.record({ minVolumeFen: fc.integer({ min: 0, max: 10_000_000 }), bps }), { minLength: 1, maxLength: 5, selector: (t) => t.minVolumeFen })
    .map((tiers) => ({ kind: 'tiered' as const, tiers })),
);
const rule: fc.Arbitrary<CommissionRule> = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => ({ levels }));
const sale = fc.record({
  unitPriceFen: fc.integer({ min: 0, max: 100_000_000 }),
  unitCostFen: fc.integer({ min: 0, max: 100_000_000 }),
  quantity: fc.integer({ min: 1, max: 10_000 }),
});
/** A chain of up to 6 levels with some levels missing (frozen agents). */
const chain: fc.Arbitrary<ChainMember[]> = fc
  .array(fc.record({ present: fc.boolean(), monthVolumeFen: fc.integer({ min: 0, max: 20_000_000 }) }), { maxLength: 6 })
  .map((xs) => xs.flatMap((x, i) => (x.present ? [{ agentId: `agt_${i + 1}`, level: i + 1, monthVolumeFen: x.monthVolumeFen }] : [])));

/** What one level pays per the rule, in whole fen, computed independently with BigInt. */
function expected(l: LevelRule, s: { unitPriceFen: number; unitCostFen: number; quantity: number }, volume: number): number {
  const q = BigInt(s.quantity);
  const price = BigInt(s.unitPriceFen);
  const margin = BigInt(Math.max(0, s.unitPriceFen - s.unitCostFen));
  switch (l.kind) {
    case 'percent_of_price':
      return Number((price * q * BigInt(l.bps)) / 10_000n);
    case 'percent_of_margin':
      return Number((margin * q * BigInt(l.bps)) / 10_000n);
    case 'fixed':
      return l.fen * s.quantity;
    case 'tiered': {
      const reached = l.tiers.filter((t) => t.minVolumeFen <= volume).sort((a, b) => b.minVolumeFen - a.minVolumeFen)[0];
      return Number((price * q * BigInt(reached?.bps ?? 0)) / 10_000n);
    }
  }
}

describe('computeCommissions', () => {
  it('never pays more than the margin; amounts are whole, non-negative fen', () => {
    fc.assert(
      fc.property(rule, sale, chain, (r, s, c) => {
        const res = computeCommissions({ ...s, chain: c, rule: r });
        const margin = Math.max(0, (s.unitPriceFen - s.unitCostFen) * s.quantity);
        expect(res.marginFen).toBe(margin);
        expect(res.totalFen).toBeLessThanOrEqual(margin);
        expect(res.totalFen).toBe(res.lines.reduce((a, l) => a + l.amountFen, 0));
        for (const l of res.lines) {
          expect(Number.isSafeInteger(l.amountFen)).toBe(true);
          expect(l.amountFen).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('pays each level exactly what its rule says when not capped; only levels in the chain and the rule earn', () => {
    fc.assert(
      fc.property(rule, sale, chain, (r, s, c) => {
        const res = computeCommissions({ ...s, chain: c, rule: r });
        const wanted = c.filter((m) => m.level <= r.levels.length).map((m) => ({ agentId: m.agentId, level: m.level, amountFen: expected(r.levels[m.level - 1]!, s, m.monthVolumeFen) }));
        expect(res.lines.map((l) => l.level)).toEqual(wanted.map((w) => w.level));
        const sum = wanted.reduce((a, w) => a + w.amountFen, 0);
        expect(res.capped).toBe(sum > res.marginFen);
        if (!res.capped) expect(res.lines).toEqual(wanted);
        else for (let i = 0; i < wanted.length; i++) expect(res.lines[i]!.amountFen).toBeLessThanOrEqual(wanted[i]!.amountFen);
      }),
      { numRuns: 500 },
    );
  });

  it('a rule that passes the profit guard is never capped at that price', () => {
    fc.assert(
      fc.property(rule, sale, chain, (r, s, c) => {
        fc.pre(checkProfitGuard(r, [{ skuId: 'sku', unitPriceFen: s.unitPriceFen, unitCostFen: s.unitCostFen }]) === null);
        expect(computeCommissions({ ...s, chain: c, rule: r }).capped).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('10% / 3% / 1% of a 100 yuan sale with 20 yuan margin', () => {
    const r: CommissionRule = { levels: [{ kind: 'percent_of_price', bps: 1000 }, { kind: 'percent_of_price', bps: 300 }, { kind: 'percent_of_price', bps: 100 }] };
    const c = [1, 2, 3].map((level) => ({ agentId: `a${level}`, level, monthVolumeFen: 0 }));
    const res = computeCommissions({ unitPriceFen: 10_000, unitCostFen: 8_000, quantity: 2, chain: c, rule: r });
    expect(res.lines.map((l) => l.amountFen)).toEqual([2_000, 600, 200]);
    expect(res).toMatchObject({ totalFen: 2_800, marginFen: 4_000, capped: false });
    // A frozen level 2 earns nothing and level 3 keeps its own rate (skipped, not shifted).
    const skipped = computeCommissions({ unitPriceFen: 10_000, unitCostFen: 8_000, quantity: 1, chain: [c[0]!, c[2]!], rule: r });
    expect(skipped.lines).toEqual([{ agentId: 'a1', level: 1, amountFen: 1_000 }, { agentId: 'a3', level: 3, amountFen: 100 }]);
    // Sold at cost + 5 fen: capped to the margin.
    const thin = computeCommissions({ unitPriceFen: 10_000, unitCostFen: 9_995, quantity: 1, chain: c, rule: r });
    expect(thin.capped).toBe(true);
    expect(thin.totalFen).toBeLessThanOrEqual(5);
  });

  it('tiers: the highest tier reached by the month volume', () => {
    const tiers = [{ minVolumeFen: 0, bps: 100 }, { minVolumeFen: 100_000, bps: 200 }, { minVolumeFen: 50_000, bps: 150 }];
    expect(tierBps(tiers, 0)).toBe(100);
    expect(tierBps(tiers, 60_000)).toBe(150);
    expect(tierBps(tiers, 100_000)).toBe(200);
    expect(tierBps([{ minVolumeFen: 10, bps: 100 }], 9)).toBe(0);
  });
});

describe('checkProfitGuard', () => {
  it('names the level where the worst case (top tier) passes the margin', () => {
    const r: CommissionRule = { levels: [{ kind: 'percent_of_price', bps: 1000 }, { kind: 'tiered', tiers: [{ minVolumeFen: 0, bps: 100 }, { minVolumeFen: 1_000_000, bps: 1_500 }] }] };
    expect(checkProfitGuard(r, [{ skuId: 's', unitPriceFen: 10_000, unitCostFen: 8_000 }])?.field).toBe('levels.1');
    expect(checkProfitGuard(r, [{ skuId: 's', unitPriceFen: 10_000, unitCostFen: 7_000 }])).toBeNull();
    expect(checkProfitGuard({ levels: [{ kind: 'fixed', fen: 1 }] }, [{ skuId: 's', unitPriceFen: 100, unitCostFen: 100 }])?.field).toBe('levels.0');
    expect(checkProfitGuard({ levels: [{ kind: 'percent_of_margin', bps: 10_000 }] }, [{ skuId: 's', unitPriceFen: 100, unitCostFen: 150 }])).toBeNull();
  });

  it('refuses when some sale at that price could exceed the margin, accepts otherwise', () => {
    fc.assert(
      fc.property(rule, sale, (r, s) => {
        const ok = checkProfitGuard(r, [{ skuId: 'sku', ...s }]) === null;
        // Worst case: every tiered level at its top tier.
        const worst = computeCommissions({ ...s, quantity: 1, rule: r, chain: r.levels.map((_, i) => ({ agentId: `a${i}`, level: i + 1, monthVolumeFen: Number.MAX_SAFE_INTEGER })) });
        if (ok) expect(worst.capped).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('checkRuleShape', () => {
  it('levels within max_levels, tiers present and distinct', () => {
    const l: LevelRule = { kind: 'fixed', fen: 1 };
    expect(checkRuleShape({ levels: [l, l, l] }, 3)).toBeNull();
    expect(checkRuleShape({ levels: [l, l, l, l] }, 3)?.field).toBe('levels');
    expect(checkRuleShape({ levels: [l] }, 0)?.field).toBe('max_levels');
    expect(checkRuleShape({ levels: [{ kind: 'tiered', tiers: [] }] }, 3)?.field).toBe('levels.0.tiers');
    expect(checkRuleShape({ levels: [{ kind: 'tiered', tiers: [{ minVolumeFen: 0, bps: 1 }, { minVolumeFen: 0, bps: 2 }] }] }, 3)?.field).toBe('levels.0.tiers');
  });
});
