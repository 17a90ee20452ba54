import { readFileSync } from 'node:fs';
import type { RiskFeatures } from '../features.js';
import { featureCount, featureNames, writeVector } from './vector.js';

/**
 * L2-regularised logistic regression on standardised features, fitted by
 * Newton's method (IRLS): with ~40 features the Hessian is tiny, the fit
 * converges in a dozen steps and is fully deterministic.
 */

export interface ModelMetrics {
  roc_auc: number;
  pr_auc: number;
  n_train: number;
  n_test: number;
  fraud_share_train: number;
  fraud_share_test: number;
  thresholds: Array<{ threshold: number; precision: number; recall: number; false_positive_rate: number }>;
  /** Where the samples came from, e.g. "generated traffic seed=42 days=30". */
  source: string;
}

export interface RiskModel {
  version: number;
  trained_at: string;
  features: string[];
  means: number[];
  stds: number[];
  weights: number[];
  bias: number;
  metrics: ModelMetrics;
}

export interface FitOptions {
  /** L2 penalty on the (standardised) weights, not on the bias. */
  l2?: number;
  maxIterations?: number;
  tolerance?: number;
}

export interface Fit {
  means: number[];
  stds: number[];
  weights: number[];
  bias: number;
  iterations: number;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Solves A x = b for symmetric positive definite A (row-major, n x n) by Cholesky. */
function solveSpd(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (s <= 0) throw new Error('Hessian is not positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * y[k]!;
    y[i] = s / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * x[k]!;
    x[i] = s / l[i * n + i]!;
  }
  return x;
}

export function fitLogistic(samples: ReadonlyArray<{ features: RiskFeatures; label: 0 | 1 }>, options: FitOptions = {}): Fit {
  const l2 = options.l2 ?? 1;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-8;
  const n = samples.length;
  const d = featureCount;
  if (n === 0) throw new Error('no samples to train on');

  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  const row = new Float64Array(d);
  samples.forEach((s, i) => {
    writeVector(s.features, row);
    x.set(row, i * d);
    y[i] = s.label;
  });

  const means = new Array<number>(d).fill(0);
  const stds = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) means[j]! += x[i * d + j]! / n;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) stds[j]! += (x[i * d + j]! - means[j]!) ** 2 / n;
  // A constant column (std 0) stays 0 after centring; dividing by 1 keeps it harmless.
  for (let j = 0; j < d; j++) stds[j] = Math.sqrt(stds[j]!) || 1;
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = (x[i * d + j]! - means[j]!) / stds[j]!;

  // Parameters: d weights then the bias, Newton step on the penalised log-likelihood.
  const p = d + 1;
  const theta = new Float64Array(p);
  const base = y.reduce((a, b) => a + b, 0) / n;
  theta[d] = Math.log(Math.max(base, 1e-6) / Math.max(1 - base, 1e-6));
  let iterations = 0;
  let prevLoss = Infinity;
  for (; iterations < maxIterations; iterations++) {
    const grad = new Float64Array(p);
    const hess = new Float64Array(p * p);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const off = i * d;
      let z = theta[d]!;
      for (let j = 0; j < d; j++) z += theta[j]! * x[off + j]!;
      const mu = sigmoid(z);
      const yi = y[i]!;
      loss -= yi === 1 ? Math.log(Math.max(mu, 1e-300)) : Math.log(Math.max(1 - mu, 1e-300));
      const r = mu - yi;
      const w = Math.max(mu * (1 - mu), 1e-12);
      for (let j = 0; j < d; j++) {
        const xj = x[off + j]!;
        grad[j]! += r * xj;
        const wxj = w * xj;
        // Lower triangle only; mirrored below.
        for (let k = 0; k <= j; k++) hess[j * p + k]! += wxj * x[off + k]!;
        hess[d * p + j]! += wxj;
      }
      grad[d]! += r;
      hess[d * p + d]! += w;
    }
    for (let j = 0; j < d; j++) {
      loss += 0.5 * l2 * theta[j]! ** 2;
      grad[j]! += l2 * theta[j]!;
      hess[j * p + j]! += l2;
    }
    hess[d * p + d]! += 1e-9;
    for (let j = 0; j < p; j++) for (let k = j + 1; k < p; k++) hess[j * p + k] = hess[k * p + j]!;
    const step = solveSpd(hess, grad, p);
    for (let j = 0; j < p; j++) theta[j]! -= step[j]!;
    if (Math.abs(prevLoss - loss) <= tolerance * Math.max(1, Math.abs(loss))) {
      iterations++;
      break;
    }
    prevLoss = loss;
  }
  return { means, stds, weights: Array.from(theta.subarray(0, d)), bias: theta[d]!, iterations };
}

// Scoring runs on every decision: weights folded with the standardisation once per model, one shared scratch vector.
const folded = new WeakMap<RiskModel, { w: Float64Array; b: number }>();
const scratch = new Float64Array(featureCount);

function foldedOf(model: RiskModel): { w: Float64Array; b: number } {
  let f = folded.get(model);
  if (!f) {
    const w = new Float64Array(featureCount);
    let b = model.bias;
    for (let j = 0; j < featureCount; j++) {
      w[j] = model.weights[j]! / model.stds[j]!;
      b -= w[j]! * model.means[j]!;
    }
    f = { w, b };
    folded.set(model, f);
  }
  return f;
}

/** Probability-like fraud score in [0, 1]. */
export function scoreOf(model: RiskModel, features: RiskFeatures): number {
  const { w, b } = foldedOf(model);
  writeVector(features, scratch);
  let z = b;
  for (let j = 0; j < featureCount; j++) z += w[j]! * scratch[j]!;
  return sigmoid(z);
}

/** Checks a parsed model file against the feature mapping this code computes. */
export function parseModel(raw: unknown): RiskModel {
  const m = raw as Partial<RiskModel> | null;
  const isNums = (xs: unknown, len: number) => Array.isArray(xs) && xs.length === len && xs.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (!m || typeof m !== 'object') throw new Error('risk model: not an object');
  if (typeof m.version !== 'number' || typeof m.trained_at !== 'string') throw new Error('risk model: missing version or trained_at');
  if (!Array.isArray(m.features) || m.features.length !== featureNames.length || m.features.some((f, i) => f !== featureNames[i])) {
    throw new Error('risk model: its features differ from this code\'s feature vector; retrain with npm run risk:train');
  }
  const d = featureNames.length;
  if (!isNums(m.means, d) || !isNums(m.stds, d) || !isNums(m.weights, d) || typeof m.bias !== 'number' || !Number.isFinite(m.bias)) {
    throw new Error('risk model: means, stds, weights or bias malformed');
  }
  if ((m.stds as number[]).some((s) => s === 0)) throw new Error('risk model: a std is zero');
  return m as RiskModel;
}

export function loadModel(path: string): RiskModel {
  return parseModel(JSON.parse(readFileSync(path, 'utf8')));
}
