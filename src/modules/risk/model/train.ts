import type { RiskFeatures } from '../features.js';
import { fitLogistic, scoreOf, type FitOptions, type ModelMetrics, type RiskModel } from './logistic.js';
import { atThreshold, averagePrecision, rocAuc } from './metrics.js';
import { featureNames } from './vector.js';

/**
 * Training from any labelled source: generated traffic today, reviewed
 * decisions from the database later. Samples must be in time order.
 */
export interface LabelledSample {
  features: RiskFeatures;
  label: 0 | 1;
}

export const reportThresholds = [0.5, 0.7, 0.9];

/**
 * Train on the earliest share, test on the rest. A random split would put
 * attempts from the same burst or farm on both sides, and the counters of a
 * test attempt would describe traffic the model already saw: the held-out
 * figure would be the future leaking into the past, not a forecast.
 */
export function splitByTime<T>(samples: readonly T[], trainShare = 0.8): { train: T[]; test: T[] } {
  const cut = Math.floor(samples.length * trainShare);
  return { train: samples.slice(0, cut), test: samples.slice(cut) };
}

export function evaluate(model: RiskModel, samples: readonly LabelledSample[]): Pick<ModelMetrics, 'roc_auc' | 'pr_auc' | 'thresholds'> {
  const scores = new Float64Array(samples.length);
  const labels = new Uint8Array(samples.length);
  samples.forEach((s, i) => {
    scores[i] = scoreOf(model, s.features);
    labels[i] = s.label;
  });
  return {
    roc_auc: rocAuc(scores, labels),
    pr_auc: averagePrecision(scores, labels),
    thresholds: reportThresholds.map((t) => {
      const m = atThreshold(scores, labels, t);
      return { threshold: t, precision: m.precision, recall: m.recall, false_positive_rate: m.falsePositiveRate };
    }),
  };
}

const share = (xs: readonly LabelledSample[]) => (xs.length === 0 ? 0 : xs.filter((s) => s.label === 1).length / xs.length);

export interface TrainOptions extends FitOptions {
  version: number;
  trainedAt: Date;
  source: string;
  trainShare?: number;
}

export function trainRiskModel(samples: readonly LabelledSample[], options: TrainOptions): RiskModel {
  const { train, test } = splitByTime(samples, options.trainShare ?? 0.8);
  if (!train.some((s) => s.label === 1) || !train.some((s) => s.label === 0)) throw new Error('training split needs both labels');
  const fit = fitLogistic(train, options);
  const model: RiskModel = {
    version: options.version,
    trained_at: options.trainedAt.toISOString(),
    features: [...featureNames],
    means: fit.means,
    stds: fit.stds,
    weights: fit.weights,
    bias: fit.bias,
    metrics: {
      roc_auc: Number.NaN,
      pr_auc: Number.NaN,
      n_train: train.length,
      n_test: test.length,
      fraud_share_train: share(train),
      fraud_share_test: share(test),
      thresholds: [],
      source: options.source,
    },
  };
  Object.assign(model.metrics, evaluate(model, test));
  return model;
}

/** Weights by size; they are per standard deviation of the feature, so comparable. */
export function topWeights(model: RiskModel, n = 10): Array<{ feature: string; weight: number }> {
  return model.features
    .map((feature, i) => ({ feature, weight: model.weights[i] ?? 0 }))
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.feature.localeCompare(b.feature))
    .slice(0, n);
}

export function renderReport(model: RiskModel, extra: { command: string; byActor?: Record<string, number> }): string {
  const m = model.metrics;
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    `# Risk model v${model.version}`,
    '',
    `Trained ${model.trained_at} on ${m.source}. Logistic regression (L2, Newton/IRLS) over ${model.features.length} features.`,
    '',
    '## Held-out evaluation',
    '',
    'Split by time: trained on the first 80% of attempts, evaluated on the last 20%, so no counter or campaign from the future leaks into training.',
    '',
    '| metric | value |',
    '| --- | --- |',
    `| ROC-AUC | ${m.roc_auc.toFixed(4)} |`,
    `| PR-AUC (average precision) | ${m.pr_auc.toFixed(4)} |`,
    `| train attempts | ${m.n_train} (fraud ${pct(m.fraud_share_train)}) |`,
    `| test attempts | ${m.n_test} (fraud ${pct(m.fraud_share_test)}) |`,
    '',
    '| threshold | precision | recall | honest flagged (FPR) |',
    '| --- | --- | --- | --- |',
    ...m.thresholds.map((t) => `| ${t.threshold} | ${pct(t.precision)} | ${pct(t.recall)} | ${pct(t.false_positive_rate)} |`),
    '',
  ];
  if (extra.byActor) {
    lines.push('## Attempts by population (whole stream)', '', '| population | attempts |', '| --- | --- |');
    for (const [actor, count] of Object.entries(extra.byActor)) lines.push(`| ${actor} | ${count} |`);
    lines.push('');
  }
  lines.push(
    '## Top weights (per standard deviation; positive = more likely fraud)',
    '',
    '| feature | weight |',
    '| --- | --- |',
    ...topWeights(model, 12).map((w) => `| ${w.feature} | ${w.weight >= 0 ? '+' : ''}${w.weight.toFixed(3)} |`),
    '',
    '## Reproduce',
    '',
    '```',
    extra.command,
    '```',
    '',
    'The same seed and days give the same traffic and the same weights; only trained_at and the version number change.',
    '',
  );
  return lines.join('\n');
}
