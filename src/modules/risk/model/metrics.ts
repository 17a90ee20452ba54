/**
 * Ranking quality of a score against 0/1 labels. ROC-AUC is the chance a
 * random fraud scores above a random legit attempt (ties count half);
 * PR-AUC is average precision, which stays honest when fraud is rare.
 */

function checkInputs(scores: ArrayLike<number>, labels: ArrayLike<number>): { pos: number; neg: number } {
  if (scores.length !== labels.length) throw new Error('scores and labels differ in length');
  let pos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) pos++;
  return { pos, neg: labels.length - pos };
}

/** Indices by score, highest first; ties in input order (the result does not depend on it). */
function byScoreDesc(scores: ArrayLike<number>): number[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  return idx.sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b);
}

/** Rank-based (Mann–Whitney U) ROC-AUC with average ranks for ties. NaN when one class is absent. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { pos, neg } = checkInputs(scores, labels);
  if (pos === 0 || neg === 0) return Number.NaN;
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0));
  let rankSumPos = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    const s = scores[order[i]!];
    while (j + 1 < order.length && scores[order[j + 1]!] === s) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) if (labels[order[k]!] === 1) rankSumPos += avgRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Average precision: sum over distinct thresholds of (recall gained) x
 * (precision there). Tied scores form one threshold, so the order of ties
 * cannot flatter the model. NaN when there is no positive.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const { pos } = checkInputs(scores, labels);
  if (pos === 0) return Number.NaN;
  const order = byScoreDesc(scores);
  let tp = 0;
  let seen = 0;
  let prevRecall = 0;
  let ap = 0;
  let i = 0;
  while (i < order.length) {
    const s = scores[order[i]!];
    while (i < order.length && scores[order[i]!] === s) {
      if (labels[order[i]!] === 1) tp++;
      seen++;
      i++;
    }
    const recall = tp / pos;
    ap += (recall - prevRecall) * (tp / seen);
    prevRecall = recall;
  }
  return ap;
}

export interface ThresholdMetrics {
  threshold: number;
  precision: number;
  recall: number;
  /** Share of legit attempts at or above the threshold: the honest customers a block would hit. */
  falsePositiveRate: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Flagged means score >= threshold. Precision is 1 when nothing is flagged (no false alarm was raised). */
export function atThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ThresholdMetrics {
  checkInputs(scores, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = (scores[i] ?? 0) >= threshold;
    const fraud = labels[i] === 1;
    if (flagged && fraud) tp++;
    else if (flagged) fp++;
    else if (fraud) fn++;
    else tn++;
  }
  return {
    threshold,
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? Number.NaN : tp / (tp + fn),
    falsePositiveRate: fp + tn === 0 ? Number.NaN : fp / (fp + tn),
    tp,
    fp,
    fn,
    tn,
  };
}
