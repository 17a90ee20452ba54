import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actors, generateTraffic, type Attempt, type AttemptInput } from '../../src/modules/risk/model/traffic.js';
import { FeatureReplayer, replayFeatures } from '../../src/modules/risk/model/replay.js';
import { loadModel, parseModel, scoreOf, type RiskModel } from '../../src/modules/risk/model/logistic.js';
import { evaluate, renderReport, splitByTime, trainRiskModel } from '../../src/modules/risk/model/train.js';
import { featureCount, featureNames } from '../../src/modules/risk/model/vector.js';

// Smaller than the CLI's 30 days x 3000 buyers, so the file runs in seconds.
const small = { seed: 7, days: 10, honestUsers: 800 };

describe('traffic generator', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = generateTraffic({ ...small, days: 3 });
    const b = generateTraffic({ ...small, days: 3 });
    const c = generateTraffic({ ...small, days: 3, seed: 8 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
  });

  it('produces every population, labelled, in time order, inside the simulated days', () => {
    const start = new Date('2026-03-01T00:00:00+08:00');
    const stream = generateTraffic({ ...small, start });
    const byActor = new Map<string, Attempt[]>();
    for (const a of stream) {
      const list = byActor.get(a.actor) ?? [];
      list.push(a);
      byActor.set(a.actor, list);
    }
    for (const actor of actors) expect(byActor.get(actor)?.length ?? 0, actor).toBeGreaterThan(0);
    expect(stream.every((a) => a.label === (a.actor === 'honest' ? 'legit' : 'fraud'))).toBe(true);
    for (let i = 1; i < stream.length; i++) expect(stream[i]!.at.getTime()).toBeGreaterThanOrEqual(stream[i - 1]!.at.getTime());
    expect(stream[0]!.at.getTime()).toBeGreaterThanOrEqual(start.getTime());
    expect(stream.at(-1)!.at.getTime()).toBeLessThan(start.getTime() + 10 * 86_400_000);

    // The populations look like themselves.
    const stuffing = byActor.get('stuffer')!;
    expect(stuffing.every((a) => a.input.action === 'login')).toBe(true);
    expect(stuffing.filter((a) => a.input.success === false).length / stuffing.length).toBeGreaterThan(0.9);
    const farm = byActor.get('farm')!;
    expect(farm.filter((a) => a.input.action === 'coupon_claim').every((a) => a.input.couponValueFen === 2000)).toBe(true);
    const scanner = byActor.get('scanner')!;
    expect(scanner.every((a) => a.input.action === 'order')).toBe(true);
    // Honest noise: some honest buyers send no device, some register and claim coupons too.
    const honest = byActor.get('honest')!;
    expect(honest.some((a) => a.input.deviceId === undefined)).toBe(true);
    expect(honest.some((a) => a.input.action === 'register')).toBe(true);
    expect(honest.some((a) => a.input.action === 'login' && a.input.success === false)).toBe(true);
  });
});

describe('trained model', () => {
  let model: RiskModel;
  let dir: string;

  beforeAll(() => {
    const samples = replayFeatures(generateTraffic(small));
    model = trainRiskModel(samples, { version: 1, trainedAt: new Date('2026-03-12T00:00:00Z'), source: 'test' });
    dir = mkdtempSync(join(tmpdir(), 'kq-risk-model-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ranks the held-out (later) traffic well: ROC-AUC >= 0.9', () => {
    expect(model.metrics.n_test).toBeGreaterThan(1000);
    expect(model.metrics.fraud_share_test).toBeGreaterThan(0.02);
    expect(model.metrics.roc_auc).toBeGreaterThanOrEqual(0.9);
    expect(model.metrics.pr_auc).toBeGreaterThan(0.7);
    expect(model.features).toEqual(featureNames);
    expect(model.weights).toHaveLength(featureCount);
  });

  it('evaluates on traffic of another seed too (not memorised)', () => {
    const other = replayFeatures(generateTraffic({ ...small, seed: 99 }));
    const { test } = splitByTime(other);
    expect(evaluate(model, test).roc_auc).toBeGreaterThanOrEqual(0.9);
  });

  it('scores a fresh honest order lower than a scanner burst', () => {
    const r = new FeatureReplayer();
    const t0 = new Date('2026-04-01T20:00:00+08:00').getTime();
    const honest: AttemptInput = {
      action: 'order', ip: '116.20.30.40', deviceId: 'phone-1', accountId: 'buyer', accountCreatedAt: new Date(t0 - 200 * 86_400_000),
      amountFen: 3000, couponValueFen: 0, skuId: 'sku_3', success: true,
    };
    const honestScore = scoreOf(model, r.next(new Date(t0), honest));
    let burstScore = 0;
    for (let i = 0; i < 120; i++) {
      burstScore = scoreOf(model, r.next(new Date(t0 + 60_000 + i * 1500), {
        action: 'order', ip: `47.100.8.${10 + (i % 40)}`, accountId: `bot${i % 4}`, accountCreatedAt: new Date(t0 - 30 * 86_400_000),
        amountFen: 100_000, couponValueFen: 0, skuId: 'sku_hot', success: true,
      }));
    }
    expect(honestScore).toBeLessThan(0.3);
    expect(burstScore).toBeGreaterThan(0.7);
    expect(burstScore).toBeGreaterThan(honestScore);
  });

  it('round-trips through the model file and scores the same', () => {
    const path = join(dir, 'risk-model-v1.json');
    writeFileSync(path, JSON.stringify(model, null, 2));
    const loaded = loadModel(path);
    expect(loaded).toEqual(model);
    const sample = replayFeatures(generateTraffic({ ...small, days: 2 })).slice(0, 200);
    for (const s of sample) expect(scoreOf(loaded, s.features)).toBeCloseTo(scoreOf(model, s.features), 12);
    for (const s of sample) {
      const p = scoreOf(loaded, s.features);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(1);
    }
    expect(renderReport(model, { command: 'npm run risk:train' })).toContain(`ROC-AUC | ${model.metrics.roc_auc.toFixed(4)}`);
  });

  it('refuses a model file whose features differ from the code, or with broken numbers', () => {
    expect(() => parseModel({ ...model, features: [...model.features].reverse() })).toThrow(/features differ/);
    expect(() => parseModel({ ...model, weights: model.weights.slice(1) })).toThrow(/malformed/);
    expect(() => parseModel({ ...model, bias: Number.NaN })).toThrow(/malformed/);
    expect(() => parseModel({ ...model, stds: model.stds.map(() => 0) })).toThrow(/zero/);
    expect(() => parseModel(null)).toThrow(/not an object/);
  });
});
