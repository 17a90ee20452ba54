import { describe, expect, it } from 'vitest';
import { levelPrice, levelPrices, rulesByLevel, type LevelRule } from './level-pricing.js';

const sku = { costFen: 8_000, retailPriceFen: 10_000, agentPrices: {} as Record<string, number> };
const rule = (level: number, markupBps: number, markupFen = 0, categoryId: string | null = null): LevelRule => ({ level, categoryId, markupBps, markupFen });

describe('level pricing', () => {
  it('no level, no rule and no explicit price: retail', () => {
    expect(levelPrice(sku, [], 'gift', undefined)).toMatchObject({ priceFen: 10_000, source: 'retail' });
    expect(levelPrice(sku, [], 'gift', 2)).toMatchObject({ priceFen: 10_000, source: 'retail', capped: false });
  });

  it('markup chains from cost through each level (rounded bps plus fen)', () => {
    const rules = [rule(1, 500), rule(2, 333, 7)];
    const [l1, l2] = levelPrices(sku, rules, 'gift', 2);
    expect(l1).toMatchObject({ priceFen: 8_400, source: 'markup', basedOnLevel: 0, capped: false });
    // 8400 * 3.33% = 279.72 -> 280, + 7
    expect(l2).toMatchObject({ priceFen: 8_400 + 280 + 7, source: 'markup', basedOnLevel: 1 });
  });

  it('an explicit level price wins over a rule and is the base of the next level', () => {
    const rules = [rule(1, 500), rule(2, 1000)];
    const prices = levelPrices({ ...sku, agentPrices: { '1': 9_000 } }, rules, 'gift', 2);
    expect(prices[0]).toMatchObject({ priceFen: 9_000, source: 'explicit' });
    expect(prices[1]).toMatchObject({ priceFen: 9_900, source: 'markup', basedOnLevel: 1 });
  });

  it('never above retail: capped, and said so (explicit prices too)', () => {
    expect(levelPrice(sku, [rule(1, 5_000)], 'gift', 1)).toMatchObject({ priceFen: 10_000, source: 'markup', capped: true });
    expect(levelPrice({ ...sku, agentPrices: { '1': 12_000 } }, [], 'gift', 1)).toMatchObject({ priceFen: 10_000, source: 'explicit', capped: true });
    // A level without a rule under a marked-up one is retail, not capped.
    expect(levelPrice(sku, [rule(1, 100)], 'gift', 2)).toMatchObject({ priceFen: 10_000, source: 'retail', capped: false });
  });

  it('a category rule beats the global one of the same level; other categories are ignored', () => {
    const rules = [rule(1, 500), rule(1, 1_000, 0, 'gift'), rule(1, 2_000, 0, 'games')];
    expect(rulesByLevel(rules, 'gift').get(1)?.markupBps).toBe(1_000);
    expect(rulesByLevel(rules, 'music').get(1)?.markupBps).toBe(500);
    expect(levelPrice(sku, rules, 'gift', 1).priceFen).toBe(8_800);
    expect(levelPrice(sku, rules, 'music', 1).priceFen).toBe(8_400);
    // Order of the rules does not matter.
    expect(levelPrice(sku, [...rules].reverse(), 'gift', 1).priceFen).toBe(8_800);
  });
});
