import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Logger } from '../../lib/logger.js';
import type { RiskFeatures } from './features.js';
import { loadModel, scoreOf } from './model/logistic.js';

/**
 * The learned score for the gate (`deps.score` of createRiskService), from the
 * model file `npm run risk:train` writes. No file, or one this code cannot
 * read, means rules run without a score (rules on `score` then never match);
 * said once in the log, never an error at start.
 */
export function modelScore(path: string, logger: Logger): ((f: RiskFeatures) => number) | undefined {
  const file = isAbsolute(path) ? path : resolve(process.cwd(), path);
  if (!existsSync(file)) {
    logger.warn({ path: file }, 'risk model file not found; the gate runs without a learned score');
    return undefined;
  }
  try {
    const model = loadModel(file);
    logger.info({ path: file, version: model.version, trained_at: model.trained_at }, 'risk model loaded');
    return (f) => scoreOf(model, f);
  } catch (err) {
    logger.error({ err, path: file }, 'risk model unreadable; the gate runs without a learned score');
    return undefined;
  }
}
