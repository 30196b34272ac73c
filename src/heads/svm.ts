/**
 * Linear one-vs-rest SVM: per class, mean squared hinge loss + (λ/2)‖w‖² (bias not penalised;
 * liblinear's L2-loss SVM with C = 1/(λn)), fitted in the primal with L-BFGS like the softmax head
 * and sharing its λ search (and, on request, its LDA prior). Probabilities are softmax(T · decision values) with the temperature T
 * fitted on out-of-fold decision values and folded into the weights, so the result is a plain
 * linear head (same predict, same ONNX export).
 */
import { type Matrix } from '../core/index.js';
import { accuracyOf, fitTemperature, logLoss, softmaxAt } from './cv.js';
import { type Objective } from './lbfgs.js';
import { type LinearHead } from './linear.js';
import {
  linearObjective,
  problemLogits,
  trainLinear,
  type LinearLoss,
  type LinearOptions,
  type Penalty,
  type RowLoss,
} from './linear-train.js';
import { type Problem } from './reduce.js';
import { type ScalingKind } from './scaling.js';

export type SvmOptions = LinearOptions;

export const DEFAULT_SVM_SCALING: ScalingKind = 'sqrt';

/** One-vs-rest squared hinge: Σ_k max(0, 1 − y_k·z_k)², y_k = +1 for the row's class, −1 otherwise. */
export const squaredHingeRow: RowLoss = (z, o, c, yi, dz) => {
  let loss = 0;
  for (let k = 0; k < c; k++) {
    const yk = k === yi ? 1 : -1;
    const slack = 1 - yk * z[o + k]!;
    if (slack > 0) {
      loss += slack * slack;
      dz[o + k] = -2 * yk * slack;
    } else {
      dz[o + k] = 0;
    }
  }
  return loss;
};

/** Mean squared hinge + penalty and its gradient (exported for the gradient test). */
export function svmObjective(p: Problem, c: number, pen: Penalty): Objective {
  return linearObjective(p, c, pen, squaredHingeRow);
}

const squaredHinge: LinearLoss = {
  type: 'svm',
  defaultScaling: DEFAULT_SVM_SCALING,
  defaultPrior: 'zero',
  rowLoss: squaredHingeRow,
  score(z, y, c) {
    const temperature = fitTemperature(z, y, c);
    return { accuracy: accuracyOf(z, y, c), logLoss: logLoss(softmaxAt(z, c, temperature), y, c), extra: { temperature } };
  },
  finish({ extra, full, theta, c }) {
    // without cross-validation (tiny data) the temperature can only come from the training rows
    const temperature = extra?.['temperature'] ?? fitTemperature(problemLogits(theta, full, c), full.y, c);
    return { scale: temperature, config: { loss: 'squared-hinge', temperature } };
  },
};

export function trainSvm(x: Matrix, labels: readonly string[], options: SvmOptions = {}): LinearHead {
  return trainLinear(squaredHinge, x, labels, options);
}
