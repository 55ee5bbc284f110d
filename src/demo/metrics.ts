/**
 * Evaluation metrics for a binary classifier that outputs probabilities.
 */

/** Metrics at one decision threshold plus the threshold-free ROC AUC. */
export interface ClassificationMetrics {
  /** Rows evaluated. */
  readonly samples: number;
  /** Share of positive rows. */
  readonly positiveRate: number;
  /** Decision threshold the counts below use. */
  readonly threshold: number;
  readonly accuracy: number;
  /** TP / (TP + FP); 0 when nothing is predicted positive. */
  readonly precision: number;
  /** TP / (TP + FN); 0 when there are no positives. */
  readonly recall: number;
  /** Area under the ROC curve. */
  readonly auc: number;
  /** Mean negative log-likelihood (natural log). */
  readonly logLoss: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
}

/**
 * ROC AUC via the rank-sum (Mann–Whitney) formulation: the probability that a
 * random positive scores higher than a random negative, ties counting half.
 * Tied scores share their average rank, which keeps the result exact when a
 * model emits many identical probabilities. Returns NaN without both classes.
 */
export function rocAuc(scores: readonly number[], labels: readonly boolean[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] ?? 0) - (scores[b] ?? 0));
  let positives = 0;
  let positiveRankSum = 0;
  let i = 0;
  while (i < order.length) {
    let j = i;
    const score = scores[order[i] ?? 0];
    while (j + 1 < order.length && scores[order[j + 1] ?? 0] === score) j += 1;
    // Ranks are 1-based; rows i..j share the average of ranks i+1..j+1.
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k += 1) {
      if (labels[order[k] ?? 0]) {
        positives += 1;
        positiveRankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Computes `ClassificationMetrics` for probabilities against labels. */
export function evaluate(
  probabilities: readonly number[],
  labels: readonly boolean[],
  threshold = 0.5,
): ClassificationMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let logLoss = 0;
  // Clamp so that a confidently wrong prediction costs a lot, not Infinity.
  const eps = 1e-15;
  probabilities.forEach((p, i) => {
    const actual = labels[i] === true;
    const predicted = p >= threshold;
    if (predicted && actual) tp += 1;
    else if (predicted) fp += 1;
    else if (actual) fn += 1;
    else tn += 1;
    const clamped = Math.min(1 - eps, Math.max(eps, p));
    logLoss -= actual ? Math.log(clamped) : Math.log(1 - clamped);
  });
  const n = probabilities.length;
  return {
    samples: n,
    positiveRate: n === 0 ? 0 : (tp + fn) / n,
    threshold,
    accuracy: n === 0 ? 0 : (tp + tn) / n,
    precision: tp + fp === 0 ? 0 : tp / (tp + fp),
    recall: tp + fn === 0 ? 0 : tp / (tp + fn),
    auc: rocAuc(probabilities, labels),
    logLoss: n === 0 ? 0 : logLoss / n,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
  };
}
