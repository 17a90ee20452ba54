import type { FieldIssue } from '../../lib/errors.js';
import type { RiskAction, RiskFeatures } from './features.js';
import { compile, decide, orderRules, validateCondition, type Condition, type EvalContext, type ListName, type Rule, type RuleAction, type RuleMode } from './risk-rules.js';

/**
 * Backtest: replays the stored features of past decisions through the rules
 * in force now, once as they are and once with a candidate applied (a new
 * rule, or a change to an existing one), with the same `decide` the gate
 * uses. Pure: the caller reads decisions in pages and feeds them in.
 *
 * A "flagged" decision is one the rules would block or send to review;
 * against the labels, precision = labelled fraud among labelled flagged,
 * recall = flagged among labelled fraud.
 */
export type Candidate =
  | { kind: 'new'; rule: { name?: string; action: RuleAction; mode?: RuleMode; condition: unknown; appliesTo?: readonly RiskAction[] } }
  | { kind: 'change'; ruleId: string; patch: { action?: RuleAction; mode?: RuleMode; condition?: unknown; enabled?: boolean; appliesTo?: readonly RiskAction[] } };

export interface ReplayRecord {
  id: string;
  features: RiskFeatures;
  /** The block lists the attempt is on (the caller matches them). */
  listed: ReadonlySet<ListName>;
  label: 'fraud' | 'legit' | null;
}

export const CANDIDATE_RULE_ID = 'candidate';
export const MAX_EXAMPLES = 20;

/** Problems of a candidate against the current rules ("rule_id" unknown, a bad condition at its path); empty when it can be replayed. */
export function checkCandidate(c: Candidate, current: readonly Rule[]): FieldIssue[] {
  if (c.kind === 'new') return validateCondition(c.rule.condition, 'rule.condition');
  const issues: FieldIssue[] = [];
  if (!current.some((r) => r.id === c.ruleId)) issues.push({ field: 'rule_id', message: 'no such rule' });
  if (c.patch.condition !== undefined) issues.push(...validateCondition(c.patch.condition, 'change.condition'));
  if (Object.values(c.patch).every((v) => v === undefined)) issues.push({ field: 'change', message: 'must change at least one of condition, action, mode, enabled, applies_to' });
  return issues;
}

/** The current rules with the candidate applied, compiled and in evaluation order. Call checkCandidate first. */
export function withCandidate(current: readonly Rule[], c: Candidate): Rule[] {
  const compiled = current.map((r) => ({ ...r, test: r.test ?? compile(r.condition) }));
  if (c.kind === 'new') {
    const condition = c.rule.condition as Condition;
    return orderRules([...compiled, { id: CANDIDATE_RULE_ID, name: c.rule.name ?? 'candidate', version: 1, action: c.rule.action, mode: c.rule.mode ?? 'enforce', condition, appliesTo: c.rule.appliesTo ?? [], enabled: true, test: compile(condition) }]);
  }
  return orderRules(
    compiled.map((r) => {
      if (r.id !== c.ruleId) return r;
      const condition = (c.patch.condition as Condition | undefined) ?? r.condition;
      return { ...r, version: r.version + 1, action: c.patch.action ?? r.action, mode: c.patch.mode ?? r.mode, enabled: c.patch.enabled ?? r.enabled, appliesTo: c.patch.appliesTo ?? r.appliesTo, condition, test: compile(condition) };
    }),
  );
}

interface Bucket {
  count: number;
  examples: string[];
}

export interface Confusion {
  /** Labelled decisions the rules would block or review. */
  flagged_labelled: number;
  true_positives: number;
  /** Labelled legit the rules would block or review. */
  false_positives: number;
  /** Labelled fraud the rules would let through (allow or challenge). */
  false_negatives: number;
  precision: number | null;
  recall: number | null;
}

export interface BacktestReport {
  replayed: number;
  labelled: { fraud: number; legit: number };
  /** Decisions whose outcome the candidate changes, by the outcome it gives them. */
  changed: number;
  newly_blocked: Bucket;
  newly_reviewed: Bucket;
  newly_challenged: Bucket;
  newly_allowed: Bucket;
  /** The would-be block/review set with the candidate, against the labels. */
  candidate: Confusion & { true_positive_examples: string[]; false_positive_examples: string[]; false_negative_examples: string[] };
  /** The same for the rules as they are (to compare). */
  baseline: Confusion;
  /** Decisions the candidate rule itself decided (new rule) or that the changed rule decided (change). */
  candidate_rule_hits: Bucket;
}

const flagged = (a: RuleAction) => a === 'block' || a === 'review';
const bucket = (): Bucket => ({ count: 0, examples: [] });
const add = (b: Bucket, id: string) => {
  b.count++;
  if (b.examples.length < MAX_EXAMPLES) b.examples.push(id);
};
const ratio = (n: number, d: number) => (d === 0 ? null : Math.round((n / d) * 10_000) / 10_000);

/** An accumulator: feed it pages of decisions, then read the report. */
export function createBacktest(baseline: readonly Rule[], withCand: readonly Rule[], candidateRuleId: string) {
  const r = { replayed: 0, fraud: 0, legit: 0, changed: 0 };
  const newly: Record<RuleAction, Bucket> = { block: bucket(), review: bucket(), challenge: bucket(), allow: bucket() };
  const hits = bucket();
  const cand = { tp: bucket(), fp: bucket(), fn: bucket() };
  const base = { tp: 0, fp: 0, fn: 0 };

  function add1(rec: ReplayRecord) {
    const ctx: EvalContext = { features: rec.features, listed: rec.listed };
    const before = decide(baseline, ctx).action;
    const afterVerdict = decide(withCand, ctx);
    const after = afterVerdict.action;
    r.replayed++;
    if (afterVerdict.reasons[0]?.rule_id === candidateRuleId || afterVerdict.shadow_matches.some((m) => m.rule_id === candidateRuleId)) add(hits, rec.id);
    if (before !== after) {
      r.changed++;
      add(newly[after], rec.id);
    }
    if (rec.label === null) return;
    if (rec.label === 'fraud') r.fraud++;
    else r.legit++;
    const fraud = rec.label === 'fraud';
    if (flagged(after)) add(fraud ? cand.tp : cand.fp, rec.id);
    else if (fraud) add(cand.fn, rec.id);
    if (flagged(before)) base[fraud ? 'tp' : 'fp']++;
    else if (fraud) base.fn++;
  }

  const confusion = (tp: number, fp: number, fn: number): Confusion => ({ flagged_labelled: tp + fp, true_positives: tp, false_positives: fp, false_negatives: fn, precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn) });

  return {
    add(records: Iterable<ReplayRecord>) {
      for (const rec of records) add1(rec);
    },
    report(): BacktestReport {
      return {
        replayed: r.replayed,
        labelled: { fraud: r.fraud, legit: r.legit },
        changed: r.changed,
        newly_blocked: newly.block,
        newly_reviewed: newly.review,
        newly_challenged: newly.challenge,
        newly_allowed: newly.allow,
        candidate: { ...confusion(cand.tp.count, cand.fp.count, cand.fn.count), true_positive_examples: cand.tp.examples, false_positive_examples: cand.fp.examples, false_negative_examples: cand.fn.examples },
        baseline: confusion(base.tp, base.fp, base.fn),
        candidate_rule_hits: hits,
      };
    },
  };
}
