/**
 * Approximate nearest neighbours: an HNSW graph held by usearch, with our ids as its keys.
 *
 * Vectors are stored as f32, f16 (half the memory, same recall here) or i8 (a quarter; cosine
 * only). int8 vectors are quantised here, per row, before they reach usearch: its own float → int8
 * cast divides by the L2 norm and truncates, which leaves 2048-d embeddings two or three levels
 * per component. Scores come from the stored vectors, so with f16 / i8 they are close to, not
 * exactly, the float32 ones.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { BatchMatches, Index, MetricKind, ScalarKind, type Matches } from 'usearch';
import { ConvlensError, type Matrix } from '../core/index.js';
import { quantizeRowsPerRow } from './quantize.js';
import {
  checkIds,
  checkMetric,
  checkQueries,
  checkQuery,
  checkThreads,
  compareCandidates,
  resolveQuery,
  toKey,
  type Metric,
  type Neighbour,
  type ResolvedQuery,
  type SearchOptions,
} from './types.js';

export type HnswQuantization = 'f32' | 'f16' | 'i8';

export interface HnswOptions {
  /** Default cosine. */
  metric?: Metric;
  /** How vectors are stored (default f16). i8 needs the cosine metric. */
  quantization?: HnswQuantization;
  /** Graph degree M (default 16): more is better recall, more memory and slower builds. */
  connectivity?: number;
  /** Candidate list while inserting (default 128): more is a better graph and a slower build. */
  expansionAdd?: number;
  /** Candidate list while searching (default 128): more is better recall and slower queries. */
  expansionSearch?: number;
  /** Threads for adding and batched search; 0 (default) = all cores. */
  threads?: number;
}

export interface HnswBuildOptions extends HnswOptions {
  /** An id per row (unique integers ≥ 0). Default: row index. */
  ids?: ArrayLike<number>;
  /** Called after every block of rows is inserted. */
  onProgress?: (done: number, total: number) => void;
}

export interface HnswLoadOptions {
  expansionSearch?: number;
  threads?: number;
  /** Memory-map the file instead of reading it (the file must stay in place while the index is used). */
  view?: boolean;
}

const DEFAULTS = { connectivity: 16, expansionAdd: 128, expansionSearch: 128 };
const BUILD_BLOCK = 8192;

const METRIC_KIND: Record<Metric, MetricKind> = { cosine: MetricKind.Cos, euclidean: MetricKind.L2sq };
const SCALAR_KIND: Record<HnswQuantization, ScalarKind> = {
  f32: ScalarKind.F32,
  f16: ScalarKind.F16,
  i8: ScalarKind.I8,
};
const BYTES: Record<HnswQuantization, number> = { f32: 4, f16: 2, i8: 1 };

function usage(message: string): ConvlensError {
  return new ConvlensError('E_USAGE', message);
}

function checkCount(name: string, v: number | undefined, min: number): number | undefined {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw usage(`${name} must be an integer ≥ ${min} (got ${v})`);
  return v;
}

export class HnswIndex {
  readonly metric: Metric;
  readonly quantization: HnswQuantization;
  readonly dims: number;
  readonly connectivity: number;
  private readonly native: Index;
  private readonly threads: number;

  private constructor(native: Index, metric: Metric, quantization: HnswQuantization, dims: number, threads: number) {
    this.native = native;
    this.metric = metric;
    this.quantization = quantization;
    this.dims = dims;
    this.connectivity = native.connectivity();
    this.threads = threads;
  }

  /** An empty index for `dims`-d vectors; fill it with `add`. */
  static create(dims: number, opts: HnswOptions = {}): HnswIndex {
    const metric = checkMetric(opts.metric ?? 'cosine');
    const quantization = opts.quantization ?? 'f16';
    if (!(quantization in SCALAR_KIND)) throw usage(`quantization must be f32, f16 or i8 (got ${String(quantization)})`);
    if (quantization === 'i8' && metric !== 'cosine') {
      throw usage('i8 quantisation keeps one scale per vector, which only cosine ignores: use f16 for euclidean');
    }
    if (!(Number.isInteger(dims) && dims > 0)) throw usage(`dims must be a positive integer (got ${dims})`);
    const native = new Index({
      dimensions: dims,
      metric: METRIC_KIND[metric],
      quantization: SCALAR_KIND[quantization],
      connectivity: checkCount('connectivity', opts.connectivity, 2) ?? DEFAULTS.connectivity,
      expansion_add: checkCount('expansionAdd', opts.expansionAdd, 1) ?? DEFAULTS.expansionAdd,
      expansion_search: checkCount('expansionSearch', opts.expansionSearch, 1) ?? DEFAULTS.expansionSearch,
      multi: false,
    });
    return new HnswIndex(native, metric, quantization, dims, checkThreads(opts.threads));
  }

  /** Build from all rows of `m`, block by block so that `onProgress` (and the event loop) get a turn. */
  static async build(m: Matrix, opts: HnswBuildOptions = {}): Promise<HnswIndex> {
    const index = HnswIndex.create(m.cols, opts);
    const ids = checkIds(opts.ids, m.rows);
    for (let start = 0; start < m.rows; start += BUILD_BLOCK) {
      const end = Math.min(m.rows, start + BUILD_BLOCK);
      const block = { rows: end - start, cols: m.cols, data: m.data.subarray(start * m.cols, end * m.cols) };
      index.add(block, ids === undefined ? undefined : ids.subarray(start, end));
      opts.onProgress?.(end, m.rows);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return index;
  }

  /**
   * Open an index written by `save`. The file's header says its dimensions, metric and storage;
   * it is checked (size included) before usearch reads it, since usearch aborts the process on
   * some malformed files.
   */
  static load(path: string, opts: HnswLoadOptions = {}): HnswIndex {
    const head = readHeader(path);
    const native = new Index({
      dimensions: head.dims,
      metric: METRIC_KIND[head.metric],
      quantization: SCALAR_KIND[head.quantization],
      connectivity: 0,
      expansion_add: 0,
      expansion_search: checkCount('expansionSearch', opts.expansionSearch, 1) ?? DEFAULTS.expansionSearch,
      multi: false,
    });
    try {
      if (opts.view === true) native.view(path);
      else native.load(path);
    } catch (e) {
      throw new ConvlensError('E_BAD_INPUT', `${path}: cannot load the HNSW index (${(e as Error).message})`, { file: path, cause: e });
    }
    return new HnswIndex(native, head.metric, head.quantization, head.dims, checkThreads(opts.threads));
  }

  get size(): number {
    return this.native.size();
  }

  /**
   * Approximate bytes in memory: stored vectors plus the graph (base layer of 2M neighbour slots,
   * upper layers for ~1/M of the nodes).
   */
  get memoryBytes(): number {
    const m = this.connectivity;
    const node = 10 + (2 * m * 4 + 4) + (m * 4 + 4) / (m - 1);
    return Math.round(this.size * (this.dims * BYTES[this.quantization] + node + 8));
  }

  /** Insert rows; ids default to continuing the row numbering (size, size + 1, ...). */
  add(m: Matrix, ids?: ArrayLike<number>): void {
    checkQueries(m, this.dims);
    if (m.rows === 0) return;
    const checked = checkIds(ids, m.rows);
    const first = this.size;
    const keys = new BigUint64Array(m.rows);
    for (let i = 0; i < m.rows; i++) keys[i] = BigInt(checked === undefined ? first + i : checked[i]!);
    try {
      this.native.add(keys, this.toStored(m), this.threads);
    } catch (e) {
      throw usage(`cannot add to the HNSW index: ${(e as Error).message}`);
    }
  }

  /** Remove vectors by id (ids not in the index are ignored); returns how many went. */
  remove(ids: ArrayLike<number>): number {
    if (ids.length === 0) return 0;
    const keys = BigUint64Array.from(Array.from(ids, (id) => BigInt(id)));
    const removed = this.native.remove(keys);
    return Array.isArray(removed) ? removed.reduce((a, b) => a + b, 0) : Number(removed);
  }

  /** Insert rows, replacing the vectors of ids already there. */
  upsert(m: Matrix, ids: ArrayLike<number>): void {
    this.remove(ids);
    this.add(m, ids);
  }

  async search(q: Float32Array, opts: SearchOptions = {}): Promise<Neighbour[]> {
    checkQuery(q, this.dims);
    const rq = resolveQuery(this.metric, opts);
    return this.searchStored(this.toStored({ rows: 1, cols: this.dims, data: q }), 1, rq)[0]!;
  }

  async searchBatch(qs: Matrix, opts: SearchOptions = {}): Promise<Neighbour[][]> {
    checkQueries(qs, this.dims);
    const rq = resolveQuery(this.metric, opts);
    return this.searchStored(this.toStored(qs), qs.rows, rq);
  }

  save(path: string): void {
    try {
      this.native.save(path);
    } catch (e) {
      throw new ConvlensError('E_PERMISSION', `${path}: cannot write the HNSW index (${(e as Error).message})`, { file: path, cause: e });
    }
  }

  private toStored(m: Matrix): Float32Array | Int8Array {
    return this.quantization === 'i8' ? quantizeRowsPerRow(m) : m.data;
  }

  /**
   * usearch returns the k best; the answer needs k after exclusions and, for a threshold without
   * k, every match: ask for more until the last one returned fails the threshold.
   */
  private searchStored(stored: Float32Array | Int8Array, count: number, rq: ResolvedQuery): Neighbour[][] {
    const results: Neighbour[][] = [];
    const excluded = new Set(rq.exclude);
    const size = this.size;
    if (size === 0) return Array.from({ length: count }, () => []);
    let pending = Array.from({ length: count }, (_, i) => i);
    let wanted = Math.min(size, Number.isFinite(rq.limit) ? rq.limit + excluded.size : Math.max(64, excluded.size + 16));
    while (pending.length > 0) {
      const batch = new (stored.constructor as typeof Float32Array | typeof Int8Array)(pending.length * this.dims);
      pending.forEach((qi, j) => batch.set(stored.subarray(qi * this.dims, (qi + 1) * this.dims), j * this.dims));
      const found = this.native.search(batch as Float32Array, wanted, this.threads) as Matches | BatchMatches;
      const next: number[] = [];
      pending.forEach((qi, j) => {
        const m = found instanceof BatchMatches ? found.get(j) : found;
        const scored: { key: number; row: number }[] = [];
        for (let r = 0; r < m.keys.length; r++) {
          const id = Number(m.keys[r]);
          const key = this.keyOf(m.distances[r]!);
          if (!excluded.has(id) && key >= rq.minKey) scored.push({ key, row: id });
        }
        const lastKey = m.keys.length > 0 ? this.keyOf(m.distances[m.keys.length - 1]!) : -Infinity;
        if (!Number.isFinite(rq.limit) && m.keys.length === wanted && wanted < size && lastKey >= rq.minKey) {
          next.push(qi);
          return;
        }
        scored.sort(compareCandidates);
        if (scored.length > rq.limit) scored.length = rq.limit;
        results[qi] = scored.map(({ key, row }) => ({ id: row, score: this.metric === 'cosine' ? key : Math.sqrt(-key) }));
      });
      pending = next;
      wanted = Math.min(size, wanted * 4);
    }
    return results;
  }

  /** usearch distances (1 − cos, or squared L2) as our keys. */
  private keyOf(distance: number): number {
    return this.metric === 'cosine' ? 1 - distance : toKey('euclidean', Math.sqrt(Math.max(0, distance)));
  }
}

interface Header {
  dims: number;
  metric: Metric;
  quantization: HnswQuantization;
}

/** Validate a usearch 2.x dense index file end to end (layout: vectors, 64-byte head, graph). */
function readHeader(path: string): Header {
  const bad = (why: string): ConvlensError =>
    new ConvlensError('E_BAD_INPUT', `${path}: not a convlens HNSW index (${why})`, { file: path });
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvlensError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_PERMISSION', `${path}: cannot open the HNSW index`, {
      file: path,
      cause: e,
    });
  }
  try {
    const fileSize = statSync(path).size;
    const read = (position: number, length: number): Buffer => {
      if (position + length > fileSize) throw bad('file is truncated');
      const b = Buffer.alloc(length);
      readSync(fd, b, 0, length, position);
      return b;
    };
    const matrix = read(0, 8);
    const rows = matrix.readUInt32LE(0);
    const rowBytes = matrix.readUInt32LE(4);
    const headAt = 8 + rows * rowBytes;
    const head = read(headAt, 64);
    if (head.toString('latin1', 0, 7) !== 'usearch') throw bad('no usearch header');
    if (head.readUInt16LE(7) !== 2) throw bad(`usearch format ${head.readUInt16LE(7)}.x, expected 2.x`);
    const metricCode = String.fromCharCode(head[13]!);
    const metric: Metric | undefined = metricCode === 'c' ? 'cosine' : metricCode === 'e' ? 'euclidean' : undefined;
    const quantization = (Object.keys(SCALAR_KIND) as HnswQuantization[]).find((q) => scalarCode(q) === head[14]);
    if (metric === undefined || quantization === undefined) throw bad('unsupported metric or storage');
    const dims = Number(head.readBigUInt64LE(33));
    if (head[15] !== 14 || head[16] !== 15 || rowBytes !== dims * BYTES[quantization]) throw bad('unexpected key or vector layout');
    // graph: header (5 × u64), one i16 level per node, then nodes of 10 + (4 + 4·base) + level·(4 + 4·M) bytes
    const graphAt = headAt + 64;
    const graph = read(graphAt, 40);
    const nodes = Number(graph.readBigUInt64LE(0));
    const connectivity = Number(graph.readBigUInt64LE(8));
    const base = Number(graph.readBigUInt64LE(16));
    if (nodes !== rows) throw bad('vector and node counts differ');
    const levels = read(graphAt + 40, nodes * 2);
    let expected = graphAt + 40 + nodes * 2;
    for (let i = 0; i < nodes; i++) expected += 10 + 4 + 4 * base + levels.readInt16LE(2 * i) * (4 + 4 * connectivity);
    if (expected !== fileSize) throw bad(expected > fileSize ? 'file is truncated' : 'unexpected trailing bytes');
    return { dims, metric, quantization };
  } finally {
    closeSync(fd);
  }
}

function scalarCode(q: HnswQuantization): number {
  return { f32: 11, f16: 12, i8: 23 }[q];
}
