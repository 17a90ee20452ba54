import { describe, expect, it } from 'vitest';
import type { RiskFeatures } from './features.js';
import type { Condition, ListName, Rule } from './risk-rules.js';
import { CANDIDATE_RULE_ID, MAX_EXAMPLES, checkCandidate, createBacktest, withCandidate, type ReplayRecord } from './backtest.js';

const features = (amountFen: number, ip10m: number, action: RiskFeatures['action'] = 'order'): RiskFeatures => ({
  action,
  amountFen,
  couponValueFen: 0,
  hourOfDay: 12,
  accountAgeHours: 100,
  velocity: { ip_1m: 1, ip_10m: ip10m, ip_1h: ip10m, subnet_10m: 1, subnet_1h: 1, device_10m: 1, device_1h: 1, account_10m: 1, account_1h: 1, agent_1h: 0, sku_1m: 1, account_amount_24h: amountFen, failures_ip_1h: 0, failures_device_1h: 0, failures_account_1h: 0, failures_global_10m: 0 },
  links: { accounts_per_device: 1, devices_per_account: 1, accounts_per_ip: 1 },
  missingDevice: false,
  priorOrders: 0,
});
const rule = (id: string, action: Rule['action'], condition: Condition, over: Partial<Rule> = {}): Rule => ({ id, name: id, version: 1, action, mode: 'enforce', condition, appliesTo: [], enabled: true, ...over });
const rec = (id: string, amountFen: number, ip10m: number, label: ReplayRecord['label'], listed: ListName[] = []): ReplayRecord => ({ id, features: features(amountFen, ip10m), listed: new Set(listed), label });

// Current rules: block listed IPs; review orders above 5,000 yuan.
const current: Rule[] = [rule('r_list', 'block', { list: 'ip' }), rule('r_big', 'review', { field: 'amountFen', op: 'gt', value: 500_000 })];

// Hand-made history. Candidate: block when ip_10m > 10.
//  id  amount   ip10m label   listed  before     after
//  d1  1000     20    fraud   -       allow      block   (newly blocked, TP)
//  d2  1000     15    legit   -       allow      block   (newly blocked, FP)
//  d3  1000     2     fraud   -       allow      allow   (FN)
//  d4  600000   1     fraud   -       review     review  (TP, both)
//  d5  600000   30    legit   -       review     block   (newly blocked, FP, flagged both)
//  d6  1000     1     legit   ip      block      block   (FP both)
//  d7  1000     50    null    -       allow      block   (newly blocked, unlabelled)
//  d8  1000     1     legit   -       allow      allow
const history = [rec('d1', 1000, 20, 'fraud'), rec('d2', 1000, 15, 'legit'), rec('d3', 1000, 2, 'fraud'), rec('d4', 600_000, 1, 'fraud'), rec('d5', 600_000, 30, 'legit'), rec('d6', 1000, 1, 'legit', ['ip']), rec('d7', 1000, 50, null), rec('d8', 1000, 1, 'legit')];

describe('backtest', () => {
  it('counts what a new rule changes and its precision and recall against the labels (hand count)', () => {
    const cand = { kind: 'new' as const, rule: { action: 'block' as const, condition: { field: 'velocity.ip_10m', op: 'gt', value: 10 } } };
    expect(checkCandidate(cand, current)).toEqual([]);
    const bt = createBacktest(withCandidate(current, { kind: 'change', ruleId: 'r_list', patch: {} }), withCandidate(current, cand), CANDIDATE_RULE_ID);
    // Fed in two pages, as the service does.
    bt.add(history.slice(0, 3));
    bt.add(history.slice(3));
    const r = bt.report();
    expect(r.replayed).toBe(8);
    expect(r.labelled).toEqual({ fraud: 3, legit: 4 });
    expect(r.changed).toBe(4);
    expect(r.newly_blocked).toEqual({ count: 4, examples: ['d1', 'd2', 'd5', 'd7'] });
    expect(r.newly_reviewed.count + r.newly_challenged.count + r.newly_allowed.count).toBe(0);
    // Flagged labelled with the candidate: d1 d2 d4 d5 d6 -> TP d1 d4, FP d2 d5 d6; FN d3.
    expect(r.candidate).toMatchObject({ true_positives: 2, false_positives: 3, false_negatives: 1, precision: 0.4, recall: 0.6667, true_positive_examples: ['d1', 'd4'], false_positive_examples: ['d2', 'd5', 'd6'], false_negative_examples: ['d3'] });
    // Without it: flagged d4 (TP), d5 d6 (FP); FN d1 d3.
    expect(r.baseline).toMatchObject({ true_positives: 1, false_positives: 2, false_negatives: 2, precision: 0.3333, recall: 0.3333 });
    expect(r.candidate_rule_hits.examples).toEqual(['d1', 'd2', 'd5', 'd7']);
  });

  it('replays a change to an existing rule: a lower review threshold reviews more, disabling a rule allows', () => {
    const lower = createBacktest(withCandidate(current, { kind: 'change', ruleId: 'r_big', patch: {} }), withCandidate(current, { kind: 'change', ruleId: 'r_big', patch: { condition: { field: 'amountFen', op: 'gt', value: 500 } } }), 'r_big');
    lower.add(history);
    const r = lower.report();
    // Every unlisted 1000-fen order is now reviewed: d1 d2 d3 d7 d8.
    expect(r.newly_reviewed).toEqual({ count: 5, examples: ['d1', 'd2', 'd3', 'd7', 'd8'] });
    expect(r.candidate).toMatchObject({ true_positives: 3, false_positives: 4, false_negatives: 0, recall: 1 });

    const off = createBacktest(current, withCandidate(current, { kind: 'change', ruleId: 'r_list', patch: { enabled: false } }), 'r_list');
    off.add(history);
    expect(off.report().newly_allowed).toEqual({ count: 1, examples: ['d6'] });
  });

  it('a shadow candidate changes nothing but reports its hits; examples stop at 20', () => {
    const bt = createBacktest(current, withCandidate(current, { kind: 'new', rule: { action: 'block', mode: 'shadow', condition: { field: 'amountFen', op: 'gte', value: 0 } } }), CANDIDATE_RULE_ID);
    bt.add(Array.from({ length: 30 }, (_, i) => rec(`x${i}`, 1000, 1, null)));
    const r = bt.report();
    expect(r.changed).toBe(0);
    expect(r.candidate_rule_hits.count).toBe(30);
    expect(r.candidate_rule_hits.examples.length).toBe(MAX_EXAMPLES);
    expect(r.candidate.precision).toBeNull();
  });

  it('refuses an unknown rule id, an empty change and a bad condition, each at its field', () => {
    expect(checkCandidate({ kind: 'change', ruleId: 'nope', patch: { mode: 'shadow' } }, current)).toEqual([{ field: 'rule_id', message: 'no such rule' }]);
    expect(checkCandidate({ kind: 'change', ruleId: 'r_big', patch: {} }, current)[0]!.field).toBe('change');
    expect(checkCandidate({ kind: 'new', rule: { action: 'block', condition: { field: 'amountFen', op: 'zz', value: 1 } } }, current)[0]!.field).toBe('rule.condition.op');
  });
});
