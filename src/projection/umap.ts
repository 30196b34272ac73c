/**
 * UMAP through umap-js, with the same shape as our TSNE (fit / fitAsync / initializeFit + step).
 *
 * Two choices differ from umap-js used on its own, for speed and memory on 2048-d embeddings:
 * wider data is first reduced to 50 principal components (our pca), and the neighbour graph is
 * our exact kNN handed over with setPrecomputedKNN instead of umap-js's NN-descent on number[][]
 * rows. Randomness (umap-js's random initial layout and negative sampling) comes from our seeded
 * Random, so a seed gives the same map every time.
 */
import { UMAP as UmapJs } from 'umap-js';
import { ConvlensError, Random, matrix, type Matrix } from '../core/index.js';
import { exactKnnSteps } from './knn.js';
import { REDUCTION, pcaSteps } from './pca.js';
import { drain, sliced } from './steps.js';

export interface UMAPOptions {
  /** Neighbourhood size, the point itself included as in umap-learn (default 15). */
  nNeighbors?: number;
  /** Minimum distance between embedded points (default 0.1). */
  minDist?: number;
  /** Scale of the embedded points (default 1). */
  spread?: number;
  /** Optimisation epochs; 0 = umap-js's choice from N (500 up to 2 500 points … 200 above 10 000). */
  nEpochs?: number;
  /** Reduce wider input to this many principal components first (default 50; 0 = never). */
  pcaComponents?: number;
  /** Seed (default 42). */
  seed?: number;
}

export interface UMAPParams {
  nNeighbors: number;
  minDist: number;
  spread: number;
  nEpochs: number;
  pcaComponents: number;
  seed: number;
}

export type UMAPProgress = (epoch: number, total: number) => void | boolean;

export function umapParams(options: UMAPOptions = {}): UMAPParams {
  const p: UMAPParams = {
    nNeighbors: options.nNeighbors ?? 15,
    minDist: options.minDist ?? 0.1,
    spread: options.spread ?? 1,
    nEpochs: options.nEpochs ?? 0,
    pcaComponents: options.pcaComponents ?? 50,
    seed: options.seed ?? 42,
  };
  if (!Number.isInteger(p.nNeighbors) || p.nNeighbors < 2)
    throw new ConvlensError('E_USAGE', `UMAP: nNeighbors must be an integer ≥ 2 (got ${p.nNeighbors})`);
  if (!(p.minDist >= 0)) throw new ConvlensError('E_USAGE', `UMAP: minDist must be ≥ 0 (got ${p.minDist})`);
  if (!(p.spread > 0)) throw new ConvlensError('E_USAGE', `UMAP: spread must be positive (got ${p.spread})`);
  if (!Number.isInteger(p.nEpochs) || p.nEpochs < 0)
    throw new ConvlensError('E_USAGE', `UMAP: nEpochs must be a non-negative integer (got ${p.nEpochs})`);
  if (!Number.isInteger(p.pcaComponents) || p.pcaComponents < 0) {
    throw new ConvlensError('E_USAGE', `UMAP: pcaComponents must be a non-negative integer (got ${p.pcaComponents})`);
  }
  if (!Number.isInteger(p.seed)) throw new ConvlensError('E_USAGE', `UMAP: seed must be an integer (got ${p.seed})`);
  return p;
}

export class UMAP {
  readonly params: UMAPParams;
  private umap: UmapJs | null = null;
  private epochs = 0;
  private n = 0;
  /** True when the last fitAsync was stopped by its callback or signal. */
  stopped = false;

  constructor(options: UMAPOptions = {}) {
    this.params = umapParams(options);
  }

  fit(m: Matrix): Matrix {
    drain(this.fitSteps(m));
    return this.getEmbedding();
  }

  /**
   * Yields to the event loop every few tens of ms (umap-js's own graph building excepted); onProgress
   * returning false or the signal stops early, keeping the layout so far (none if stopped before
   * the layout existed) and setting `stopped`.
   */
  async fitAsync(m: Matrix, onProgress?: UMAPProgress, signal?: AbortSignal): Promise<Matrix> {
    this.stopped = false;
    this.umap = null;
    const report = (epoch: number | void): void | boolean => {
      if (typeof epoch === 'number' && onProgress !== undefined) return onProgress(epoch, this.epochs);
    };
    if ((await sliced(this.fitSteps(m), report, signal)) === undefined) this.stopped = true;
    return this.getEmbedding();
  }

  /** Builds the graph and the initial layout; returns the number of epochs. */
  initializeFit(m: Matrix): number {
    drain(this.prepare(m));
    return this.epochs;
  }

  /** One epoch; returns the number of epochs done. */
  step(): number {
    if (this.umap === null) throw new ConvlensError('E_USAGE', 'UMAP: call initializeFit(m) before step()');
    return this.umap.step();
  }

  /** The current N×2 embedding (0×2 before initializeFit has finished). */
  getEmbedding(): Matrix {
    if (this.umap === null) return matrix(0, 2);
    const rows = this.umap.getEmbedding();
    const out = matrix(this.n, 2);
    rows.forEach((r, i) => {
      out.data[2 * i] = r[0]!;
      out.data[2 * i + 1] = r[1]!;
    });
    return out;
  }

  private *fitSteps(m: Matrix): Generator<number | void, true> {
    yield* this.prepare(m);
    const umap = this.umap!;
    for (let epoch = 0; epoch < this.epochs;) {
      epoch = umap.step();
      yield epoch;
    }
    return true;
  }

  private *prepare(m: Matrix): Generator<void, void> {
    const { nNeighbors, minDist, spread, nEpochs, pcaComponents, seed } = this.params;
    const n = m.rows;
    this.umap = null;
    if (n <= nNeighbors)
      throw new ConvlensError('E_USAGE', `UMAP: nNeighbors (${nNeighbors}) must be less than the number of points (${n})`);
    for (let i = 0; i < m.data.length; i++) {
      if (!Number.isFinite(m.data[i]!))
        throw new ConvlensError('E_BAD_INPUT', `UMAP: row ${Math.floor(i / m.cols)} has a non-finite value`);
    }
    const reduced =
      pcaComponents > 0 && m.cols > pcaComponents && n > pcaComponents
        ? (yield* pcaSteps(m, { nComponents: pcaComponents, seed, ...REDUCTION })).coords
        : m;
    const d = reduced.cols;
    const nn = yield* exactKnnSteps(Float64Array.from(reduced.data), n, d, nNeighbors - 1);
    // umap-js expects the point itself first (distance 0) and Euclidean, not squared, distances
    const knnIndices: number[][] = [];
    const knnDistances: number[][] = [];
    for (let i = 0; i < n; i++) {
      const idx = [i];
      const dist = [0];
      for (let t = 0; t < nn.k; t++) {
        idx.push(nn.indices[i * nn.k + t]!);
        dist.push(Math.sqrt(nn.distances[i * nn.k + t]!));
      }
      knnIndices.push(idx);
      knnDistances.push(dist);
    }
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) rows.push(Array.from(reduced.data.subarray(i * d, (i + 1) * d)));
    const random = new Random(seed);
    const umap = new UmapJs({ nComponents: 2, nNeighbors, minDist, spread, nEpochs, random: () => random.next() });
    umap.setPrecomputedKNN(knnIndices, knnDistances);
    yield;
    this.epochs = umap.initializeFit(rows);
    this.n = n;
    this.umap = umap;
  }
}
