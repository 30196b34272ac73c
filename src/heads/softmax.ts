/**
 * The softmax head: the seed's "retrain the last layer" — Dense(C) + softmax on frozen embeddings,
 * mean cross-entropy + (λ/2)·‖W − W₀‖² (bias not penalised), fitted full-batch with L-BFGS.
 * W₀ is the calibrated shrinkage-LDA solution by default (prior 'lda'), or zero (prior 'zero',
 * classic weight decay); λ is chosen by cross-validation when not given (see linear-train.ts).
 */
import { type Matrix } from '../core/index.js';
import { accuracyOf, logLoss } from './cv.js';
import { type Objective } from './lbfgs.js';
import { type LinearHead, softmaxRow } from './linear.js';
import { linearObjective, trainLinear, type LinearLoss, type LinearOptions, type Penalty, type RowLoss } from './linear-train.js';
import { type Problem } from './reduce.js';
import { type ScalingKind } from './scaling.js';

export type SoftmaxOptions = LinearOptions;

export const DEFAULT_SOFTMAX_SCALING: ScalingKind = 'sqrt';

/** Cross-entropy of softmax(z) against yi; gradient p − onehot. */
export const crossEntropyRow: RowLoss = (z, o, c, yi, dz) => {
  let max = -Infinity;
  for (let k = 0; k < c; k++) max = Math.max(max, z[o + k]!);
  let sum = 0;
  for (let k = 0; k < c; k++) sum += Math.exp(z[o + k]! - max);
  for (let k = 0; k < c; k++) dz[o + k] = Math.exp(z[o + k]! - max) / sum - (k === yi ? 1 : 0);
  return max + Math.log(sum) - z[o + yi]!;
};

/** Mean cross-entropy + penalty and its gradient (exported for the gradient test). */
export function softmaxObjective(p: Problem, c: number, pen: Penalty): Objective {
  return linearObjective(p, c, pen, crossEntropyRow);
}

const crossEntropy: LinearLoss = {
  type: 'softmax',
  defaultScaling: DEFAULT_SOFTMAX_SCALING,
  defaultPrior: 'lda',
  rowLoss: crossEntropyRow,
  score(z, y, c) {
    const p = Float64Array.from(z);
    for (let o = 0; o < p.length; o += c) softmaxRow(p, o, c, p);
    return { accuracy: accuracyOf(p, y, c), logLoss: logLoss(p, y, c) };
  },
  finish: () => ({ scale: 1, config: {} }),
};

export function trainSoftmax(x: Matrix, labels: readonly string[], options: SoftmaxOptions = {}): LinearHead {
  return trainLinear(crossEntropy, x, labels, options);
}
