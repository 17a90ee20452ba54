/**
 * What an agent of a level pays for a SKU. An explicit level price on the
 * SKU wins; else a markup rule of that level (one for the SKU's category
 * beats the global one) adds to the price of the level above, level 0 being
 * the SKU's cost; else retail. Nothing is ever above retail: a higher
 * result is capped, and says so.
 */

export interface LevelRule {
  id?: string;
  level: number;
  /** null: every category */
  categoryId: string | null;
  markupBps: number;
  markupFen: number;
}

export interface LevelPricedSku {
  costFen: number;
  retailPriceFen: number;
  agentPrices: Record<string, number>;
}

export type LevelPriceSource = 'explicit' | 'markup' | 'retail';

export interface LevelPrice {
  level: number;
  priceFen: number;
  source: LevelPriceSource;
  /** For a markup: the level whose price it builds on (0 = cost) and the rule used. */
  basedOnLevel: number | null;
  rule: LevelRule | null;
  /** The computed price was above retail and retail was charged instead. */
  capped: boolean;
}

/** The rule of each level for a SKU in `category`: the category's own beats the global one. */
export function rulesByLevel(rules: readonly LevelRule[], category: string | null): Map<number, LevelRule> {
  const out = new Map<number, LevelRule>();
  for (const r of rules) {
    if (r.categoryId !== null && r.categoryId !== category) continue;
    const current = out.get(r.level);
    if (!current || (current.categoryId === null && r.categoryId !== null)) out.set(r.level, r);
  }
  return out;
}

/** Prices of levels 1..upTo, each derived as the module comment says. */
export function levelPrices(sku: LevelPricedSku, rules: readonly LevelRule[], category: string | null, upTo: number): LevelPrice[] {
  const byLevel = rulesByLevel(rules, category);
  const out: LevelPrice[] = [];
  let previous = sku.costFen;
  for (let level = 1; level <= upTo; level++) {
    const explicit = sku.agentPrices[String(level)];
    const rule = byLevel.get(level);
    let price: LevelPrice;
    if (explicit !== undefined) price = { level, priceFen: explicit, source: 'explicit', basedOnLevel: null, rule: null, capped: false };
    else if (rule) price = { level, priceFen: previous + Math.round((previous * rule.markupBps) / 10_000) + rule.markupFen, source: 'markup', basedOnLevel: level - 1, rule, capped: false };
    else price = { level, priceFen: sku.retailPriceFen, source: 'retail', basedOnLevel: null, rule: null, capped: false };
    if (price.priceFen > sku.retailPriceFen) price = { ...price, priceFen: sku.retailPriceFen, capped: true };
    out.push(price);
    previous = price.priceFen;
  }
  return out;
}

/** The price of one level (no level: retail). */
export function levelPrice(sku: LevelPricedSku, rules: readonly LevelRule[], category: string | null, level: number | undefined): LevelPrice {
  if (level === undefined || level < 1) return { level: level ?? 0, priceFen: sku.retailPriceFen, source: 'retail', basedOnLevel: null, rule: null, capped: false };
  return levelPrices(sku, rules, category, level).at(-1)!;
}
