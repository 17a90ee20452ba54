import type { LevelRule } from './rules.js';
import type { commissionRuleSets, commissionRuleVersions, commissions } from './schema.js';

/** A level as the API shows and takes it (snake_case). */
export type LevelView =
  | { kind: 'percent_of_price'; bps: number }
  | { kind: 'percent_of_margin'; bps: number }
  | { kind: 'fixed'; fen: number }
  | { kind: 'tiered'; tiers: { min_volume_fen: number; bps: number }[] };

export const levelFromView = (l: LevelView): LevelRule => (l.kind === 'tiered' ? { kind: 'tiered', tiers: l.tiers.map((t) => ({ minVolumeFen: t.min_volume_fen, bps: t.bps })) } : l);
export const levelToView = (l: LevelRule): LevelView => (l.kind === 'tiered' ? { kind: 'tiered', tiers: l.tiers.map((t) => ({ min_volume_fen: t.minVolumeFen, bps: t.bps })) } : l);

export interface RuleVersionView {
  id: string;
  version: number;
  max_levels: number;
  levels: LevelView[];
  created_at: string;
}

export interface RuleSetView {
  id: string;
  name: string;
  scope_type: string;
  scope_value: string | null;
  created_at: string;
  current_version: RuleVersionView;
}

export interface CommissionView {
  id: string;
  order_id: string;
  agent_id: string;
  level: number;
  amount_fen: number;
  rule_version_id: string;
  capped: boolean;
  status: string;
  reversed_fen: number;
  clawback_due_fen: number;
  available_at: string;
  settled_at: string | null;
  created_at: string;
}

export interface PreviewLevel {
  level: number;
  agent_id: string;
  amount_fen: number;
  /** why the level earns nothing (a frozen agent: the level is skipped, not shifted), else null */
  skipped: string | null;
}


export function toVersionView(v: typeof commissionRuleVersions.$inferSelect): RuleVersionView {
  return { id: v.id, version: v.version, max_levels: v.maxLevels, levels: v.levels.map(levelToView), created_at: v.createdAt.toISOString() };
}

export function toRuleSetView(s: typeof commissionRuleSets.$inferSelect, v: typeof commissionRuleVersions.$inferSelect): RuleSetView {
  return { id: s.id, name: s.name, scope_type: s.scopeType, scope_value: s.scopeValue, created_at: s.createdAt.toISOString(), current_version: toVersionView(v) };
}

export function toCommissionView(c: typeof commissions.$inferSelect): CommissionView {
  return {
    id: c.id,
    order_id: c.orderId,
    agent_id: c.agentId,
    level: c.level,
    amount_fen: c.amountFen,
    rule_version_id: c.ruleVersionId,
    capped: c.capped,
    status: c.status,
    reversed_fen: c.reversedFen,
    clawback_due_fen: c.clawbackDueFen,
    available_at: c.availableAt.toISOString(),
    settled_at: c.settledAt?.toISOString() ?? null,
    created_at: c.createdAt.toISOString(),
  };
}
