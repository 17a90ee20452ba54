import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootTestApp, bearer, type TestApp } from '../helpers/boot.js';
import { HOUR, MINUTE, ManualClock } from '../../src/lib/clock.js';
import type { AssessInput } from '../../src/modules/risk/service.js';

/**
 * Backtests through the admin route, over decisions made by the real gate
 * (services.risk.assess) and labelled through the label route. Built-in
 * rules are not seeded, so the rules in force are the ones this file makes
 * and every figure below is a hand count. Pages of 3 rows exercise the
 * paged reads.
 */
const start = new Date(Date.UTC(2026, 5, 1, 4, 0, 0));
// Logins (which pass the gate too) happen before the period.
const clock = new ManualClock(new Date(start.getTime() - 10 * MINUTE));
let t: TestApp;
let risk: string;
let support: string;
let reviewRuleId: string;

type Label = 'fraud' | 'legit' | null;
const made: { id: string; amount: number; label: Label; ip: string }[] = [];
let n = 0;
async function decision(amountFen: number, label: Label, action: AssessInput['action'] = 'order') {
  n++;
  const ip = `203.0.113.${n}`;
  const d = await t.services.risk.assess({ action, ip, deviceId: `bt-dev-${n}`, account: { type: 'customer', id: `cus_bt${n}`, createdAt: new Date(start.getTime() - 30 * 24 * HOUR) }, amountFen, priorOrders: 2 });
  if (label) {
    const res = await t.inject({ method: 'POST', url: `/admin/risk/decisions/${d.decision_id}/label`, headers: bearer(risk), payload: { label } });
    expect(res.statusCode).toBe(200);
  }
  made.push({ id: d.decision_id, amount: amountFen, label, ip });
  clock.advance(MINUTE);
  return d;
}
const idOf = (amount: number) => made.find((m) => m.amount === amount)!.id;
const backtest = (body: object, token = risk) => t.inject({ method: 'POST', url: '/admin/risk/backtest', headers: bearer(token), payload: { from: new Date(start.getTime() - MINUTE).toISOString(), to: new Date(start.getTime() + HOUR).toISOString(), ...body } });

beforeAll(async () => {
  t = await bootTestApp({ clock, env: { RISK_SEED_RULES: 'false', RISK_BACKTEST_BATCH_SIZE: '3' } });
  risk = (await t.loginAs('risk')).token;
  support = (await t.loginAs('support')).token;
  clock.set(start);
  // In force: review orders above 9,000 yuan (nothing in the history is that large); block listed IPs.
  const rule = await t.inject({ method: 'POST', url: '/admin/risk/rules', headers: bearer(risk), payload: { name: 'very large orders', action: 'review', condition: { field: 'amountFen', op: 'gt', value: 900_000 }, applies_to: ['order'] } });
  expect(rule.statusCode).toBe(201);
  reviewRuleId = rule.json().id;
  const listRule = await t.inject({ method: 'POST', url: '/admin/risk/rules', headers: bearer(risk), payload: { name: 'block-listed IPs', action: 'block', condition: { list: 'ip' } } });
  expect(listRule.statusCode).toBe(201);

  // 9 orders: 3 fraud, 4 legit, 2 unlabelled; and 2 logins.
  await decision(200_000, 'fraud');
  await decision(300_000, 'fraud');
  await decision(50_000, 'fraud');
  await decision(250_000, 'legit');
  await decision(10_000, 'legit');
  await decision(20_000, 'legit');
  await decision(30_000, 'legit');
  await decision(400_000, null);
  await decision(5_000, null);
  await decision(0, 'legit', 'login');
  await decision(0, null, 'login');
  // Outside the period.
  clock.advance(2 * HOUR);
  await decision(700_000, 'fraud');
  // The legit 100-yuan buyer's IP is on the block list now: the replay uses the lists as they are.
  const entry = await t.inject({ method: 'POST', url: '/admin/risk/lists', headers: bearer(risk), payload: { type: 'ip', value: made.find((m) => m.amount === 10_000)!.ip, reason: 'backtest test' } });
  expect(entry.statusCode).toBe(201);
});
afterAll(() => t?.close());

describe('POST /admin/risk/backtest', () => {
  it('a new block rule: what it changes, and precision/recall as counted by hand, read in pages', async () => {
    const res = await backtest({ rule: { action: 'block', condition: { field: 'amountFen', op: 'gt', value: 100_000 } }, action: 'order' });
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r.replayed).toBe(9);
    // 9 rows in pages of 3: three full pages (the fourth read finds nothing).
    expect(r).toMatchObject({ batch_size: 3, batches: 3, action: 'order' });
    expect(r.labelled).toEqual({ fraud: 3, legit: 4 });
    expect(r.newly_blocked.count).toBe(4);
    expect([...r.newly_blocked.examples].sort()).toEqual([idOf(200_000), idOf(300_000), idOf(250_000), idOf(400_000)].sort());
    expect(r.newly_reviewed.count + r.newly_challenged.count + r.newly_allowed.count).toBe(0);
    // Flagged with the candidate: 2,000 F, 3,000 F, 2,500 L, and 100 L (its IP is listed) -> TP 2, FP 2; missed 500 F.
    expect(r.candidate).toMatchObject({ true_positives: 2, false_positives: 2, false_negatives: 1, precision: 0.5, recall: 0.6667 });
    expect([...r.candidate.false_positive_examples].sort()).toEqual([idOf(250_000), idOf(10_000)].sort());
    expect(r.candidate.false_negative_examples).toEqual([idOf(50_000)]);
    // As the rules are: only the listed legit one is flagged.
    expect(r.baseline).toMatchObject({ true_positives: 0, false_positives: 1, false_negatives: 3, precision: 0, recall: 0 });
    expect(r.lists_note).toMatch(/as they are now/);
  });

  it('every action in the period when no filter is given; decisions outside the period are not read', async () => {
    const res = await backtest({ rule: { action: 'block', condition: { field: 'amountFen', op: 'gt', value: 100_000 } } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ replayed: 11, batches: 4, labelled: { fraud: 3, legit: 5 } });
    expect(JSON.stringify(res.json())).not.toContain(idOf(700_000));
  });

  it('a change to an existing rule: a lower review threshold', async () => {
    const res = await backtest({ rule_id: reviewRuleId, change: { condition: { field: 'amountFen', op: 'gt', value: 225_000 } }, action: 'order' });
    expect(res.statusCode).toBe(200);
    const r = res.json();
    expect(r.newly_reviewed.count).toBe(3);
    expect([...r.newly_reviewed.examples].sort()).toEqual([idOf(250_000), idOf(300_000), idOf(400_000)].sort());
    expect(r.newly_blocked.count).toBe(0);
    // Flagged: 3,000 F (review), 2,500 L (review), 100 L (listed) -> TP 1, FP 2, FN 2.
    expect(r.candidate).toMatchObject({ true_positives: 1, false_positives: 2, false_negatives: 2, precision: 0.3333, recall: 0.3333 });
    expect(r.candidate_rule_hits.count).toBe(3);
    // The rule itself is unchanged: a backtest writes nothing.
    const rule = await t.inject({ method: 'GET', url: `/admin/risk/rules/${reviewRuleId}`, headers: bearer(risk) });
    expect(rule.json()).toMatchObject({ version: 1, condition: { field: 'amountFen', op: 'gt', value: 900_000 } });
  });

  it('refuses a bad candidate with the field, an empty period, and a role without risk:read', async () => {
    const bad = await backtest({ rule: { action: 'block', condition: { field: 'amountFen', op: 'zz', value: 1 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details).toContainEqual(expect.objectContaining({ field: 'rule.condition.op' }));
    const unknown = await backtest({ rule_id: 'rrl_01JZZZZZZZZZZZZZZZZZZZZZZZ', change: { mode: 'shadow' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.details).toEqual([{ field: 'rule_id', message: 'no such rule' }]);
    const none = await backtest({});
    expect(none.statusCode).toBe(400);
    expect(none.json().error.details[0].field).toBe('rule');
    const both = await backtest({ rule: { action: 'block', condition: { all: [] } }, rule_id: reviewRuleId, change: { mode: 'shadow' } });
    expect(both.statusCode).toBe(400);
    const period = await backtest({ rule: { action: 'block', condition: { all: [] } }, from: start.toISOString(), to: start.toISOString() });
    expect(period.statusCode).toBe(400);
    expect(period.json().error.details).toEqual([{ field: 'to', message: 'must be after from' }]);
    const forbidden = await backtest({ rule: { action: 'block', condition: { all: [] } } }, support);
    expect(forbidden.statusCode).toBe(403);
  });
});
