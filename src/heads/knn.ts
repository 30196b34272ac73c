/**
 * k-nearest-neighbour head: keeps its training embeddings; a query's class probabilities are the
 * distance-weighted votes (weight 1/distance) of its k nearest training rows, normalised to sum 1.
 * Rows are scaled first (default: signed square root, which on the flowers embeddings lifts
 * cosine k-NN by 1-2 points). k is chosen by stratified k-fold cross-validation when not given,
 * and so is the metric when `metric` is 'auto'.
 */
import { ConvlensError, matrix, Random, type Matrix } from '../core/index.js';
import { accuracyOf, bestCandidate, cvFolds, logLoss, type CvOptions, type CvScore } from './cv.js';
import { checkTrainingData, encodeLabels } from './data.js';
import { crossDots, gatherRows, rowSquaredNorms } from './linalg.js';
import { applyScaling, fitScaling, l2Rows, scalingFromState, scalingState, type Scaling, type ScalingKind } from './scaling.js';
import { BaseHead, type HeadState } from './types.js';

export type KnnMetric = 'cosine' | 'euclidean';
export const KNN_METRICS: readonly KnnMetric[] = ['cosine', 'euclidean'];
export const DEFAULT_KNN_SCALING: ScalingKind = 'sqrt';
export const DEFAULT_K_GRID: readonly number[] = [1, 3, 5, 7, 9, 11, 15, 21, 31];

export interface KnnOptions extends CvOptions {
  k?: number;
  /** Default 'cosine'; 'auto' chooses it by cross-validation together with k. */
  metric?: KnnMetric | 'auto';
  scaling?: ScalingKind;
  kGrid?: readonly number[];
  classes?: readonly string[];
  /**
   * At most this many validation rows (all folds together, a seeded sample of each fold) are
   * scored while choosing k: the cost is queries × training rows × dim (default 1000; 10k
   * training rows then take ~10 s).
   */
  cvMaxRows?: number;
}

/** Rows of query blocks: bounds the distance buffer to block × training rows doubles. */
const BLOCK = 128;
/** Floor on distances so an exact duplicate gets a huge but finite vote. */
const MIN_DISTANCE = 1e-12;

export class KnnHead extends BaseHead {
  readonly type = 'knn' as const;
  readonly classes: readonly string[];
  readonly dim: number;
  readonly k: number;
  readonly metric: KnnMetric;
  readonly scaling: Scaling;
  /** Training rows as searched: scaled, then L2-normalised for cosine. */
  readonly train: Matrix;
  readonly y: Int32Array;
  private readonly trainSq: Float64Array;
  private readonly fit: Record<string, unknown>;

  constructor(args: {
    classes: readonly string[];
    k: number;
    metric: KnnMetric;
    scaling: Scaling;
    train: Matrix;
    y: Int32Array;
    fit: Record<string, unknown>;
  }) {
    super();
    this.classes = [...args.classes];
    this.dim = args.train.cols;
    this.k = args.k;
    this.metric = args.metric;
    this.scaling = args.scaling;
    this.train = args.train;
    this.y = args.y;
    this.trainSq = rowSquaredNorms(args.train.data, args.train.rows, args.train.cols);
    this.fit = args.fit;
  }

  predictProba(x: Matrix): Matrix {
    this.checkInput(x);
    const c = this.classes.length;
    const xs = applyScaling(x, this.scaling);
    const q = this.metric === 'cosine' ? l2Rows(xs) : xs;
    const qSq = rowSquaredNorms(q.data, q.rows, q.cols);
    const out = new Float32Array(x.rows * c);
    const n = this.train.rows;
    const d = this.dim;
    const k = Math.min(this.k, n);
    const dots = new Float64Array(Math.min(BLOCK, x.rows) * n);
    const nbr = new Int32Array(k);
    const dist = new Float64Array(k);
    const votes = new Float64Array(c);
    for (let b0 = 0; b0 < x.rows; b0 += BLOCK) {
      const rows = Math.min(BLOCK, x.rows - b0);
      crossDots(q.data.subarray(b0 * d, (b0 + rows) * d), rows, this.train.data, n, d, dots);
      for (let r = 0; r < rows; r++) {
        const row = dots.subarray(r * n, (r + 1) * n);
        toDistances(row, this.metric, qSq[b0 + r]!, this.trainSq);
        nearest(row, k, nbr, dist);
        vote(nbr, dist, k, this.y, votes);
        out.set(votes, (b0 + r) * c);
      }
    }
    return matrix(x.rows, c, out);
  }

  state(): HeadState {
    const sc = scalingState(this.scaling);
    return {
      type: 'knn',
      classes: [...this.classes],
      dim: this.dim,
      config: { k: this.k, metric: this.metric, scaling: sc.json },
      fit: this.fit,
      arrays: { train: this.train, labels: matrix(this.y.length, 1, Float32Array.from(this.y)), ...sc.arrays },
    };
  }

  static fromState(s: HeadState): KnnHead {
    const { k, metric, scaling } = s.config as { k?: unknown; metric?: unknown; scaling?: unknown };
    if (!Number.isInteger(k) || (k as number) < 1)
      throw new ConvlensError('E_BAD_INPUT', `knn head: k must be a positive integer, got ${JSON.stringify(k)}`);
    if (!KNN_METRICS.includes(metric as KnnMetric))
      throw new ConvlensError('E_BAD_INPUT', `knn head: unknown metric ${JSON.stringify(metric)}`);
    const train = s.arrays['train'];
    const labels = s.arrays['labels'];
    if (!train || train.cols !== s.dim || train.rows === 0) throw new ConvlensError('E_BAD_INPUT', `knn head: 'train' must be N×${s.dim}`);
    if (!labels || labels.rows * labels.cols !== train.rows)
      throw new ConvlensError('E_BAD_INPUT', `knn head: 'labels' must have ${train.rows} values`);
    const y = Int32Array.from(labels.data);
    y.forEach((v, i) => {
      if (v < 0 || v >= s.classes.length || v !== labels.data[i])
        throw new ConvlensError('E_BAD_INPUT', `knn head: label ${labels.data[i]} of row ${i} is not a class index`);
    });
    return new KnnHead({
      classes: s.classes,
      k: k as number,
      metric: metric as KnnMetric,
      scaling: scalingFromState(scaling, s.arrays, s.dim),
      train,
      y,
      fit: s.fit,
    });
  }
}

/** Dot products → distances in place: cosine 1 − cos (rows pre-normalised), Euclidean ‖a − b‖. */
function toDistances(row: Float64Array, metric: KnnMetric, qSq: number, trainSq: Float64Array): void {
  if (metric === 'cosine') {
    for (let j = 0; j < row.length; j++) row[j] = 1 - row[j]!;
  } else {
    for (let j = 0; j < row.length; j++) row[j] = Math.sqrt(Math.max(0, qSq + trainSq[j]! - 2 * row[j]!));
  }
}

/** The k smallest distances (ties: lower index first) into nbr/dist, ascending. */
function nearest(row: Float64Array, k: number, nbr: Int32Array, dist: Float64Array): void {
  let filled = 0;
  for (let j = 0; j < row.length; j++) {
    const v = row[j]!;
    if (filled === k && v >= dist[k - 1]!) continue;
    let p = filled < k ? filled++ : k - 1;
    while (p > 0 && dist[p - 1]! > v) {
      dist[p] = dist[p - 1]!;
      nbr[p] = nbr[p - 1]!;
      p--;
    }
    dist[p] = v;
    nbr[p] = j;
  }
}

/** Normalised 1/distance votes of the first k neighbours. */
function vote(nbr: Int32Array, dist: Float64Array, k: number, y: Int32Array, votes: Float64Array): void {
  votes.fill(0);
  let total = 0;
  for (let t = 0; t < k; t++) {
    const w = 1 / Math.max(dist[t]!, MIN_DISTANCE);
    votes[y[nbr[t]!]!] += w;
    total += w;
  }
  for (let i = 0; i < votes.length; i++) votes[i] /= total;
}

export function trainKnn(x: Matrix, labels: readonly string[], options: KnnOptions = {}): KnnHead {
  checkTrainingData(x, labels, options.groups);
  const { classes, y } = encodeLabels(labels, options.classes);
  if (options.k !== undefined && !(Number.isInteger(options.k) && options.k >= 1)) {
    throw new ConvlensError('E_USAGE', `k must be a positive integer, got ${options.k}`);
  }
  const requested = options.metric ?? 'cosine';
  if (requested !== 'auto' && !KNN_METRICS.includes(requested)) {
    throw new ConvlensError('E_USAGE', `unknown k-NN metric '${requested}' (known: ${KNN_METRICS.join(', ')}, auto)`);
  }
  const scaling = fitScaling(x, options.scaling ?? DEFAULT_KNN_SCALING);
  const xs = applyScaling(x, scaling);
  let k = options.k;
  let metric = requested === 'auto' ? undefined : requested;
  const fit: Record<string, unknown> = { n: x.rows };
  const folds = k === undefined || metric === undefined ? cvFolds(y, options) : null;
  if (folds) {
    const metrics = metric ? [metric] : [...KNN_METRICS];
    const minTrain = x.rows - Math.max(...folds.map((f) => f.length));
    const ks = k !== undefined ? [k] : [...new Set(options.kGrid ?? DEFAULT_K_GRID)].filter((v) => v <= minTrain).sort((a, b) => a - b);
    if (ks.length === 0) ks.push(1);
    const scores = crossValidate(xs, y, classes.length, folds, metrics, ks, options);
    const best = bestCandidate(
      scores.map((s) => s.score),
      scores[0]!.queries,
    );
    k = scores[best]!.k;
    metric = scores[best]!.metric;
    fit['cv'] = {
      folds: folds.length,
      seed: options.seed ?? 42,
      queries: scores[0]!.queries,
      candidates: scores.map((s) => ({ metric: s.metric, k: s.k, accuracy: s.score.accuracy, logLoss: s.score.logLoss })),
      accuracy: scores[best]!.score.accuracy,
    };
  }
  // no cross-validation possible (too few rows): the common defaults
  k ??= Math.min(5, x.rows);
  metric ??= 'cosine';
  const train = metric === 'cosine' ? l2Rows(xs) : xs === x ? matrix(x.rows, x.cols, Float32Array.from(x.data)) : xs;
  return new KnnHead({ classes, k, metric, scaling, train, y, fit });
}

interface KnnCandidate {
  metric: KnnMetric;
  k: number;
  score: CvScore;
  queries: number;
}

/**
 * Score every (metric, k) on the folds. One dot-product pass per fold serves all candidates:
 * cosine and Euclidean distances both follow from the dots and the row norms.
 */
function crossValidate(
  x: Matrix,
  y: Int32Array,
  c: number,
  folds: number[][],
  metrics: KnnMetric[],
  ks: number[],
  options: KnnOptions,
): KnnCandidate[] {
  const { rows: n, cols: d } = x;
  const sq = rowSquaredNorms(x.data, n, d);
  const maxQ = options.cvMaxRows ?? 1000;
  const rng = new Random(options.seed ?? 42);
  const kMax = ks[ks.length - 1]!;
  const cand = metrics.flatMap((metric) => ks.map((k) => ({ metric, k, acc: 0, ll: 0 })));
  let queries = 0;
  for (const fold of folds) {
    // a seeded subsample of each validation fold when the data are large; folds are stratified,
    // so a uniform sample of a fold stays close to stratified
    const val =
      fold.length * folds.length > maxQ
        ? rng
            .shuffle([...fold])
            .slice(0, Math.max(1, Math.floor(maxQ / folds.length)))
            .sort((a, b) => a - b)
        : fold;
    const inFold = new Uint8Array(n);
    for (const i of fold) inFold[i] = 1;
    const tr: number[] = [];
    for (let i = 0; i < n; i++) if (!inFold[i]) tr.push(i);
    const xTr = gatherRows(x.data, d, tr);
    const yTr = Int32Array.from(tr, (i) => y[i]!);
    const trSq = Float64Array.from(tr, (i) => sq[i]!);
    const kk = Math.min(kMax, tr.length);
    const nbr = new Int32Array(kk);
    const dist = new Float64Array(kk);
    const votes = new Float64Array(c);
    const dots = new Float64Array(Math.min(BLOCK, val.length) * tr.length);
    const row = new Float64Array(tr.length);
    const probs = cand.map(() => new Float64Array(val.length * c));
    for (let b0 = 0; b0 < val.length; b0 += BLOCK) {
      const rows = Math.min(BLOCK, val.length - b0);
      const xq = gatherRows(x.data, d, val.slice(b0, b0 + rows));
      crossDots(xq, rows, xTr, tr.length, d, dots);
      for (let r = 0; r < rows; r++) {
        const qi = val[b0 + r]!;
        let ci = 0;
        for (const metric of metrics) {
          for (let j = 0; j < tr.length; j++) {
            const dot = dots[r * tr.length + j]!;
            row[j] =
              metric === 'cosine' ? 1 - dot / Math.sqrt(sq[qi]! * trSq[j]! || 1) : Math.sqrt(Math.max(0, sq[qi]! + trSq[j]! - 2 * dot));
          }
          nearest(row, kk, nbr, dist);
          for (const k of ks) {
            vote(nbr, dist, Math.min(k, kk), yTr, votes);
            probs[ci++]!.set(votes, (b0 + r) * c);
          }
        }
      }
    }
    const yVa = Int32Array.from(val, (i) => y[i]!);
    cand.forEach((cd, i) => {
      cd.acc += accuracyOf(probs[i]!, yVa, c) * val.length;
      cd.ll += logLoss(probs[i]!, yVa, c) * val.length;
    });
    queries += val.length;
  }
  return cand.map((cd) => ({ metric: cd.metric, k: cd.k, score: { accuracy: cd.acc / queries, logLoss: cd.ll / queries }, queries }));
}
