import type { FieldIssue } from '../../lib/errors.js';
import { riskActions, type RiskAction, type RiskFeatures } from './features.js';

/**
 * The condition language of risk rules, and their evaluation. Pure: no I/O,
 * no clock; the service gives it the features and the block lists the
 * attempt matched.
 *
 *   {"all": [c, ...]}   every c holds (an empty list holds)
 *   {"any": [c, ...]}   some c holds (an empty list does not)
 *   {"not": c}
 *   {"field": "velocity.ip_10m", "op": "gt", "value": 20}   ops eq ne gt gte lt lte in nin
 *   {"list": "ip"}      the attempt's IP (or a CIDR holding it), device, phone hash, openid, Telegram id or account is on the block list
 *
 * A comparison with a missing value (no account: accountAgeHours null; no
 * model: score undefined) is false, except `ne` / `nin`, which are true, and
 * `eq null`, which is true.
 */
export type Comparison = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'nin';
export const comparisons: readonly Comparison[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin'];
export type ListName = 'ip' | 'device' | 'phone_hash' | 'openid' | 'telegram_id' | 'account';
export const listNames: readonly ListName[] = ['ip', 'device', 'phone_hash', 'openid', 'telegram_id', 'account'];

type Scalar = string | number | boolean | null;
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { field: string; op: Comparison; value: Scalar | Scalar[] }
  | { list: ListName };

export type RuleAction = 'allow' | 'block' | 'review' | 'challenge';
export const ruleActions: readonly RuleAction[] = ['allow', 'block', 'review', 'challenge'];
export type RuleMode = 'enforce' | 'shadow';
export const ruleModes: readonly RuleMode[] = ['enforce', 'shadow'];

/** Fields a condition may read, with their kind, named as in RiskFeatures. */
const velocityFields = ['ip_1m', 'ip_10m', 'ip_1h', 'subnet_10m', 'subnet_1h', 'device_10m', 'device_1h', 'account_10m', 'account_1h', 'agent_1h', 'sku_1m', 'account_amount_24h', 'failures_ip_1h', 'failures_device_1h', 'failures_account_1h', 'failures_global_10m'] as const satisfies readonly (keyof RiskFeatures['velocity'])[];
const linkFields = ['accounts_per_device', 'devices_per_account', 'accounts_per_ip'] as const satisfies readonly (keyof RiskFeatures['links'])[];
export const conditionFields: Readonly<Record<string, 'number' | 'string' | 'boolean'>> = {
  action: 'string',
  amountFen: 'number',
  couponValueFen: 'number',
  hourOfDay: 'number',
  accountAgeHours: 'number',
  missingDevice: 'boolean',
  priorOrders: 'number',
  score: 'number',
  ...Object.fromEntries(velocityFields.map((f) => [`velocity.${f}`, 'number'])),
  ...Object.fromEntries(linkFields.map((f) => [`links.${f}`, 'number'])),
};

/** Every problem of a condition, each at the JSON path of the bad node ("condition.all[1].op"). Empty when it is valid. */
export function validateCondition(c: unknown, path = 'condition', depth = 0): FieldIssue[] {
  if (depth > 16) return [{ field: path, message: 'nested too deeply (at most 16 levels)' }];
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return [{ field: path, message: 'must be an object: {all}, {any}, {not}, {field, op, value} or {list}' }];
  const o = c as Record<string, unknown>;
  const keys = Object.keys(o);
  const only = (allowed: string[]): FieldIssue[] => keys.filter((k) => !allowed.includes(k)).map((k) => ({ field: `${path}.${k}`, message: 'unknown key' }));
  if ('all' in o || 'any' in o) {
    const k = 'all' in o ? 'all' : 'any';
    const list = o[k];
    if (!Array.isArray(list)) return [{ field: `${path}.${k}`, message: 'must be an array of conditions' }];
    if (list.length > 100) return [{ field: `${path}.${k}`, message: 'at most 100 conditions' }];
    return [...only([k]), ...list.flatMap((x, i) => validateCondition(x, `${path}.${k}[${i}]`, depth + 1))];
  }
  if ('not' in o) return [...only(['not']), ...validateCondition(o.not, `${path}.not`, depth + 1)];
  if ('list' in o) {
    if (!listNames.includes(o.list as ListName)) return [{ field: `${path}.list`, message: `unknown list; one of ${listNames.join(', ')}` }];
    return only(['list']);
  }
  if ('field' in o) {
    const issues = only(['field', 'op', 'value']);
    const kind = typeof o.field === 'string' ? conditionFields[o.field] : undefined;
    if (!kind) issues.push({ field: `${path}.field`, message: `unknown field; one of ${Object.keys(conditionFields).join(', ')}` });
    if (!comparisons.includes(o.op as Comparison)) {
      issues.push({ field: `${path}.op`, message: `unknown op; one of ${comparisons.join(', ')}` });
      return issues;
    }
    const op = o.op as Comparison;
    if (!kind) return issues;
    const scalarOk = (v: unknown) => v === null || (kind !== undefined && typeof v === kind && (kind !== 'number' || Number.isFinite(v)));
    if (!('value' in o)) issues.push({ field: `${path}.value`, message: 'is required' });
    else if (op === 'in' || op === 'nin') {
      if (!Array.isArray(o.value) || o.value.length === 0 || o.value.length > 1000) issues.push({ field: `${path}.value`, message: `must be a non-empty array (at most 1000) for ${op}` });
      else if (kind && !o.value.every(scalarOk)) issues.push({ field: `${path}.value`, message: `items must be ${kind}s` });
    } else if (op === 'eq' || op === 'ne') {
      if (kind && !scalarOk(o.value)) issues.push({ field: `${path}.value`, message: `must be a ${kind} or null` });
    } else if (typeof o.value !== 'number' || !Number.isFinite(o.value) || kind !== 'number') {
      issues.push({ field: `${path}.value`, message: kind && kind !== 'number' ? `${op} compares numbers; ${o.field as string} is a ${kind}` : `must be a number for ${op}` });
    }
    if (kind === 'string' && o.field === 'action') {
      const vals = Array.isArray(o.value) ? o.value : [o.value];
      if (!vals.every((v) => v === null || riskActions.includes(v as RiskAction))) issues.push({ field: `${path}.value`, message: `action is one of ${riskActions.join(', ')}` });
    }
    return issues;
  }
  return [{ field: path, message: 'must be one of {all}, {any}, {not}, {field, op, value}, {list}' }];
}

/** The value of a dotted field of the features (undefined when absent). */
export function readField(f: RiskFeatures, field: string): Scalar | undefined {
  const dot = field.indexOf('.');
  if (dot < 0) return (f as unknown as Record<string, Scalar | undefined>)[field];
  const group = (f as unknown as Record<string, Record<string, Scalar> | undefined>)[field.slice(0, dot)];
  return group?.[field.slice(dot + 1)];
}

export interface EvalContext {
  features: RiskFeatures;
  /** The lists this attempt is on. */
  listed: ReadonlySet<ListName>;
}

export function evaluate(c: Condition, ctx: EvalContext): boolean {
  if ('all' in c) {
    for (const x of c.all) if (!evaluate(x, ctx)) return false;
    return true;
  }
  if ('any' in c) {
    for (const x of c.any) if (evaluate(x, ctx)) return true;
    return false;
  }
  if ('not' in c) return !evaluate(c.not, ctx);
  if ('list' in c) return ctx.listed.has(c.list);
  const v = readField(ctx.features, c.field);
  const missing = v === undefined || v === null;
  switch (c.op) {
    case 'eq':
      return missing ? c.value === null : v === c.value;
    case 'ne':
      return missing ? c.value !== null : v !== c.value;
    case 'in':
      return !missing && (c.value as Scalar[]).includes(v);
    case 'nin':
      return missing || !(c.value as Scalar[]).includes(v);
    default: {
      if (typeof v !== 'number') return false;
      const n = c.value as number;
      return c.op === 'gt' ? v > n : c.op === 'gte' ? v >= n : c.op === 'lt' ? v < n : v <= n;
    }
  }
}

/**
 * A condition as a function, built once when rules are loaded: field paths are
 * split and values fixed ahead, so a decision does no parsing. Same answers as
 * `evaluate` (the unit tests check both).
 */
export function compile(c: Condition): (ctx: EvalContext) => boolean {
  if ('all' in c) {
    const parts = c.all.map(compile);
    return (ctx) => {
      for (const p of parts) if (!p(ctx)) return false;
      return true;
    };
  }
  if ('any' in c) {
    const parts = c.any.map(compile);
    return (ctx) => {
      for (const p of parts) if (p(ctx)) return true;
      return false;
    };
  }
  if ('not' in c) {
    const inner = compile(c.not);
    return (ctx) => !inner(ctx);
  }
  if ('list' in c) {
    const name = c.list;
    return (ctx) => ctx.listed.has(name);
  }
  const dot = c.field.indexOf('.');
  const group = dot < 0 ? null : c.field.slice(0, dot);
  const key = dot < 0 ? c.field : c.field.slice(dot + 1);
  const read = group === null ? (f: RiskFeatures) => (f as unknown as Record<string, Scalar | undefined>)[key] : (f: RiskFeatures) => (f as unknown as Record<string, Record<string, Scalar> | undefined>)[group]?.[key];
  const value = c.value;
  const set = Array.isArray(value) ? new Set<Scalar>(value) : null;
  const n = typeof value === 'number' ? value : NaN;
  switch (c.op) {
    case 'eq':
      return (ctx) => {
        const v = read(ctx.features);
        return v === undefined || v === null ? value === null : v === value;
      };
    case 'ne':
      return (ctx) => {
        const v = read(ctx.features);
        return v === undefined || v === null ? value !== null : v !== value;
      };
    case 'in':
      return (ctx) => {
        const v = read(ctx.features);
        return v !== undefined && v !== null && set!.has(v);
      };
    case 'nin':
      return (ctx) => {
        const v = read(ctx.features);
        return v === undefined || v === null || !set!.has(v);
      };
    case 'gt':
      return (ctx) => {
        const v = read(ctx.features);
        return typeof v === 'number' && v > n;
      };
    case 'gte':
      return (ctx) => {
        const v = read(ctx.features);
        return typeof v === 'number' && v >= n;
      };
    case 'lt':
      return (ctx) => {
        const v = read(ctx.features);
        return typeof v === 'number' && v < n;
      };
    default:
      return (ctx) => {
        const v = read(ctx.features);
        return typeof v === 'number' && v <= n;
      };
  }
}

export interface Rule {
  id: string;
  name: string;
  version: number;
  action: RuleAction;
  mode: RuleMode;
  condition: Condition;
  /** Actions the rule looks at; empty means every action. */
  appliesTo: readonly RiskAction[];
  enabled: boolean;
  /** compile(condition), when the caller built it once (the service does, on load). */
  test?: (ctx: EvalContext) => boolean;
}

export interface RuleMatch {
  rule_id: string;
  name: string;
  version: number;
  action: RuleAction;
}

export interface Verdict {
  action: RuleAction;
  /** The enforced rule that decided (none: allowed because nothing matched). */
  reasons: RuleMatch[];
  /** Shadow rules that matched: reported, never applied. */
  shadow_matches: RuleMatch[];
}

const order: Record<RuleAction, number> = { allow: 0, block: 1, review: 2, challenge: 3 };

/**
 * Sorts rules in evaluation order: allow, then block, review, challenge (as
 * Stripe Radar does); within one action, in the order given (the service
 * gives them oldest first). Done once when rules are loaded, not per decision.
 */
export function orderRules<R extends Rule>(rules: readonly R[]): R[] {
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => order[a.r.action] - order[b.r.action] || a.i - b.i)
    .map((x) => x.r);
}

const matchOf = (r: Rule): RuleMatch => ({ rule_id: r.id, name: r.name, version: r.version, action: r.action });

/** The verdict of ordered rules (orderRules) over one attempt: the first enforced match wins; every shadow rule is evaluated. */
export function decide(ordered: readonly Rule[], ctx: EvalContext): Verdict {
  let winner: Rule | undefined;
  const shadow: RuleMatch[] = [];
  const action = ctx.features.action;
  for (const r of ordered) {
    if (!r.enabled) continue;
    if (r.appliesTo.length > 0 && !r.appliesTo.includes(action)) continue;
    if (r.mode === 'enforce') {
      if (winner) continue;
      if (r.test ? r.test(ctx) : evaluate(r.condition, ctx)) winner = r;
    } else if (r.test ? r.test(ctx) : evaluate(r.condition, ctx)) shadow.push(matchOf(r));
  }
  return winner ? { action: winner.action, reasons: [matchOf(winner)], shadow_matches: shadow } : { action: 'allow', reasons: [], shadow_matches: shadow };
}
