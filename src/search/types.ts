/** Shapes shared by exact and approximate search, and the checks both run on their inputs. */
import { ConvlensError, type Matrix } from '../core/index.js';

/** `cosine`: score = cosine similarity, higher is better. `euclidean`: score = distance, lower is better. */
export type Metric = 'cosine' | 'euclidean';

export interface SearchOptions {
  /** How many neighbours. Default 10, or every match when a threshold is given without k. */
  k?: number;
  /** Cosine only: keep results with similarity ≥ this. */
  minSimilarity?: number;
  /** Euclidean only: keep results with distance ≤ this. */
  maxDistance?: number;
  /** Ids never returned (e.g. the query itself when it is in the collection). */
  exclude?: Iterable<number>;
}

export interface Neighbour {
  /** The row's id: its row index, or the id given for it when the index was built. */
  id: number;
  /** Cosine similarity or Euclidean distance. */
  score: number;
}

/** A search request in one normalised form: `limit` is Infinity for "every match". */
export interface ResolvedQuery {
  limit: number;
  /** Threshold as a "higher is better" key (see `toKey`), or -Infinity for none. */
  minKey: number;
  exclude: number[];
}

const DEFAULT_K = 10;

function usage(message: string): ConvlensError {
  return new ConvlensError('E_USAGE', message);
}

/**
 * Internally every score becomes a key where higher is better: the cosine itself, or minus the
 * squared distance, so one selection routine serves both metrics.
 */
export function toKey(metric: Metric, score: number): number {
  return metric === 'cosine' ? score : -(score * score);
}

export function fromKey(metric: Metric, key: number): number {
  return metric === 'cosine' ? key : Math.sqrt(Math.max(0, -key));
}

const bits = new DataView(new ArrayBuffer(8));
function step(x: number, up: boolean): number {
  bits.setFloat64(0, x);
  const b = bits.getBigUint64(0);
  bits.setBigUint64(0, x === 0 ? (up ? 1n : 0n) : up ? b + 1n : b - 1n);
  return bits.getFloat64(0);
}

/**
 * The largest s with sqrt(s) ≤ d: a distance threshold as a bound on squared distances that
 * agrees exactly with the distances reported (sqrt(d·d) need not be d, so -(d·d) alone would
 * drop a row whose reported distance equals d).
 */
function largestSquareAtMost(d: number): number {
  let s = d * d;
  while (Math.sqrt(s) > d) s = step(s, false);
  while (Math.sqrt(step(s, true)) <= d) s = step(s, true);
  return s;
}

export function resolveQuery(metric: Metric, opts: SearchOptions = {}): ResolvedQuery {
  const { k, minSimilarity, maxDistance } = opts;
  if (k !== undefined && !(Number.isInteger(k) && k > 0)) throw usage(`k must be a positive integer (got ${k})`);
  if (minSimilarity !== undefined) {
    if (metric !== 'cosine') throw usage('a similarity threshold goes with the cosine metric (with euclidean, give a distance threshold)');
    if (!Number.isFinite(minSimilarity)) throw usage(`minSimilarity must be a number (got ${minSimilarity})`);
  }
  if (maxDistance !== undefined) {
    if (metric !== 'euclidean')
      throw usage('a distance threshold goes with the euclidean metric (with cosine, give a similarity threshold)');
    if (!(Number.isFinite(maxDistance) && maxDistance >= 0)) throw usage(`maxDistance must be a number ≥ 0 (got ${maxDistance})`);
  }
  const threshold = metric === 'cosine' ? minSimilarity : maxDistance;
  const exclude = opts.exclude === undefined ? [] : [...opts.exclude];
  return {
    limit: k ?? (threshold === undefined ? DEFAULT_K : Infinity),
    minKey: threshold === undefined ? -Infinity : metric === 'cosine' ? threshold : -largestSquareAtMost(threshold),
    exclude,
  };
}

export function checkMetric(metric: string): Metric {
  if (metric !== 'cosine' && metric !== 'euclidean') throw usage(`metric must be cosine or euclidean (got ${metric})`);
  return metric;
}

export function checkThreads(threads: number | undefined): number {
  const t = threads ?? 0;
  if (!(Number.isInteger(t) && t >= 0)) throw usage(`threads must be an integer ≥ 0 (got ${threads})`);
  return t;
}

export function checkQuery(q: Float32Array, dims: number): void {
  if (!(q instanceof Float32Array)) throw usage('a query must be a Float32Array');
  if (q.length !== dims) throw usage(`the query has ${q.length} values but the index holds ${dims}-d vectors`);
}

export function checkQueries(qs: Matrix, dims: number): void {
  if (qs.cols !== dims) throw usage(`the queries are ${qs.cols}-d but the index holds ${dims}-d vectors`);
}

/** Validate per-row ids (non-negative safe integers, unique); undefined means ids = row indices. */
export function checkIds(ids: ArrayLike<number> | undefined, rows: number): Float64Array | undefined {
  if (ids === undefined) return undefined;
  if (ids.length !== rows) throw usage(`ids has ${ids.length} entries for ${rows} rows`);
  const out = Float64Array.from(ids);
  const seen = new Set<number>();
  for (const id of out) {
    if (!(Number.isSafeInteger(id) && id >= 0)) throw usage(`ids must be integers ≥ 0 (got ${id})`);
    if (seen.has(id)) throw usage(`ids must be unique (${id} appears twice)`);
    seen.add(id);
  }
  return out;
}

/** Best first; equal scores in row order. `keys` are "higher is better". */
export function compareCandidates(a: { key: number; row: number }, b: { key: number; row: number }): number {
  return b.key - a.key || a.row - b.row;
}

/** Check a search's options before any work (the one rule the CLI, the server and the library apply). */
export function checkSearchOptions(metric: Metric, opts: SearchOptions = {}): void {
  resolveQuery(checkMetric(metric), opts);
}
