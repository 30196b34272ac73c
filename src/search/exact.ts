/**
 * Exact nearest neighbours.
 *
 * One float32 kernel serves both metrics: ONNX Runtime's GEMM gives q·x for every row, and squared
 * row norms computed once give cos = q·x / (‖q‖‖x‖) and ‖q − x‖² = ‖q‖² + ‖x‖² − 2q·x. Those
 * float32 scores are only used to narrow the field: with the worst-case rounding bound of a
 * D-term float32 dot product, every row that could still belong to the answer is kept, and those
 * rows are rescored in float64 straight from the data. Results therefore match a float64 brute
 * force, ties included (equal scores come back in row order), and the Euclidean distance of a
 * vector to itself is 0, not the rounding noise of the expansion.
 *
 * A single top-k query first tries a faster route: usearch's SIMD scan over the float32 rows picks
 * candidates, and a bound on what it left out proves the answer exact (else the GEMM route runs).
 *
 * `storage: 'i8'` adds an int8 copy (¼ of the float32 size) scanned with usearch's SIMD kernels
 * for single top-k queries, 3–4× faster than the float32 scan; its best candidates are rescored
 * in float64 the same way. Batches and threshold-only queries keep using the float32 path.
 */
import { MetricKind, exactSearch } from 'usearch';
import { ConvlensError, type Matrix } from '../core/index.js';
import { blockRows, dotProducts, squaredNorms } from './onnx.js';
import { globalScale, quantizeRowsPerRow, quantizeVectorPerRow, quantizeWithScale } from './quantize.js';
import {
  checkIds,
  checkMetric,
  checkQueries,
  checkQuery,
  checkThreads,
  compareCandidates,
  fromKey,
  resolveQuery,
  type Metric,
  type Neighbour,
  type ResolvedQuery,
  type SearchOptions,
} from './types.js';

export type ExactStorage = 'f32' | 'i8';

export interface ExactIndexOptions {
  /** Default cosine. */
  metric?: Metric;
  /** 'f32' (default): scan the matrix itself. 'i8': also keep an int8 copy for fast single queries. */
  storage?: ExactStorage;
  /** An id per row (unique integers ≥ 0), returned in results and used by `exclude`. Default: row index. */
  ids?: ArrayLike<number>;
  /** Threads for the scans; 0 (default) = all cores. */
  threads?: number;
}

/** Candidates beyond k that the f32 scan returns, so the exactness proof rarely fails on near-ties. */
const SCAN_MARGIN = 16;

/**
 * Candidates for the int8 scan beyond k: the quantised order only has to bring the true top-k
 * into this many, and the float64 rescoring puts them in order.
 */
function i8Candidates(k: number): number {
  return 4 * k + 64;
}

/** Float64 key of one row (cosine, or minus the squared distance). */
function exactKey(metric: Metric, q: Float32Array, qq: number, data: Float32Array, row: number): number {
  const d = q.length;
  const base = row * d;
  if (metric === 'cosine') {
    let dot = 0;
    let xx = 0;
    for (let j = 0; j < d; j++) {
      const x = data[base + j]!;
      dot += q[j]! * x;
      xx += x * x;
    }
    return qq > 0 && xx > 0 ? dot / Math.sqrt(qq * xx) : 0;
  }
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = q[j]! - data[base + j]!;
    s += t * t;
  }
  return -s;
}

function selfDot(q: Float32Array): number {
  let s = 0;
  for (let j = 0; j < q.length; j++) s += q[j]! * q[j]!;
  return s;
}

/** The k-th largest (1-based) of a[0..n), reordering a (Hoare quickselect). */
function kthLargest(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! > pivot) i++;
      while (a[j]! < pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
}

export class ExactIndex {
  readonly metric: Metric;
  readonly storage: ExactStorage;
  readonly dims: number;
  readonly size: number;
  private readonly m: Matrix;
  private readonly ids: Float64Array | undefined;
  private readonly threads: number;
  private idRows: Map<number, number> | undefined;
  private norms: Promise<Float32Array> | undefined;
  private maxNorm: Promise<number> | undefined;
  private readonly i8: { data: Int8Array; scale: number } | undefined;

  /** The index reads `m` in place (no copy): do not modify it while the index is in use. */
  constructor(m: Matrix, opts: ExactIndexOptions = {}) {
    this.metric = checkMetric(opts.metric ?? 'cosine');
    this.storage = opts.storage ?? 'f32';
    if (this.storage !== 'f32' && this.storage !== 'i8') {
      throw new ConvlensError('E_USAGE', `storage must be f32 or i8 (got ${String(this.storage)})`);
    }
    this.m = m;
    this.dims = m.cols;
    this.size = m.rows;
    this.ids = checkIds(opts.ids, m.rows);
    this.threads = checkThreads(opts.threads);
    if (this.storage === 'i8' && m.rows > 0) {
      const scale = this.metric === 'cosine' ? 0 : globalScale(m);
      this.i8 = { data: this.metric === 'cosine' ? quantizeRowsPerRow(m) : quantizeWithScale(m.data, scale), scale };
    }
  }

  /** Bytes this index holds besides the caller's matrix (norms, int8 copy). */
  get extraBytes(): number {
    return this.size * 4 + (this.i8?.data.byteLength ?? 0);
  }

  /** Nearest rows to `q`, best first. */
  async search(q: Float32Array, opts: SearchOptions = {}): Promise<Neighbour[]> {
    checkQuery(q, this.dims);
    const rq = resolveQuery(this.metric, opts);
    if (this.size === 0) return [];
    if (this.i8 !== undefined && Number.isFinite(rq.limit)) return this.searchI8(q, rq);
    if (Number.isFinite(rq.limit)) {
      const certified = await this.searchByScan(q, rq);
      if (certified) return certified;
    }
    const [dots, norms] = await Promise.all([dotProducts(q, 1, this.m.data, this.size, this.dims, this.threads), this.squaredNorms()]);
    return this.finish(q, dots, norms, rq);
  }

  /** One result list per row of `qs`, computed as matrix products over blocks of queries. */
  async searchBatch(qs: Matrix, opts: SearchOptions = {}): Promise<Neighbour[][]> {
    checkQueries(qs, this.dims);
    const rq = resolveQuery(this.metric, opts);
    if (this.size === 0) return Array.from({ length: qs.rows }, () => []);
    const norms = await this.squaredNorms();
    const out: Neighbour[][] = [];
    const step = blockRows(this.size);
    for (let start = 0; start < qs.rows; start += step) {
      const b = Math.min(step, qs.rows - start);
      const block = qs.data.subarray(start * this.dims, (start + b) * this.dims);
      const dots = await dotProducts(block, b, this.m.data, this.size, this.dims, this.threads);
      for (let i = 0; i < b; i++) {
        const q = block.subarray(i * this.dims, (i + 1) * this.dims);
        out.push(this.finish(q, dots.subarray(i * this.size, (i + 1) * this.size), norms, rq));
      }
    }
    return out;
  }

  /**
   * The score of every row in row order (cosine similarity or Euclidean distance), float32-accurate:
   * what a similarity histogram needs.
   */
  async scores(q: Float32Array): Promise<Float32Array> {
    checkQuery(q, this.dims);
    const [dots, norms] = await Promise.all([dotProducts(q, 1, this.m.data, this.size, this.dims, this.threads), this.squaredNorms()]);
    const qq = selfDot(q);
    const out = new Float32Array(this.size);
    const gamma = this.roundingBound();
    for (let i = 0; i < this.size; i++) {
      const key = this.approxKey(dots[i]!, qq, norms[i]!);
      // near-zero distances are all cancellation noise in the expansion: compute those directly
      const exact = this.metric === 'euclidean' && -key <= 4 * gamma * (qq + norms[i]!);
      out[i] = fromKey(this.metric, exact ? exactKey(this.metric, q, qq, this.m.data, i) : key);
    }
    return out;
  }

  private squaredNorms(): Promise<Float32Array> {
    this.norms ??= squaredNorms(this.m.data, this.size, this.dims, this.threads);
    return this.norms;
  }

  /** The largest squared row norm: bounds the rounding error of any Euclidean key. */
  private maxSquaredNorm(): Promise<number> {
    this.maxNorm ??= this.squaredNorms().then((norms) => norms.reduce((a, b) => Math.max(a, b), 0));
    return this.maxNorm;
  }

  /** Relative error bound of a float32 dot product of this length (D·u, u = 2⁻²⁴), with margin. */
  private roundingBound(): number {
    return 3 * this.dims * 2 ** -24 + 1e-6;
  }

  private approxKey(dot: number, qq: number, xx: number): number {
    if (this.metric === 'cosine') return qq > 0 && xx > 0 ? dot / Math.sqrt(qq * xx) : 0;
    return -Math.max(0, qq + xx - 2 * dot);
  }

  private excludedRows(ids: number[]): Set<number> {
    const rows = new Set<number>();
    if (ids.length === 0) return rows;
    if (this.ids === undefined) {
      for (const id of ids) if (Number.isInteger(id) && id >= 0 && id < this.size) rows.add(id);
      return rows;
    }
    if (this.idRows === undefined) {
      this.idRows = new Map();
      this.ids.forEach((id, row) => this.idRows!.set(id, row));
    }
    for (const id of ids) {
      const row = this.idRows.get(id);
      if (row !== undefined) rows.add(row);
    }
    return rows;
  }

  /** From float32 dot products to the exact answer: keep every row that could qualify, rescore, order. */
  private finish(q: Float32Array, dots: Float32Array, norms: Float32Array, rq: ResolvedQuery): Neighbour[] {
    const n = this.size;
    const qq = selfDot(q);
    const excluded = this.excludedRows(rq.exclude);
    const gamma = this.roundingBound();
    const cosine = this.metric === 'cosine';
    const keys = new Float64Array(n);
    const errs = new Float64Array(n);
    const rows = new Int32Array(n);
    const excluding = excluded.size > 0;
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (excluding && excluded.has(i)) continue;
      const key = this.approxKey(dots[i]!, qq, norms[i]!);
      const err = cosine ? gamma : gamma * (qq + norms[i]!);
      if (key + err < rq.minKey) continue;
      keys[count] = key;
      errs[count] = err;
      rows[count] = i;
      count++;
    }
    if (count > rq.limit) {
      // at least `limit` rows score ≥ lower, so no row whose upper bound is below it can qualify
      const lows = new Float64Array(count);
      for (let c = 0; c < count; c++) lows[c] = keys[c]! - errs[c]!;
      const lower = kthLargest(lows, count, rq.limit);
      let kept = 0;
      for (let c = 0; c < count; c++) {
        if (keys[c]! + errs[c]! >= lower) rows[kept++] = rows[c]!;
      }
      count = kept;
    }
    return this.rescore(q, qq, rows.subarray(0, count), excluded, rq);
  }

  private rescore(q: Float32Array, qq: number, rows: ArrayLike<number>, excluded: Set<number>, rq: ResolvedQuery): Neighbour[] {
    return this.toNeighbors(this.rescoreKeys(q, qq, rows, excluded, rq));
  }

  /** Exact float64 keys of candidate rows that pass the query, best first, at most `limit`. */
  private rescoreKeys(
    q: Float32Array,
    qq: number,
    rows: ArrayLike<number>,
    excluded: Set<number>,
    rq: ResolvedQuery,
  ): { key: number; row: number }[] {
    const scored: { key: number; row: number }[] = [];
    for (let c = 0; c < rows.length; c++) {
      const row = rows[c]!;
      if (excluded.has(row)) continue;
      const key = exactKey(this.metric, q, qq, this.m.data, row);
      if (key >= rq.minKey) scored.push({ key, row });
    }
    scored.sort(compareCandidates);
    if (scored.length > rq.limit) scored.length = rq.limit;
    return scored;
  }

  private toNeighbors(scored: { key: number; row: number }[]): Neighbour[] {
    return scored.map(({ key, row }) => ({ id: this.ids === undefined ? row : this.ids[row]!, score: fromKey(this.metric, key) }));
  }

  /**
   * Top-k of one query through usearch's SIMD scan, which streams the matrix on every core (ORT
   * runs a single-row product on one), then a proof that the answer is exact: each row the scan
   * left out has a float32 key no higher than its last candidate's, so its true key is at most
   * that plus the rounding bound, which must fall below the k-th exact key found (or the
   * threshold). Null when the proof fails (near-ties): the caller then scores every row.
   */
  private async searchByScan(q: Float32Array, rq: ResolvedQuery): Promise<Neighbour[] | null> {
    // usearch's exactSearch reads typed arrays from the start of their ArrayBuffer, ignoring
    // byteOffset: views are copied (the query) or not scanned this way (the matrix)
    if (this.m.data.byteOffset !== 0) return null;
    const query = q.byteOffset === 0 ? q : q.slice();
    const excluded = this.excludedRows(rq.exclude);
    const wanted = Math.min(this.size, rq.limit + excluded.size + SCAN_MARGIN);
    const cosine = this.metric === 'cosine';
    const found = exactSearch(this.m.data, query, this.dims, wanted, cosine ? MetricKind.Cos : MetricKind.L2sq, this.threads);
    const qq = selfDot(q);
    const rows = Array.from(found.keys, Number);
    const scored = this.rescoreKeys(q, qq, rows, excluded, rq);
    if (rows.length >= this.size) return this.toNeighbors(scored); // every row was a candidate
    const last = found.distances[found.distances.length - 1];
    if (last === undefined || !Number.isFinite(last)) return null;
    const err = this.roundingBound() * (cosine ? 1 : qq + (await this.maxSquaredNorm()));
    const outsideAtMost = (cosine ? 1 - last : -last) + err;
    const bar = scored.length >= rq.limit ? scored[rq.limit - 1]!.key : rq.minKey;
    return outsideAtMost < bar ? this.toNeighbors(scored) : null;
  }

  private searchI8(q: Float32Array, rq: ResolvedQuery): Neighbour[] {
    const i8 = this.i8!;
    const excluded = this.excludedRows(rq.exclude);
    const wanted = Math.min(this.size, i8Candidates(rq.limit) + excluded.size);
    const cosine = this.metric === 'cosine';
    const query = cosine ? quantizeVectorPerRow(q) : quantizeWithScale(q, i8.scale);
    const found = exactSearch(i8.data, query, this.dims, wanted, cosine ? MetricKind.Cos : MetricKind.L2sq, this.threads);
    const rows = Array.from(found.keys, Number);
    return this.rescore(q, selfDot(q), rows, excluded, rq);
  }
}

/**
 * The score of `q` against every row of `m`, in row order: cosine similarities or Euclidean
 * distances (the data of a similarity histogram).
 */
export function similarities(q: Float32Array, m: Matrix, metric: Metric = 'cosine', threads = 0): Promise<Float32Array> {
  return new ExactIndex(m, { metric, threads }).scores(q);
}

/** The exact (float64) score of one vector against a query: what every reported score is. */
export function exactScore(metric: Metric, q: Float32Array, x: Float32Array): number {
  if (q.length !== x.length) throw new ConvlensError('E_USAGE', `vectors of ${q.length} and ${x.length} values cannot be compared`);
  return fromKey(metric, exactKey(metric, q, selfDot(q), x, 0));
}
