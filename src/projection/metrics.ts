/**
 * Quality measures of a 2-D map against the original embeddings (Euclidean distances):
 * - trustworthiness, as sklearn.manifold.trustworthiness: penalises map neighbours that are far
 *   down the original neighbour ranking;
 * - neighbourhood preservation: the fraction of each point's k original neighbours that are also
 *   its k map neighbours;
 * - leave-one-out k-NN classification accuracy in the map, given labels.
 *
 * The exact measures cost N² original distances. For large N, `sample` evaluates a seeded subset of
 * query points against all N points: every term is still exact, so the result is an unbiased
 * estimate of the full figure (it is not the figure of the subsample on its own).
 */
import { ConvlensError, Random, type Matrix } from '../core/index.js';

export interface MapQualityOptions {
  /** Neighbourhood size (default 10, as the t-SNE acceptance figures). */
  k?: number;
  /** Evaluate only this many seeded query points (default: all). */
  sample?: number;
  /** Seed for the sample (default 42). */
  seed?: number;
}

export interface MapQuality {
  trustworthiness: number;
  neighbourhoodPreservation: number;
  /** Number of query points evaluated. */
  queries: number;
}

export function trustworthiness(high: Matrix, low: Matrix, k = 10, options: Omit<MapQualityOptions, 'k'> = {}): number {
  return mapQuality(high, low, { ...options, k }).trustworthiness;
}

export function neighbourhoodPreservation(high: Matrix, low: Matrix, k = 10, options: Omit<MapQualityOptions, 'k'> = {}): number {
  return mapQuality(high, low, { ...options, k }).neighbourhoodPreservation;
}

/** Both neighbourhood measures from one pass over the original distances. */
export function mapQuality(high: Matrix, low: Matrix, options: MapQualityOptions = {}): MapQuality {
  const n = high.rows;
  const k = options.k ?? 10;
  if (low.rows !== n) throw new ConvlensError('E_USAGE', `map quality: ${n} original rows but ${low.rows} map rows`);
  if (!Number.isInteger(k) || k < 1 || k >= n / 2) {
    // sklearn's normalisation 2 / (n k (2n − 3k − 1)) needs k < n / 2
    throw new ConvlensError('E_USAGE', `map quality: k must be an integer from 1 to below n / 2 = ${n / 2} (got ${k})`);
  }
  const queries = sampleQueries(n, options.sample, options.seed ?? 42);
  const d = high.cols;
  const x = high.data;
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[i * d + c]! * x[i * d + c]!;
    norms[i] = s;
  }
  const dist = new Float64Array(4 * n);
  const lowNbr = new Int32Array(k);
  const highNbr = new Int32Array(k);
  const scratch = new Float64Array(k);
  let penalty = 0;
  let kept = 0;
  for (let b = 0; b < queries.length; b += 4) {
    const rows = queries.subarray(b, Math.min(b + 4, queries.length));
    squaredDistances(x, d, norms, rows, dist);
    rows.forEach((i, r) => {
      const di = dist.subarray(r * n, (r + 1) * n);
      nearest(low, i, k, lowNbr, scratch);
      smallest(di, i, k, highNbr, scratch);
      for (let t = 0; t < k; t++) {
        const j = lowNbr[t]!;
        const dj = di[j]!;
        // rank of j among i's original neighbours (1 = nearest); ties count in index order
        let rank = 1;
        for (let l = 0; l < n; l++) {
          if (l === i) continue;
          const dl = di[l]!;
          if (dl < dj || (dl === dj && l < j)) rank++;
        }
        if (rank > k) penalty += rank - k;
        for (let u = 0; u < k; u++) {
          if (highNbr[u] === j) {
            kept++;
            break;
          }
        }
      }
    });
  }
  const q = queries.length;
  return {
    trustworthiness: 1 - (penalty * 2) / (q * k * (2 * n - 3 * k - 1)),
    neighbourhoodPreservation: kept / (q * k),
    queries: q,
  };
}

/**
 * Leave-one-out k-NN accuracy in the map: each point takes the majority label of its k nearest
 * other points; a tie goes to the tied label whose nearest member is closest.
 */
export function knnAccuracy(low: Matrix, labels: ArrayLike<string | number>, k = 5): number {
  const n = low.rows;
  if (labels.length !== n) throw new ConvlensError('E_USAGE', `k-NN accuracy: ${n} points but ${labels.length} labels`);
  if (!Number.isInteger(k) || k < 1 || k >= n)
    throw new ConvlensError('E_USAGE', `k-NN accuracy: k must be an integer from 1 to ${n - 1} (got ${k})`);
  const nbr = new Int32Array(k);
  const scratch = new Float64Array(k);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    nearest(low, i, k, nbr, scratch);
    const votes = new Map<string | number, { count: number; first: number }>();
    for (let t = 0; t < k; t++) {
      const label = labels[nbr[t]!]!;
      const v = votes.get(label);
      if (v === undefined) votes.set(label, { count: 1, first: t });
      else v.count++;
    }
    let best: string | number | undefined;
    let bestCount = -1;
    let bestFirst = Infinity;
    for (const [label, v] of votes) {
      if (v.count > bestCount || (v.count === bestCount && v.first < bestFirst)) {
        best = label;
        bestCount = v.count;
        bestFirst = v.first;
      }
    }
    if (best === labels[i]) correct++;
  }
  return correct / n;
}

function sampleQueries(n: number, sample: number | undefined, seed: number): Int32Array {
  if (sample === undefined || sample >= n) return Int32Array.from({ length: n }, (_, i) => i);
  if (!Number.isInteger(sample) || sample < 1)
    throw new ConvlensError('E_USAGE', `map quality: sample must be a positive integer (got ${sample})`);
  const all = Array.from({ length: n }, (_, i) => i);
  return Int32Array.from(new Random(seed).shuffle(all).slice(0, sample)).sort();
}

/** Squared distances from up to 4 query rows to all rows, into out (rows.length × n). */
function squaredDistances(x: Float32Array, d: number, norms: Float64Array, rows: Int32Array, out: Float64Array): void {
  const n = norms.length;
  const r0 = rows[0]!;
  const r1 = rows[Math.min(1, rows.length - 1)]!;
  const r2 = rows[Math.min(2, rows.length - 1)]!;
  const r3 = rows[Math.min(3, rows.length - 1)]!;
  const o0 = r0 * d,
    o1 = r1 * d,
    o2 = r2 * d,
    o3 = r3 * d;
  for (let j = 0; j < n; j++) {
    const oj = j * d;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    for (let c = 0; c < d; c++) {
      const v = x[oj + c]!;
      s0 += x[o0 + c]! * v;
      s1 += x[o1 + c]! * v;
      s2 += x[o2 + c]! * v;
      s3 += x[o3 + c]! * v;
    }
    const nj = norms[j]!;
    out[j] = Math.max(norms[r0]! + nj - 2 * s0, 0);
    out[n + j] = Math.max(norms[r1]! + nj - 2 * s1, 0);
    out[2 * n + j] = Math.max(norms[r2]! + nj - 2 * s2, 0);
    out[3 * n + j] = Math.max(norms[r3]! + nj - 2 * s3, 0);
  }
}

/** The k nearest other rows of row i in m (any width), nearest first, ties by index. */
function nearest(m: Matrix, i: number, k: number, out: Int32Array, dist: Float64Array): void {
  const { rows: n, cols: d, data } = m;
  let filled = 0;
  for (let j = 0; j < n; j++) {
    if (j === i) continue;
    let s = 0;
    for (let c = 0; c < d; c++) {
      const t = data[i * d + c]! - data[j * d + c]!;
      s += t * t;
    }
    filled = insertSorted(out, dist, filled, k, j, s);
  }
}

/** The k smallest entries of di other than i, smallest first, ties by index. */
function smallest(di: Float64Array, i: number, k: number, out: Int32Array, dist: Float64Array): void {
  let filled = 0;
  for (let j = 0; j < di.length; j++) {
    if (j !== i) filled = insertSorted(out, dist, filled, k, j, di[j]!);
  }
}

/** Insertion into a sorted top-k list (j arrives in increasing order, so ties keep index order). */
function insertSorted(out: Int32Array, dist: Float64Array, filled: number, k: number, j: number, s: number): number {
  if (filled === k && s >= dist[k - 1]!) return filled;
  let pos = filled < k ? filled++ : k - 1;
  while (pos > 0 && dist[pos - 1]! > s) {
    dist[pos] = dist[pos - 1]!;
    out[pos] = out[pos - 1]!;
    pos--;
  }
  dist[pos] = s;
  out[pos] = j;
  return filled;
}
