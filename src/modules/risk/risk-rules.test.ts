import { describe, expect, it } from 'vitest';
import type { RiskFeatures } from './features.js';
import { compile, decide, evaluate, orderRules, validateCondition, type Condition, type ListName, type Rule } from './risk-rules.js';
import { normaliseIp, subnetOf } from './lists.js';

const features = (over: Partial<RiskFeatures> = {}, velocity: Partial<RiskFeatures['velocity']> = {}): RiskFeatures => ({
  action: 'order',
  amountFen: 1000,
  couponValueFen: 0,
  hourOfDay: 12,
  accountAgeHours: 100,
  velocity: { ip_1m: 1, ip_10m: 1, ip_1h: 1, subnet_10m: 1, subnet_1h: 1, device_10m: 1, device_1h: 1, account_10m: 1, account_1h: 1, agent_1h: 0, sku_1m: 1, account_amount_24h: 1000, failures_ip_1h: 0, failures_device_1h: 0, failures_account_1h: 0, failures_global_10m: 0, ...velocity },
  links: { accounts_per_device: 1, devices_per_account: 1, accounts_per_ip: 1 },
  missingDevice: false,
  priorOrders: 3,
  ...over,
});
const ctx = (f: RiskFeatures, listed: ListName[] = []) => ({ features: f, listed: new Set(listed) });
const rule = (id: string, action: Rule['action'], condition: Condition, over: Partial<Rule> = {}): Rule => ({ id, name: id, version: 1, action, mode: 'enforce', condition, appliesTo: [], enabled: true, ...over });

describe('condition language', () => {
  it('compares numbers, strings and booleans with every op', () => {
    const f = features({ amountFen: 500 }, { ip_10m: 21 });
    expect(evaluate({ field: 'velocity.ip_10m', op: 'gt', value: 20 }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'velocity.ip_10m', op: 'gt', value: 21 }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'velocity.ip_10m', op: 'gte', value: 21 }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'amountFen', op: 'lt', value: 500 }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'amountFen', op: 'lte', value: 500 }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'amountFen', op: 'eq', value: 500 }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'amountFen', op: 'ne', value: 500 }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'action', op: 'in', value: ['login', 'order'] }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'action', op: 'nin', value: ['login', 'order'] }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'missingDevice', op: 'eq', value: false }, ctx(f))).toBe(true);
  });

  it('treats a missing value as not matching numeric comparisons', () => {
    const f = features({ accountAgeHours: null });
    expect(evaluate({ field: 'accountAgeHours', op: 'lt', value: 24 }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'accountAgeHours', op: 'eq', value: null }, ctx(f))).toBe(true);
    expect(evaluate({ field: 'score', op: 'gt', value: 0.5 }, ctx(f))).toBe(false);
    expect(evaluate({ field: 'score', op: 'gt', value: 0.5 }, ctx({ ...f, score: 0.9 }))).toBe(true);
  });

  it('combines with all / any / not and reads list membership', () => {
    const f = features();
    const c: Condition = { all: [{ list: 'ip' }, { not: { field: 'amountFen', op: 'gt', value: 5000 } }] };
    expect(evaluate(c, ctx(f, ['ip']))).toBe(true);
    expect(evaluate(c, ctx(f, ['device']))).toBe(false);
    expect(evaluate({ any: [] }, ctx(f))).toBe(false);
    expect(evaluate({ all: [] }, ctx(f))).toBe(true);
  });

  it('names the path of every bad node', () => {
    expect(validateCondition({ all: [{ field: 'velocity.ip_10m', op: 'gt', value: 20 }, { any: [{ field: 'velocity.nope', op: 'gt', value: 1 }] }] })).toEqual([{ field: 'condition.all[1].any[0].field', message: expect.stringContaining('unknown field') }]);
    expect(validateCondition({ not: { field: 'amountFen', op: 'between', value: 1 } })[0]!.field).toBe('condition.not.op');
    expect(validateCondition({ field: 'amountFen', op: 'in', value: 3 })[0]!.field).toBe('condition.value');
    expect(validateCondition({ field: 'missingDevice', op: 'gt', value: 1 })[0]!.field).toBe('condition.value');
    expect(validateCondition({ list: 'email' })[0]!.field).toBe('condition.list');
    expect(validateCondition({ all: [{ field: 'action', op: 'eq', value: 'buy' }] })[0]!.field).toBe('condition.all[0].value');
    expect(validateCondition({ all: 'x' })[0]!.field).toBe('condition.all');
    expect(validateCondition({ field: 'amountFen', op: 'gt', value: 1, extra: 1 })[0]!.field).toBe('condition.extra');
    expect(validateCondition([])[0]!.field).toBe('condition');
    expect(validateCondition({ any: [{ list: 'ip' }, { field: 'links.accounts_per_device', op: 'gte', value: 3 }] })).toEqual([]);
  });
});

describe('decide', () => {
  const hot: Condition = { field: 'velocity.ip_10m', op: 'gt', value: 5 };
  const always: Condition = { all: [] };

  it('evaluates allow, then block, review, challenge; the first match wins', () => {
    const rules = orderRules([rule('c1', 'challenge', always), rule('r1', 'review', always), rule('b1', 'block', hot), rule('b2', 'block', always), rule('a1', 'allow', { list: 'account' })]);
    expect(rules.map((r) => r.id)).toEqual(['a1', 'b1', 'b2', 'r1', 'c1']);
    expect(decide(rules, ctx(features({}, { ip_10m: 9 }))).reasons[0]!.rule_id).toBe('b1');
    expect(decide(rules, ctx(features())).reasons[0]!.rule_id).toBe('b2');
    expect(decide(rules, ctx(features(), ['account']))).toMatchObject({ action: 'allow', reasons: [{ rule_id: 'a1' }] });
    expect(decide([], ctx(features()))).toEqual({ action: 'allow', reasons: [], shadow_matches: [] });
  });

  it('reports shadow rules without applying them, and skips disabled rules and other actions', () => {
    const rules = orderRules([rule('s1', 'block', always, { mode: 'shadow' }), rule('s2', 'block', hot, { mode: 'shadow' }), rule('d1', 'block', always, { enabled: false }), rule('l1', 'block', always, { appliesTo: ['login'] }), rule('c1', 'challenge', hot)]);
    const v = decide(rules, ctx(features({}, { ip_10m: 9 })));
    expect(v.action).toBe('challenge');
    expect(v.reasons.map((r) => r.rule_id)).toEqual(['c1']);
    expect(v.shadow_matches.map((r) => r.rule_id)).toEqual(['s1', 's2']);
    expect(decide(rules, ctx(features({ action: 'login' }))).reasons[0]!.rule_id).toBe('l1');
  });
});

describe('compile', () => {
  it('gives the same answers as evaluate', () => {
    const conditions: Condition[] = [
      { field: 'velocity.ip_10m', op: 'gt', value: 20 },
      { field: 'velocity.ip_10m', op: 'lte', value: 20 },
      { field: 'accountAgeHours', op: 'lt', value: 24 },
      { field: 'accountAgeHours', op: 'eq', value: null },
      { field: 'accountAgeHours', op: 'ne', value: null },
      { field: 'score', op: 'gte', value: 0.5 },
      { field: 'action', op: 'in', value: ['login', 'order'] },
      { field: 'action', op: 'nin', value: ['login'] },
      { field: 'missingDevice', op: 'eq', value: true },
      { all: [{ list: 'ip' }, { not: { field: 'amountFen', op: 'gt', value: 5000 } }] },
      { any: [{ list: 'device' }, { field: 'links.accounts_per_device', op: 'gt', value: 3 }] },
      { any: [] },
      { all: [] },
    ];
    const worlds = [
      ctx(features({}, { ip_10m: 21 }), ['ip']),
      ctx(features({ accountAgeHours: null, action: 'login', missingDevice: true, amountFen: 9000 }), ['device']),
      ctx({ ...features({ accountAgeHours: 3 }), score: 0.7, links: { accounts_per_device: 4, devices_per_account: 1, accounts_per_ip: 1 } }),
    ];
    let truths = 0;
    for (const c of conditions)
      for (const w of worlds) {
        expect(compile(c)(w)).toBe(evaluate(c, w));
        if (evaluate(c, w)) truths++;
      }
    expect(truths).toBeGreaterThan(10);
    expect(truths).toBeLessThan(conditions.length * worlds.length);
  });
});

describe('ip helpers', () => {
  it('normalise addresses and find their subnet', () => {
    expect(normaliseIp('203.0.113.7')).toBe('203.0.113.7');
    expect(normaliseIp('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(normaliseIp('nope')).toBeNull();
    expect(subnetOf('203.0.113.7')).toBe('203.0.113.0/24');
    expect(subnetOf('::ffff:203.0.113.7')).toBe('203.0.113.0/24');
    expect(subnetOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
  });
});
