/**
 * Fitting a linear head (softmax or SVM): feature scaling, the exact row-space reduction, L-BFGS,
 * and the choice of λ by stratified k-fold cross-validation along a warm-started path.
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import { bestCandidate, cvFolds, fitTemperature, type CvOptions, type CvScore } from './cv.js';
import { checkTrainingData, encodeLabels } from './data.js';
import { lbfgs, type Objective } from './lbfgs.js';
import { accumulateTN, crossDots, rowSquaredNorms } from './linalg.js';
import { ldaWeights, type LdaWeights } from './lda.js';
import { LinearHead } from './linear.js';
import { linearProblem, type Problem } from './reduce.js';
import { applyScaling, fitScaling, type ScalingKind } from './scaling.js';

export interface LinearOptions extends CvOptions {
  /** L2 strength λ (absolute, for the scaled features). Chosen by cross-validation when absent. */
  l2?: number;
  /**
   * Candidates for λ when it is chosen, relative to the mean squared norm of the scaled rows
   * (so one grid fits every scaling): λ = r · mean‖x‖².
   */
  l2Grid?: readonly number[];
  scaling?: ScalingKind;
  /**
   * Centre of the L2 penalty: 'zero' (weight decay) or 'lda' (the shrinkage-LDA weights of the
   * same rows: a Gaussian prior around the generative solution, refined by the loss).
   */
  prior?: 'zero' | 'lda';
  /** Covariance shrinkage α of the LDA prior, in (0, 1] (default 0.5). */
  shrinkage?: number;
  /** Class order (default: sorted distinct labels). */
  classes?: readonly string[];
  /** L-BFGS iterations per fit at most (default 1000). */
  maxIterations?: number;
  /**
   * Cross-validation stops adding folds once this many validation rows are scored (default 2000),
   * so large data sets validate on fewer folds instead of paying for all of them.
   */
  cvMaxRows?: number;
}

/**
 * Half-decades; on the flowers embeddings cross-validation picks 3e-4 … 3e-6 (every scaling and
 * prior), and larger values are never close.
 */
export const DEFAULT_L2_GRID: readonly number[] = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6];
/**
 * Gradient tolerance of the fits that only score a candidate λ: 10× looser than the final fit,
 * ~40% fewer evaluations, and the same cross-validation accuracies to ±1 row on the flowers.
 */
const CV_GRADIENT_TOLERANCE = 1e-4;
/** On the flowers, LDA accuracy is flat for α in 0.5–0.7 and lower outside (3×5-fold CV). */
export const DEFAULT_SHRINKAGE = 0.5;

/**
 * (λ/2)·‖W − W₀‖²: the L2 penalty, around zero (classic weight decay) or around prior weights
 * W₀ (C×d, e.g. shrinkage LDA's). The bias is never penalised.
 */
export interface Penalty {
  lambda: number;
  center?: Float64Array;
}

/**
 * Loss of one row: logits z[o..o+c) (bias included), label yi; writes d loss / d z into
 * dz[o..o+c) and returns the loss.
 */
export type RowLoss = (z: Float64Array, o: number, c: number, yi: number, dz: Float64Array) => number;

/**
 * Mean row loss + penalty over θ = [W (C×d row-major), b (C)] on problem rows, and its gradient.
 * Logits use a float32 copy of W (one shared kernel for every caller).
 */
export function linearObjective(p: Problem, c: number, pen: Penalty, rowLoss: RowLoss): Objective {
  const { x, n, d, y, lens } = p;
  const w32 = new Float32Array(c * d);
  const u = new Float64Array(n * c);
  const z = new Float64Array(c);
  const dz = new Float64Array(c);
  const cd = c * d;
  const { lambda, center } = pen;
  return (theta, grad) => {
    for (let i = 0; i < cd; i++) w32[i] = theta[i]!;
    crossDots(x, n, w32, c, d, u, lens);
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const o = i * c;
      for (let k = 0; k < c; k++) z[k] = u[o + k]! + theta[cd + k]!;
      loss += rowLoss(z, 0, c, y[i]!, dz);
      // u becomes the weight of row i in the gradient
      for (let k = 0; k < c; k++) {
        u[o + k] = dz[k]! / n;
        grad[cd + k] += dz[k]! / n;
      }
    }
    accumulateTN(u, x, n, d, c, grad, lens);
    let reg = 0;
    for (let i = 0; i < cd; i++) {
      const delta = center ? theta[i]! - center[i]! : theta[i]!;
      reg += delta * delta;
      grad[i] += lambda * delta;
    }
    return loss / n + 0.5 * lambda * reg;
  };
}

/** What distinguishes the heads: the loss, and how logits on held-out rows are scored. */
export interface LinearLoss {
  type: 'softmax' | 'svm';
  defaultScaling: ScalingKind;
  defaultPrior: 'zero' | 'lda';
  rowLoss: RowLoss;
  /** Score out-of-fold logits (rows × C) of one λ; `extra` is kept with the candidate. */
  score(z: Float64Array, y: Int32Array, c: number): CvScore & { extra?: Record<string, number> };
  /** Final config entries from the chosen candidate's `extra` (and the fitted model). */
  finish(args: { extra: Record<string, number> | undefined; full: Problem; theta: Float64Array; c: number }): {
    scale: number;
    config: Record<string, unknown>;
  };
}

/** Logits (rows × C) of θ = [W (C×d), b (C)] on problem rows. */
export function problemLogits(theta: Float64Array, p: Problem, c: number): Float64Array {
  const { x, n, d } = p;
  const z = new Float64Array(n * c);
  crossDots(x, n, Float32Array.from(theta.subarray(0, c * d)), c, d, z, p.lens);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) z[i * c + k] += theta[c * d + k]!;
  return z;
}

export function trainLinear(loss: LinearLoss, x: Matrix, labels: readonly string[], options: LinearOptions): LinearHead {
  checkTrainingData(x, labels, options.groups);
  if (options.l2 !== undefined && !(options.l2 > 0)) throw new ConvlensError('E_USAGE', `l2 must be > 0, got ${options.l2}`);
  if (options.prior !== undefined && options.prior !== 'zero' && options.prior !== 'lda') {
    throw new ConvlensError('E_USAGE', `prior must be 'zero' or 'lda', got '${String(options.prior)}'`);
  }
  if (options.shrinkage !== undefined && !(options.shrinkage > 0 && options.shrinkage <= 1)) {
    throw new ConvlensError('E_USAGE', `shrinkage must be in (0, 1], got ${options.shrinkage}`);
  }
  const { classes, y } = encodeLabels(labels, options.classes);
  const c = classes.length;
  const { rows: n, cols: d } = x;
  const maxIterations = options.maxIterations ?? 1000;
  const scaling = fitScaling(x, options.scaling ?? loss.defaultScaling);
  // Centre the scaled rows: with the bias unpenalised this is the same model (the bias absorbs
  // the shift, folded back below) but a far better conditioned problem — pooled CNN features share
  // a large common component, and L-BFGS needs ~3× fewer iterations without it.
  const xs = Float32Array.from(applyScaling(x, scaling).data);
  const centre = columnMeans(xs, n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) xs[i * d + j] -= centre[j]!;
  const meanSq = rowSquaredNorms(xs, n, d).reduce((a, b) => a + b, 0) / n || 1;
  const problem = linearProblem(xs, n, d, y);
  const prior = options.prior ?? loss.defaultPrior;
  const alpha = options.shrinkage ?? DEFAULT_SHRINKAGE;
  const folds = cvFolds(y, options);
  const used = folds ? foldsWithin(folds, options.cvMaxRows ?? 2000) : [];

  // LDA's weights separate small training sets with a wide margin, so its raw scale is far too
  // confident (and cross-entropy at that scale has no gradient left). The prior is LDA times the
  // temperature T (softmax(T·z)) fitted on out-of-fold LDA logits: the penalty then pulls towards
  // a calibrated generative solution, and cross-entropy refines it as much as λ allows. (Too few
  // rows for cross-validation: T stays 1, and the head is essentially LDA.)
  const ldaOf = (p: Problem) => ldaWeights(p, c, alpha, d);
  let temperature = 1;
  const foldLda = new Map<number[], LdaWeights>();
  if (prior === 'lda') {
    const oof: Float64Array[] = [];
    const oofY: Int32Array[] = [];
    for (const val of used) {
      const f = problem.fold(val);
      const lda = ldaOf(f.train);
      foldLda.set(val, lda);
      oof.push(problemLogits(thetaOf(lda, c, f.train.d, 1), f.val, c));
      oofY.push(f.val.y);
    }
    if (used.length > 0) temperature = fitTemperature(concatFloat(oof), concatInt(oofY), c);
  }
  const priorOf = (p: Problem, lda?: LdaWeights): { center?: Float64Array; start: Float64Array } => {
    if (prior === 'zero') return { start: new Float64Array(c * p.d + c) };
    const start = thetaOf(lda ?? ldaOf(p), c, p.d, temperature);
    return { center: start.subarray(0, c * p.d), start };
  };
  const fit = (p: Problem, pr: { center?: Float64Array }, lambda: number, start: Float64Array, gradientTolerance = 1e-5) =>
    lbfgs(linearObjective(p, c, { lambda, center: pr.center }, loss.rowLoss), start, { maxIterations, gradientTolerance });

  const grid =
    options.l2 !== undefined ? [options.l2] : [...(options.l2Grid ?? DEFAULT_L2_GRID)].sort((a, b) => b - a).map((r) => r * meanSq);
  const info: Record<string, unknown> = {};
  let lambda = grid.length === 1 ? grid[0]! : 1e-3 * meanSq;
  let extra: Record<string, number> | undefined;
  if (folds && (grid.length > 1 || loss.type === 'svm')) {
    // out-of-fold logits per candidate, fold after fold (oofY: their labels); strongest
    // regularisation first so each fit warm-starts the next, weaker one
    const oof = grid.map(() => [] as Float64Array[]);
    const oofY: Int32Array[] = [];
    let rows = 0;
    for (const val of used) {
      const f = problem.fold(val);
      const pr = priorOf(f.train, foldLda.get(val));
      let theta = pr.start;
      grid.forEach((lam, g) => {
        theta = fit(f.train, pr, lam, theta, CV_GRADIENT_TOLERANCE).x;
        oof[g]!.push(problemLogits(theta, f.val, c));
      });
      oofY.push(f.val.y);
      rows += f.val.n;
    }
    const yAll = concatInt(oofY);
    const scores = oof.map((parts) => loss.score(concatFloat(parts), yAll, c));
    const best = bestCandidate(scores, rows);
    lambda = grid[best]!;
    extra = scores[best]!.extra;
    info['cv'] = {
      folds: folds.length,
      foldsUsed: used.length,
      rows,
      seed: options.seed ?? 42,
      candidates: grid.map((l, g) => ({ l2: l, accuracy: scores[g]!.accuracy, logLoss: scores[g]!.logLoss, ...scores[g]!.extra })),
      accuracy: scores[best]!.accuracy,
    };
  }

  const pr = priorOf(problem.full);
  const r = fit(problem.full, pr, lambda, pr.start);
  const { scale, config } = loss.finish({ extra, full: problem.full, theta: r.x, c });
  const cr = c * problem.full.d;
  const w = problem.lift(r.x.subarray(0, cr), c);
  const b = Float64Array.from(r.x.subarray(cr));
  for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) b[k] -= w[k * d + j]! * centre[j]!;
  return new LinearHead({
    type: loss.type,
    classes,
    weight: { rows: c, cols: d, data: Float32Array.from(w, (v) => v * scale) },
    bias: Float32Array.from(b, (v) => v * scale),
    scaling,
    config: { l2: lambda, prior, ...(prior === 'lda' ? { shrinkage: alpha, priorTemperature: temperature } : {}), ...config },
    fit: {
      ...info,
      n,
      iterations: r.iterations,
      converged: r.converged,
      objective: r.f,
      // the same λ as C = 1/(λn) in scikit-learn's LogisticRegression / liblinear
      C: 1 / (lambda * n),
    },
  });
}

/** Folds in order until they hold `maxRows` validation rows (all folds for small data). */
function foldsWithin(folds: number[][], maxRows: number): number[][] {
  const out: number[][] = [];
  let rows = 0;
  for (const f of folds) {
    if (rows >= maxRows) break;
    out.push(f);
    rows += f.length;
  }
  return out;
}

function concatFloat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function concatInt(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function columnMeans(x: Float32Array, n: number, d: number): Float64Array {
  const m = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m[j] += x[i * d + j]!;
  for (let j = 0; j < d; j++) m[j] /= n;
  return m;
}

/** θ = [T·W, T·b] of LDA weights, in a problem's coordinates (T multiplies logits). */
function thetaOf(lda: LdaWeights, c: number, d: number, temperature: number): Float64Array {
  const theta = new Float64Array(c * d + c);
  for (let i = 0; i < c * d; i++) theta[i] = lda.w[i]! * temperature;
  for (let k = 0; k < c; k++) theta[c * d + k] = lda.b[k]! * temperature;
  return theta;
}
