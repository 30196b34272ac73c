/**
 * Barnes-Hut t-SNE (van der Maaten 2014) with scikit-learn ≥ 1.2 defaults, in TypeScript.
 *
 * Pipeline: PCA to 50 dimensions (when the data is wider) → exact kNN (k = 3·perplexity + 1) →
 * per-point perplexity calibration → symmetric sparse P → PCA initialisation scaled to
 * std(first column) = 1e-4 → gradient descent as sklearn's _gradient_descent: early exaggeration 12
 * with momentum 0.5 for 250 iterations, then momentum 0.8 (update and gains restart at the switch,
 * as sklearn's second call does), learning rate max(N / 12 / 4, 50), gains +0.2 / ×0.8 floored at
 * 0.01, the error checked every 50 iterations (stop after 300 without progress or when the gradient
 * norm falls below 1e-7), 1000 iterations in all, θ = 0.5, one degree of freedom.
 *
 * The KL divergence reported is sklearn's Barnes-Hut estimate: Σ p_ij log(p_ij / (q_ij / Z)) over the
 * non-zero P entries, with Z = Σ (1 + d²)⁻¹ from the same tree pass as the gradient (so, as in
 * sklearn, an estimate rather than the exact KL; within 1% of it in the tests).
 *
 * Where it differs from sklearn, for speed: the repulsion uses grouped Barnes-Hut (one tree walk per
 * group of nearby points, criterion met by every point of the group: at least as accurate as
 * sklearn's per-point walk at the same θ); the 50-d reduction uses 2 power iterations (pca.ts,
 * REDUCTION); kNN, PCA passes and gradient run on two threads for large N, with results identical
 * to one thread.
 *
 * API in the spirit of umap-js: new TSNE(opts), fit(m), fitAsync(m, onProgress), or
 * initializeFit(m) then step() until it returns nIter.
 */
import { ConvlensError, Random, matrix, type Matrix } from '../core/index.js';
import { conditionalProbabilities, jointProbabilities } from './affinities.js';
import { GradientEngine } from './gradient.js';
import { exactKnnSteps } from './knn.js';
import { REDUCTION, pcaSteps } from './pca.js';
import { defaultThreads } from './parallel.js';
import { drain, sliced } from './steps.js';

export interface TSNEOptions {
  /** Effective number of neighbours (default 30). Must be below the number of points. */
  perplexity?: number;
  /** Factor on P during the first explorationIter iterations (default 12). */
  earlyExaggeration?: number;
  /** Step size, or 'auto' = max(N / earlyExaggeration / 4, 50) as sklearn ≥ 1.2 (default). */
  learningRate?: number | 'auto';
  /** Total iterations (default 1000; sklearn's n_iter). */
  nIter?: number;
  /** Iterations with early exaggeration and momentum 0.5 (default 250). */
  explorationIter?: number;
  /** Barnes-Hut accuracy: larger is faster and coarser (default 0.5; sklearn's angle). */
  theta?: number;
  /** Reduce wider input to this many principal components first (default 50; 0 = never). */
  pcaComponents?: number;
  /** 'pca' (default) or 'random' (N(0, 1e-4²)). */
  init?: 'pca' | 'random';
  /** Seed for every random choice (default 42). */
  seed?: number;
  /** Stop when the gradient norm at a check falls below this (default 1e-7). */
  minGradNorm?: number;
  /** Stop after this many iterations without a lower error at the checks (default 300). */
  nIterWithoutProgress?: number;
  /**
   * 1 or 2 threads for the PCA passes, the kNN and the gradient ('auto' = 2 on a two-core machine
   * where each stage is big enough to pay). The result is identical either way, so this is not
   * one of the params.
   */
  threads?: number | 'auto';
}

/** Progress callback: return false to stop early (the embedding so far is kept). */
export type TSNEProgress = (iteration: number, total: number, kl?: number) => void | boolean;

/** The options after defaults, as used (a stable description of a fit). */
export interface TSNEParams {
  perplexity: number;
  earlyExaggeration: number;
  learningRate: number | 'auto';
  nIter: number;
  explorationIter: number;
  theta: number;
  pcaComponents: number;
  init: 'pca' | 'random';
  seed: number;
  minGradNorm: number;
  nIterWithoutProgress: number;
}

const CHECK_EVERY = 50;
/** Below this many points a second thread for the gradient costs more than it saves. */
const THREADED_FROM = 2000;

export function tsneParams(options: TSNEOptions = {}): TSNEParams {
  const p: TSNEParams = {
    perplexity: options.perplexity ?? 30,
    earlyExaggeration: options.earlyExaggeration ?? 12,
    learningRate: options.learningRate ?? 'auto',
    nIter: options.nIter ?? 1000,
    explorationIter: options.explorationIter ?? 250,
    theta: options.theta ?? 0.5,
    pcaComponents: options.pcaComponents ?? 50,
    init: options.init ?? 'pca',
    seed: options.seed ?? 42,
    minGradNorm: options.minGradNorm ?? 1e-7,
    nIterWithoutProgress: options.nIterWithoutProgress ?? 300,
  };
  const positive = (name: string, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) throw new ConvlensError('E_USAGE', `t-SNE: ${name} must be a positive number (got ${v})`);
  };
  positive('perplexity', p.perplexity);
  positive('earlyExaggeration', p.earlyExaggeration);
  if (p.learningRate !== 'auto') positive('learningRate', p.learningRate);
  if (!Number.isInteger(p.nIter) || p.nIter < 1)
    throw new ConvlensError('E_USAGE', `t-SNE: nIter must be a positive integer (got ${p.nIter})`);
  if (!Number.isInteger(p.explorationIter) || p.explorationIter < 0 || p.explorationIter > p.nIter) {
    throw new ConvlensError('E_USAGE', `t-SNE: explorationIter must be an integer from 0 to nIter (got ${p.explorationIter})`);
  }
  if (!(p.theta >= 0 && p.theta <= 1)) throw new ConvlensError('E_USAGE', `t-SNE: theta must be in [0, 1] (got ${p.theta})`);
  if (!Number.isInteger(p.pcaComponents) || p.pcaComponents < 0) {
    throw new ConvlensError('E_USAGE', `t-SNE: pcaComponents must be a non-negative integer (got ${p.pcaComponents})`);
  }
  if (p.init !== 'pca' && p.init !== 'random')
    throw new ConvlensError('E_USAGE', `t-SNE: init must be 'pca' or 'random' (got ${String(p.init)})`);
  if (!Number.isInteger(p.seed)) throw new ConvlensError('E_USAGE', `t-SNE: seed must be an integer (got ${p.seed})`);
  return p;
}

export class TSNE {
  readonly params: TSNEParams;
  private n = 0;
  private y: Float64Array = new Float64Array(0);
  private update = new Float64Array(0);
  private gains = new Float64Array(0);
  private grad = new Float64Array(0);
  private engine: GradientEngine | null = null;
  private readonly threads: number | 'auto';
  private learningRate = 0;
  private iteration = 0;
  private bestError = Infinity;
  private bestIter = 0;
  private finished = false;
  private kl = NaN;
  /** True when the last fitAsync was stopped by its callback or signal. */
  stopped = false;
  /**
   * Wall-clock seconds per stage of the last fit (with fitAsync, time given to others included):
   * affinities covers P, the initial layout and setting up the gradient.
   */
  readonly timings = { pca: 0, neighbours: 0, affinities: 0, optimise: 0 };

  constructor(options: TSNEOptions = {}) {
    this.params = tsneParams(options);
    const threads = options.threads ?? 'auto';
    if (threads !== 'auto' && threads !== 1 && threads !== 2) {
      throw new ConvlensError('E_USAGE', `t-SNE: threads must be 1, 2 or 'auto' (got ${String(threads)})`);
    }
    this.threads = threads;
  }

  /** Runs the whole fit and returns the N×2 embedding. */
  fit(m: Matrix): Matrix {
    drain(this.fitSteps(m));
    return this.getEmbedding();
  }

  /**
   * Like fit, but yields to the event loop every few tens of ms (preprocessing included) and
   * reports each iteration, with the KL divergence on the iterations where it is computed.
   * onProgress returning false, or the signal aborting, stops where it is: the promise resolves
   * with the embedding so far and `stopped` is true (stopped during preprocessing, the embedding
   * has no rows).
   */
  async fitAsync(m: Matrix, onProgress?: TSNEProgress, signal?: AbortSignal): Promise<Matrix> {
    this.stopped = false;
    this.reset();
    const report = (value: number | void): void | boolean => {
      if (typeof value !== 'number' || onProgress === undefined) return;
      return onProgress(value, this.params.nIter, this.checked(value) ? this.kl : undefined);
    };
    try {
      if ((await sliced(this.fitSteps(m), report, signal)) === undefined) this.stopped = true;
    } finally {
      // a stopped fit keeps its state (step() still works, on one thread) but not its worker
      this.engine?.close();
    }
    return this.getEmbedding();
  }

  /** Prepares P and the initial embedding (synchronously); returns the number of iterations to run. */
  initializeFit(m: Matrix): number {
    drain(this.prepare(m));
    return this.params.nIter;
  }

  /**
   * One gradient-descent iteration; returns the number of iterations done so far. A second thread,
   * if any, ends with the last iteration (or at the next initializeFit / fit).
   */
  step(): number {
    if (this.engine === null) throw new ConvlensError('E_USAGE', 't-SNE: call initializeFit(m) before step()');
    if (!this.finished) this.iterate();
    return this.iteration;
  }

  /** True once all iterations ran or a convergence test stopped the optimisation. */
  get done(): boolean {
    return this.finished;
  }

  /** Iterations run so far. */
  get iterations(): number {
    return this.iteration;
  }

  /** KL divergence at the last check (every 50 iterations and the last one); NaN before the first. */
  get klDivergence(): number {
    return this.kl;
  }

  /** The current N×2 embedding (0×2 before the preprocessing has finished). */
  getEmbedding(): Matrix {
    return matrix(this.n, 2, Float32Array.from(this.y));
  }

  private checked(iteration: number): boolean {
    return iteration % CHECK_EVERY === 0 || iteration === this.params.nIter || this.finished;
  }

  /** Yields undefined during preparation, then the iteration count after each iteration. */
  private *fitSteps(m: Matrix): Generator<number | void, true> {
    yield* this.prepare(m);
    while (!this.finished) {
      this.iterate();
      yield this.iteration;
    }
    return true;
  }

  /** Forgets the previous fit (and stops its worker). */
  private reset(): void {
    this.n = 0;
    this.y = new Float64Array(0);
    this.engine?.close();
    this.engine = null;
    this.iteration = 0;
    this.finished = false;
    this.kl = NaN;
  }

  private *prepare(m: Matrix): Generator<void, void> {
    const { perplexity, pcaComponents, seed } = this.params;
    const n = m.rows;
    if (n < 2) throw new ConvlensError('E_USAGE', `t-SNE: needs at least 2 points (got ${n})`);
    if (perplexity >= n)
      throw new ConvlensError('E_USAGE', `t-SNE: perplexity (${perplexity}) must be less than the number of points (${n})`);
    if (m.cols < 1) throw new ConvlensError('E_USAGE', 't-SNE: the data has no columns');
    for (let i = 0; i < m.data.length; i++) {
      if (!Number.isFinite(m.data[i]!))
        throw new ConvlensError('E_BAD_INPUT', `t-SNE: row ${Math.floor(i / m.cols)} has a non-finite value`);
    }
    this.reset();
    const t = this.timings;
    t.pca = t.neighbours = t.affinities = t.optimise = 0;
    let mark = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const seconds = (now - mark) / 1000;
      mark = now;
      return seconds;
    };
    const reduced =
      pcaComponents > 0 && m.cols > pcaComponents && n > pcaComponents
        ? (yield* pcaSteps(m, { nComponents: pcaComponents, seed, threads: this.threads === 1 ? 1 : 'auto', ...REDUCTION })).coords
        : m;
    t.pca = lap();
    const x = Float64Array.from(reduced.data);
    const k = Math.min(n - 1, Math.floor(3 * perplexity + 1));
    const nn = yield* exactKnnSteps(x, n, reduced.cols, k, this.threads === 1 ? 1 : 'auto');
    t.neighbours = lap();
    const joint = jointProbabilities(nn, conditionalProbabilities(nn, perplexity).values);
    yield;
    const y = new Float64Array(2 * n);
    const init = this.params.init === 'pca' && reduced.cols >= 2 ? (yield* pcaSteps(reduced, { nComponents: 2, seed })).coords.data : null;
    let std = 0;
    if (init !== null) {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += init[2 * i]!;
      mean /= n;
      for (let i = 0; i < n; i++) std += (init[2 * i]! - mean) ** 2;
      std = Math.sqrt(std / n);
    }
    if (init !== null && std > 0) {
      for (let i = 0; i < 2 * n; i++) y[i] = (init[i]! / std) * 1e-4;
    } else {
      // random init, also the fallback for one-dimensional or constant data (no principal plane)
      const random = new Random(seed);
      for (let i = 0; i < 2 * n; i++) y[i] = 1e-4 * random.normal();
    }
    const threads = this.threads === 'auto' ? (n >= THREADED_FROM ? defaultThreads() : 1) : this.threads;
    this.engine = new GradientEngine(joint, threads);
    t.affinities = lap();
    this.engine.y.set(y);
    this.n = n;
    this.y = this.engine.y;
    const lr = this.params.learningRate;
    this.learningRate = lr === 'auto' ? Math.max(n / this.params.earlyExaggeration / 4, 50) : lr;
    this.update = new Float64Array(2 * n);
    this.gains = new Float64Array(2 * n).fill(1);
    this.grad = new Float64Array(2 * n);
    this.iteration = 0;
    this.bestError = Infinity;
    this.bestIter = 0;
    this.finished = false;
    this.kl = NaN;
  }

  private iterate(): void {
    const { nIter, explorationIter, earlyExaggeration } = this.params;
    const i = this.iteration;
    const exploring = i < explorationIter;
    if (i === explorationIter && i > 0) {
      // sklearn runs the two phases as separate _gradient_descent calls: fresh update, gains, best error
      this.update.fill(0);
      this.gains.fill(1);
      this.bestError = Infinity;
      this.bestIter = i;
    }
    const check = (i + 1) % CHECK_EVERY === 0 || i === nIter - 1 || i === explorationIter - 1;
    const started = performance.now();
    const error = this.engine!.compute(this.params.theta, exploring ? earlyExaggeration : 1, check, this.grad);
    const momentum = exploring ? 0.5 : 0.8;
    const { y, update, gains, grad } = this;
    const lr = this.learningRate;
    let norm2 = 0;
    for (let t = 0; t < y.length; t++) {
      const g = grad[t]!;
      const u = update[t]!;
      let gain = gains[t]!;
      gain = u * g < 0 ? gain + 0.2 : gain * 0.8;
      if (gain < 0.01) gain = 0.01;
      gains[t] = gain;
      const gg = g * gain;
      norm2 += gg * gg;
      const nu = momentum * u - lr * gg;
      update[t] = nu;
      y[t]! += nu;
    }
    this.iteration = i + 1;
    this.timings.optimise += (performance.now() - started) / 1000;
    if (this.iteration >= nIter) this.finish();
    if (!check) return;
    this.kl = error;
    const patience = exploring ? explorationIter : this.params.nIterWithoutProgress;
    if (error < this.bestError) {
      this.bestError = error;
      this.bestIter = i;
    } else if (i - this.bestIter > patience) {
      this.finish();
    }
    if (Math.sqrt(norm2) <= this.params.minGradNorm) this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.engine?.close();
  }
}
