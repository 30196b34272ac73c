/**
 * One entry point for a map of N×D rows: `project` (t-SNE, UMAP or PCA, after defaults), the one
 * the CLI, the server and the cache use.
 */
import { ConvlensError, matrix, type Matrix } from '../core/index.js';
import { pcaSteps } from './pca.js';
import { sliced } from './steps.js';
import { TSNE, tsneParams, type TSNEParams } from './tsne.js';
import { UMAP, umapParams, type UMAPParams } from './umap.js';

export type ProjectionMethod = 'tsne' | 'umap' | 'pca';

export interface ProjectOptions {
  method: ProjectionMethod;
  /** Seed of every random choice (default 42). */
  seed?: number;
  /** t-SNE perplexity (default 30; lowered to (N − 1) / 3 for tiny collections). */
  perplexity?: number;
  /** t-SNE iterations (default 1000). */
  nIter?: number;
  /** t-SNE Barnes-Hut θ (default 0.5). */
  theta?: number;
  /** t-SNE learning rate (default 'auto' = max(N / 48, 50)). */
  learningRate?: number | 'auto';
  /** t-SNE early exaggeration (default 12). */
  earlyExaggeration?: number;
  /** UMAP neighbourhood size (default 15; lowered to N − 1 for tiny collections). */
  nNeighbors?: number;
  /** UMAP minimum distance (default 0.1). */
  minDist?: number;
  /** UMAP epochs (default 0 = by N). */
  nEpochs?: number;
  /** t-SNE and UMAP reduce wider data to this many principal components first (default 50). */
  pcaComponents?: number;
  /** Aborting rejects the promise with an AbortError. */
  signal?: AbortSignal;
}

export interface ProjectionResult {
  /** N×2 map coordinates, in row order of the input. */
  coords: Matrix;
  method: ProjectionMethod;
  /**
   * Every parameter that shaped the map, after defaults and adjustments, keys sorted: equal params
   * (and equal input) give an equal map, so this is the cache key. `version` changes whenever the
   * algorithm's output would.
   */
  params: Record<string, number | string>;
  /** Final KL divergence (t-SNE only; sklearn's Barnes-Hut estimate). */
  kl?: number;
  seconds: number;
}

/** A map request's parameters must belong to its method (the one rule for the CLI, the server and the library). */
export function checkProjectOptions(opts: Pick<ProjectOptions, 'method' | 'perplexity' | 'nNeighbors' | 'minDist'>): void {
  if (opts.method !== 'tsne' && opts.perplexity !== undefined) throw new ConvlensError('E_USAGE', 'perplexity applies to the t-SNE method');
  if (opts.method !== 'umap' && (opts.nNeighbors !== undefined || opts.minDist !== undefined)) {
    throw new ConvlensError('E_USAGE', 'nNeighbors and minDist apply to the UMAP method');
  }
}

/** done/total in the method's own units (t-SNE iterations, UMAP epochs, 1/1 for PCA). */
export type ProjectProgress = (done: number, total: number, kl?: number) => void | boolean;

const VERSIONS: Record<ProjectionMethod, number> = { tsne: 1, umap: 1, pca: 1 };
const PCA_POWER_ITERATIONS = 3;
const PCA_OVERSAMPLES = 10;

/**
 * Projects the rows of m to 2-D. Yields to the event loop while it works. onProgress returning
 * false, or opts.signal aborting, rejects with an AbortError (DOMException) and no result.
 */
export async function project(m: Matrix, opts: ProjectOptions, onProgress?: ProjectProgress): Promise<ProjectionResult> {
  const started = performance.now();
  const { method, signal } = opts;
  if (method !== 'tsne' && method !== 'umap' && method !== 'pca') {
    throw new ConvlensError('E_USAGE', `project: method must be tsne, umap or pca (got ${String(method)})`);
  }
  checkProjectOptions(opts);
  const n = m.rows;
  const aborted = (): never => {
    throw new DOMException('projection cancelled', 'AbortError');
  };
  if (signal?.aborted === true) aborted();
  let coords: Matrix;
  let params: Record<string, number | string>;
  let kl: number | undefined;
  if (method === 'pca') {
    const pp = { nComponents: 2, powerIterations: PCA_POWER_ITERATIONS, oversamples: PCA_OVERSAMPLES, seed: opts.seed ?? 42 };
    params = { method, ...pp, version: VERSIONS.pca };
    if (n < 2 || m.cols < 2) {
      coords = trivial(n);
    } else {
      const result = await sliced(pcaSteps(m, pp), undefined, signal);
      if (result === undefined) aborted();
      coords = result!.coords;
      if (onProgress?.(1, 1) === false) aborted();
    }
  } else if (method === 'tsne') {
    const adjusted = { ...opts, perplexity: Math.min(opts.perplexity ?? 30, Math.max((n - 1) / 3, 1e-3)) };
    const tp: TSNEParams = tsneParams(adjusted);
    params = { method, ...tp, version: VERSIONS.tsne };
    if (n < 3) {
      coords = trivial(n);
    } else {
      const tsne = new TSNE(tp);
      coords = await tsne.fitAsync(m, onProgress, signal);
      if (tsne.stopped) aborted();
      kl = tsne.klDivergence;
    }
  } else {
    const up: UMAPParams = umapParams({ ...opts, nNeighbors: Math.min(opts.nNeighbors ?? 15, Math.max(n - 1, 2)) });
    params = { method, ...up, version: VERSIONS.umap };
    if (n < 4) {
      coords = trivial(n);
    } else {
      const umap = new UMAP(up);
      coords = await umap.fitAsync(m, onProgress, signal);
      if (umap.stopped) aborted();
    }
  }
  const sorted: Record<string, number | string> = {};
  for (const key of Object.keys(params).sort()) sorted[key] = params[key]!;
  const result: ProjectionResult = { coords, method, params: sorted, seconds: (performance.now() - started) / 1000 };
  if (kl !== undefined) result.kl = kl;
  return result;
}

/** Maps of 0-3 points: nothing to learn; spread them on a line so they stay distinguishable. */
function trivial(n: number): Matrix {
  const out = matrix(n, 2);
  for (let i = 0; i < n; i++) out.data[2 * i] = i;
  return out;
}
