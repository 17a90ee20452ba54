import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateTraffic } from '../modules/risk/model/traffic.js';
import { replayFeatures } from '../modules/risk/model/replay.js';
import { renderReport, trainRiskModel } from '../modules/risk/model/train.js';

/**
 * `npm run risk:train [-- --seed 42 --days 30 --out models]`: generates labelled
 * traffic, replays it into features, trains on the first 80% in time, evaluates
 * on the last 20%, and writes models/risk-model-v<N>.json with its report.
 */
const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '42' },
    days: { type: 'string', default: '30' },
    out: { type: 'string', default: 'models' },
  },
});
const seed = Number(values.seed);
const days = Number(values.days);
if (!Number.isInteger(seed) || !Number.isInteger(days) || days < 2) {
  console.error('usage: npm run risk:train -- [--seed <int>] [--days <int >= 2>] [--out <dir>]');
  process.exit(2);
}
const outDir = resolve(values.out);
const started = performance.now();

const attempts = generateTraffic({ seed, days });
const byActor: Record<string, number> = {};
for (const a of attempts) byActor[a.actor] = (byActor[a.actor] ?? 0) + 1;
const samples = replayFeatures(attempts);

mkdirSync(outDir, { recursive: true });
const versions = readdirSync(outDir)
  .map((f) => /^risk-model-v(\d+)\.json$/.exec(f)?.[1])
  .filter((v): v is string => v !== undefined)
  .map(Number);
const version = Math.max(0, ...versions) + 1;

const model = trainRiskModel(samples, { version, trainedAt: new Date(), source: `generated traffic (seed ${seed}, ${days} days, ${attempts.length} attempts)` });
const command = `npm run risk:train -- --seed ${seed} --days ${days}${values.out === 'models' ? '' : ` --out ${values.out}`}`;
const jsonPath = join(outDir, `risk-model-v${version}.json`);
const reportPath = join(outDir, `risk-model-v${version}.report.md`);
writeFileSync(jsonPath, `${JSON.stringify(model, null, 2)}\n`);
writeFileSync(reportPath, renderReport(model, { command, byActor }));

const m = model.metrics;
console.log(`attempts: ${attempts.length} (${Object.entries(byActor).map(([k, v]) => `${k} ${v}`).join(', ')})`);
console.log(`train ${m.n_train} (fraud ${(m.fraud_share_train * 100).toFixed(1)}%), held-out ${m.n_test} (fraud ${(m.fraud_share_test * 100).toFixed(1)}%)`);
console.log(`held-out ROC-AUC ${m.roc_auc.toFixed(4)}, PR-AUC ${m.pr_auc.toFixed(4)}`);
for (const t of m.thresholds) {
  console.log(`  score >= ${t.threshold}: precision ${(t.precision * 100).toFixed(1)}%, recall ${(t.recall * 100).toFixed(1)}%, honest flagged ${(t.false_positive_rate * 100).toFixed(2)}%`);
}
console.log(`wrote ${jsonPath} and ${reportPath} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
