/**
 * Commission rules: pure domain logic, no I/O. A rule is data (levels, each
 * with a kind); the calculator turns one sale and its selling chain into
 * whole-fen amounts per level, and the profit guard refuses rules that could
 * pay out more than a sale earns.
 *
 * Arithmetic is exact: products of prices, quantities and basis points can
 * pass 2^53, so they are computed in BigInt and floored once per level.
 */

export const levelKinds = ['percent_of_price', 'percent_of_margin', 'fixed', 'tiered'] as const;
export type LevelKind = (typeof levelKinds)[number];

export interface Tier {
  /** The tier applies from this month's sales volume (fen) upwards. */
  minVolumeFen: number;
  bps: number;
}

export type LevelRule =
  | { kind: 'percent_of_price'; bps: number }
  | { kind: 'percent_of_margin'; bps: number }
  | { kind: 'fixed'; fen: number }
  /** basis points of the price, by the agent's sales volume of the current calendar month */
  | { kind: 'tiered'; tiers: Tier[] };

export interface CommissionRule {
  /** levels[0] is level 1 (the selling agent), levels[1] its upline, ... */
  levels: LevelRule[];
}

export const DEFAULT_MAX_LEVELS = 3;
export const MAX_LEVELS_LIMIT = 10;
export const BPS_DENOMINATOR = 10_000;

export interface ChainMember {
  agentId: string;
  /** 1 = the selling agent, 2 = its parent... A frozen agent is left out, so levels may have gaps. */
  level: number;
  monthVolumeFen: number;
}

export interface CommissionLine {
  agentId: string;
  level: number;
  amountFen: number;
}

export interface CommissionResult {
  lines: CommissionLine[];
  totalFen: number;
  /** (price - cost) x quantity, never below 0: the most a sale may pay out */
  marginFen: number;
  /** the rule asked for more than the margin and every level was scaled down */
  capped: boolean;
}

export interface CommissionInput {
  unitPriceFen: number;
  unitCostFen: number;
  quantity: number;
  chain: ChainMember[];
  rule: CommissionRule;
}

const big = BigInt;

/** The basis points a tiered level pays at a volume: the highest tier reached, 0 below the first. */
export function tierBps(tiers: Tier[], monthVolumeFen: number): number {
  let bps = 0;
  let best = -1;
  for (const t of tiers) if (t.minVolumeFen <= monthVolumeFen && t.minVolumeFen > best) {
    best = t.minVolumeFen;
    bps = t.bps;
  }
  return bps;
}

/**
 * What one level earns on a sale, times BPS_DENOMINATOR (exact, before flooring).
 * `monthVolumeFen` undefined means the worst case: a tiered level at its top tier.
 */
function levelScaled(level: LevelRule, unitPriceFen: number, unitCostFen: number, quantity: number, monthVolumeFen: number | undefined): bigint {
  const q = big(quantity);
  switch (level.kind) {
    case 'percent_of_price':
      return big(unitPriceFen) * q * big(level.bps);
    case 'percent_of_margin':
      return big(Math.max(0, unitPriceFen - unitCostFen)) * q * big(level.bps);
    case 'fixed':
      return big(level.fen) * q * big(BPS_DENOMINATOR);
    case 'tiered': {
      const bps = monthVolumeFen === undefined ? Math.max(0, ...level.tiers.map((t) => t.bps)) : tierBps(level.tiers, monthVolumeFen);
      return big(unitPriceFen) * q * big(bps);
    }
  }
}

/**
 * Commissions of one sale. Each chain member earns its level's rule, floored
 * to whole fen; members beyond the rule's levels earn nothing. If the total
 * would exceed the margin, every level is scaled down in proportion (floored),
 * so the total never exceeds the margin, and the result says `capped`.
 */
export function computeCommissions(input: CommissionInput): CommissionResult {
  const { unitPriceFen, unitCostFen, quantity, chain, rule } = input;
  const marginFen = Math.max(0, (unitPriceFen - unitCostFen) * quantity);
  const D = big(BPS_DENOMINATOR);
  let lines: CommissionLine[] = [];
  for (const m of chain) {
    const level = rule.levels[m.level - 1];
    if (!level || m.level < 1) continue;
    const scaled = levelScaled(level, unitPriceFen, unitCostFen, quantity, Math.max(0, m.monthVolumeFen));
    const amount = scaled > 0n ? Number(scaled / D) : 0;
    lines.push({ agentId: m.agentId, level: m.level, amountFen: amount });
  }
  let totalFen = lines.reduce((s, l) => s + l.amountFen, 0);
  let capped = false;
  if (totalFen > marginFen) {
    capped = true;
    const total = big(totalFen);
    const margin = big(marginFen);
    lines = lines.map((l) => ({ ...l, amountFen: Number((big(l.amountFen) * margin) / total) }));
    totalFen = lines.reduce((s, l) => s + l.amountFen, 0);
  }
  return { lines, totalFen, marginFen, capped };
}

export interface PricePoint {
  skuId: string;
  unitPriceFen: number;
  unitCostFen: number;
}

export interface GuardViolation {
  /** the level whose share makes the total pass the margin, e.g. "levels.2" */
  field: string;
  message: string;
}

/**
 * The profit guard: at each price point (a SKU's retail or agent price with
 * its cost), every level paying its most (tiered: its top tier) must together
 * stay within the margin. Exact, so no quantity can then exceed it either.
 * Returns the first violation, naming the level that crosses the margin.
 */
export function checkProfitGuard(rule: CommissionRule, points: PricePoint[]): GuardViolation | null {
  for (const pt of points) {
    const margin = big(Math.max(0, pt.unitPriceFen - pt.unitCostFen)) * big(BPS_DENOMINATOR);
    let sum = 0n;
    for (let i = 0; i < rule.levels.length; i++) {
      sum += levelScaled(rule.levels[i]!, pt.unitPriceFen, pt.unitCostFen, 1, undefined);
      if (sum > margin) {
        const total = rule.levels.reduce((s, l) => s + levelScaled(l, pt.unitPriceFen, pt.unitCostFen, 1, undefined), 0n);
        return {
          field: `levels.${i}`,
          message: `levels 1-${rule.levels.length} can pay ${fenText(total)} fen per unit of SKU ${pt.skuId} at price ${pt.unitPriceFen}, more than its margin of ${Math.max(0, pt.unitPriceFen - pt.unitCostFen)} fen (the total first passes it at level ${i + 1})`,
        };
      }
    }
  }
  return null;
}

const fenText = (scaled: bigint) => {
  const whole = scaled / big(BPS_DENOMINATOR);
  const rest = scaled % big(BPS_DENOMINATOR);
  return rest === 0n ? whole.toString() : `${whole}.${rest.toString().padStart(4, '0').replace(/0+$/, '')}`;
};

/** Shape checks a rule needs beyond its schema: level count, tiers. Returns a field issue or null. */
export function checkRuleShape(rule: CommissionRule, maxLevels: number): GuardViolation | null {
  if (!Number.isInteger(maxLevels) || maxLevels < 1 || maxLevels > MAX_LEVELS_LIMIT) return { field: 'max_levels', message: `must be 1-${MAX_LEVELS_LIMIT}` };
  if (rule.levels.length < 1) return { field: 'levels', message: 'at least one level' };
  if (rule.levels.length > maxLevels) return { field: 'levels', message: `at most ${maxLevels} levels (max_levels)` };
  for (let i = 0; i < rule.levels.length; i++) {
    const l = rule.levels[i]!;
    if (l.kind === 'tiered') {
      if (l.tiers.length === 0) return { field: `levels.${i}.tiers`, message: 'at least one tier' };
      const mins = l.tiers.map((t) => t.minVolumeFen);
      if (new Set(mins).size !== mins.length) return { field: `levels.${i}.tiers`, message: 'two tiers start at the same volume' };
    }
  }
  return null;
}
