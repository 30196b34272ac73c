/**
 * Cross-validation plumbing shared by the heads that choose a hyper-parameter.
 */
import { softmaxRow } from './linear.js';
import { stratifiedKFold } from './split.js';

export interface CvOptions {
  /** Number of folds (default 5). */
  folds?: number;
  /** Seed of the fold assignment (default 42). */
  seed?: number;
  /** Rows with the same id stay in the same fold (augmented copies of one photo). */
  groups?: ArrayLike<number>;
}

/** Validation rows per fold, empty folds dropped; null when fewer than 2 folds are possible. */
export function cvFolds(y: Int32Array, options: CvOptions): number[][] | null {
  const folds = stratifiedKFold(y, options.folds ?? 5, { seed: options.seed ?? 42, groups: options.groups }).filter((f) => f.length > 0);
  return folds.length >= 2 ? folds : null;
}

export interface CvScore {
  accuracy: number;
  logLoss: number;
}

/**
 * Index of the best candidate: highest mean accuracy; among candidates within half a validation
 * row of it (accuracy is coarse on small data), the lowest log-loss.
 */
export function bestCandidate(scores: readonly CvScore[], n: number): number {
  const top = Math.max(...scores.map((s) => s.accuracy));
  let best = -1;
  scores.forEach((s, i) => {
    if (s.accuracy >= top - 0.5 / n && (best < 0 || s.logLoss < scores[best]!.logLoss)) best = i;
  });
  return best;
}

/** Mean cross-entropy of probabilities p (n×c, row-major) against labels y. */
export function logLoss(p: ArrayLike<number>, y: ArrayLike<number>, c: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.max(p[i * c + y[i]!]!, 1e-15));
  return s / y.length;
}

/** Fraction of rows whose arg-max of p matches y (ties: lower index). */
export function accuracyOf(p: ArrayLike<number>, y: ArrayLike<number>, c: number): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let k = 1; k < c; k++) if (p[i * c + k]! > p[i * c + best]!) best = k;
    if (best === y[i]) ok++;
  }
  return ok / y.length;
}

/** softmax(T·z) row by row. */
export function softmaxAt(z: Float64Array, c: number, t: number): Float64Array {
  const p = z.map((v) => v * t);
  for (let o = 0; o < p.length; o += c) softmaxRow(p, o, c, p);
  return p;
}

/** The temperature minimising the log-loss of softmax(T·z): golden-section search on log T. */
export function fitTemperature(z: Float64Array, y: Int32Array, c: number): number {
  const f = (lt: number): number => logLoss(softmaxAt(z, c, Math.exp(lt)), y, c);
  let lo = Math.log(1e-3);
  let hi = Math.log(1e4);
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = hi - phi * (hi - lo);
  let b = lo + phi * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  for (let it = 0; it < 60; it++) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = f(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}
