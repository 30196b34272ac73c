/**
 * Questions over a collection too large to hold in memory (more rows than CollectionSearch's
 * `memoryRows`): nothing here reads every embedding at once.
 *
 * - Exact thresholds and top-k scan the float32 rows block by block (`embeddingPage`).
 * - Thresholds with a fresh HNSW index are answered by it: usearch's search widens until its last
 *   candidate fails the threshold (lowered by more than f16 rounding), then every candidate is
 *   rescored exactly from the stored vectors; only the graph's recall can miss one, so the search
 *   checks each answer against a kept uniform sample and scans instead when it fails (search.ts).
 * - Histograms come from a uniform sample of the collection (that kept sample by default), with
 *   its size and the error the sample implies.
 * - Near-duplicate candidate pairs come from each block's HNSW neighbours, confirmed in float64
 *   against the stored vectors.
 */
import { ConvlensError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { Random } from '../core/random.js';
import { computeHistogram } from '../plot/histogram.js';
import { ExactIndex, exactScore, similarities, type HnswIndex, type Metric, type Neighbour, type SearchOptions } from '../search/index.js';
import type { SimilarPair } from '../search/index.js';
import type { CollectionStore } from '../store/index.js';
import type { HistogramOptions, SimilarityHistogram } from './histogram.js';

/** Rows read at a time: 64 MB of 2048-d float32. */
export const BLOCK_ROWS = 8192;
/** Images in a histogram's sample when a size is asked for without a sample at hand. */
export const HISTOGRAM_SAMPLE = 100_000;
/**
 * Images in the uniform sample a large collection's search reads once and keeps (80 MB at
 * 2048-d): it checks HNSW threshold answers and gives histograms (a bar's share to ±1 point, 95%).
 */
export const CHECK_SAMPLE = 10_000;
/** f16 scores (HNSW) differ from float32 ones by less than this: candidates are taken this far below a threshold. */
const F16_MARGIN = 0.01;

/** The embedded rows in id order, `rows` at a time. */
export async function* embeddingBlocks(store: CollectionStore, rows = BLOCK_ROWS): AsyncGenerator<{ ids: Int32Array; matrix: Matrix }> {
  let after = 0;
  for (;;) {
    const page = await store.embeddingPage(after, rows);
    if (page.ids.length === 0) return;
    yield page;
    if (page.ids.length < rows) return;
    after = page.ids[page.ids.length - 1]!;
  }
}

const better = (metric: Metric) => (a: Neighbour, b: Neighbour) =>
  (metric === 'cosine' ? b.score - a.score : a.score - b.score) || a.id - b.id;

/** The exact answer, one block at a time (each block's own answer, merged). */
export async function scanSimilar(store: CollectionStore, q: Float32Array, metric: Metric, search: SearchOptions): Promise<Neighbour[]> {
  let out: Neighbour[] = [];
  for await (const { ids, matrix: m } of embeddingBlocks(store)) {
    const found = await new ExactIndex(m, { metric, ids }).search(q, search);
    if (search.k === undefined) {
      for (const n of found) out.push(n);
    } else {
      out = out.concat(found).sort(better(metric));
      out.length = Math.min(out.length, search.k);
    }
  }
  return search.k === undefined ? out.sort(better(metric)) : out;
}

/**
 * A cosine threshold answered by the HNSW index: candidates down to the threshold less the f16
 * margin, rescored exactly, those that pass it kept. `vectors` gives stored embeddings by id.
 */
export async function hnswThreshold(
  hnsw: HnswIndex,
  q: Float32Array,
  search: SearchOptions,
  vectors: (ids: number[]) => Promise<Map<number, Float32Array>>,
): Promise<Neighbour[]> {
  const t = search.minSimilarity!;
  const found = await hnsw.search(q, {
    minSimilarity: Math.max(-1, t - F16_MARGIN),
    ...(search.exclude ? { exclude: search.exclude } : {}),
  });
  const stored = await vectors(found.map((n) => n.id));
  const out: Neighbour[] = [];
  for (const n of found) {
    const v = stored.get(n.id);
    if (!v) continue; // deleted since the index was built
    const score = exactScore('cosine', q, v);
    if (score >= t) out.push({ id: n.id, score });
  }
  out.sort(better('cosine'));
  if (search.k !== undefined) out.length = Math.min(out.length, search.k);
  return out;
}

/** Stored vectors by id, read in blocks. */
export async function vectorsById(store: CollectionStore, ids: ArrayLike<number>): Promise<Map<number, Float32Array>> {
  const out = new Map<number, Float32Array>();
  for (let start = 0; start < ids.length; start += BLOCK_ROWS) {
    const { ids: got, matrix: m } = await store.embeddingsOf(Array.prototype.slice.call(ids, start, start + BLOCK_ROWS) as number[]);
    got.forEach((id, i) => out.set(id, m.data.slice(i * m.cols, (i + 1) * m.cols)));
  }
  return out;
}

/** A uniform sample of `size` of the ids (seeded: the same histogram twice), ascending. */
export function sampleIds(ids: Int32Array, size: number, seed = 1): Int32Array {
  if (size >= ids.length) return ids;
  const pool = Int32Array.from(ids);
  const rng = new Random(seed);
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(pool.length - i);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.subarray(0, size).sort();
}

/**
 * The histogram of a uniform sample, its counts scaled to the whole collection. `best`: the exact
 * best score when known (HNSW), else the sample's.
 */
export async function sampledHistogram(
  store: CollectionStore,
  q: Float32Array,
  options: HistogramOptions & {
    sampleSize?: number;
    /** a uniform sample already read (the search's check sample), used instead of reading one */
    sample?: { ids: Int32Array; matrix: Matrix };
    best?: number;
    matches?: number;
  },
): Promise<SimilarityHistogram> {
  const metric = options.metric ?? 'cosine';
  let all = await store.embeddedIds();
  if (options.excludeId !== undefined) all = all.filter((id) => id !== options.excludeId);
  const n = all.length;
  if (n === 0) throw new ConvlensError('E_DB', 'no other images in the collection');
  const blocks = async function* (): AsyncGenerator<{ ids: Int32Array; matrix: Matrix }> {
    if (options.sample) {
      yield options.sample;
      return;
    }
    const ids = sampleIds(all, Math.min(n, options.sampleSize ?? HISTOGRAM_SAMPLE));
    for (let start = 0; start < ids.length; start += BLOCK_ROWS) yield store.embeddingsOf(ids.subarray(start, start + BLOCK_ROWS));
  };
  const scores: number[] = [];
  for await (const { ids, matrix: m } of blocks()) {
    const block = await similarities(q, m, metric);
    for (let i = 0; i < block.length; i++) if (ids[i] !== options.excludeId) scores.push(block[i]!);
  }
  const filled = scores.length;
  if (filled === 0) throw new ConvlensError('E_DB', 'no other images in the sample');
  const got = Float64Array.from(scores);
  let lo = Infinity;
  let hi = -Infinity;
  let sum = 0;
  for (const v of got) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    sum += v;
  }
  if (options.best !== undefined) {
    if (metric === 'cosine') hi = Math.max(hi, options.best);
    else lo = Math.min(lo, options.best);
  }
  const h = computeHistogram(got, { bins: options.bins ?? 50, range: [lo, hi] });
  const scale = n / filled;
  // 95% margin of a bin's count, with the finite-population correction (a sample of all is exact)
  const fpc = n > 1 ? Math.sqrt((n - filled) / (n - 1)) : 0;
  let margin = 0;
  for (const c of h.counts) {
    const p = c / filled;
    margin = Math.max(margin, 1.96 * Math.sqrt((p * (1 - p)) / filled) * fpc * n);
  }
  const out: SimilarityHistogram = {
    metric,
    count: n,
    mean: sum / filled,
    min: lo,
    max: hi,
    edges: Array.from(h.edges),
    counts: Array.from(h.counts, (c) => Math.round(c * scale)),
    sample: { size: filled, of: n, margin: Math.ceil(margin) },
  };
  if (options.threshold !== undefined && options.matches !== undefined) {
    out.threshold = options.threshold;
    out.matches = options.matches;
  }
  return out;
}

/**
 * Pairs of images with cosine ≥ t among each image's `neighbors` nearest in the HNSW index, read
 * block by block; each pair once (a < b by id), its cosine exact (float64) from the stored vectors.
 */
export async function hnswPairs(
  store: CollectionStore,
  hnsw: HnswIndex,
  t: number,
  options: { neighbors?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<SimilarPair[]> {
  const ids = await store.embeddedIds();
  const n = ids.length;
  const rowOf = (id: number): number => {
    let lo = 0;
    let hi = n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = ids[mid]!;
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  };
  const seen = new Set<number>();
  const pairs: SimilarPair[] = [];
  let done = 0;
  for await (const { ids: blockIds, matrix: m } of embeddingBlocks(store)) {
    const found = await hnsw.searchBatch(m, { k: (options.neighbors ?? 16) + 1, minSimilarity: t - F16_MARGIN });
    const here = new Map<number, number>();
    blockIds.forEach((id, i) => here.set(id, i));
    const outside = new Set<number>();
    for (const list of found) for (const nb of list) if (!here.has(nb.id)) outside.add(nb.id);
    const far = await vectorsById(store, [...outside]);
    found.forEach((list, i) => {
      const a = blockIds[i]!;
      const va = m.data.subarray(i * m.cols, (i + 1) * m.cols);
      for (const nb of list) {
        if (nb.id === a) continue;
        const [ra, rb] = [rowOf(a), rowOf(nb.id)];
        if (rb < 0) continue;
        const key = Math.min(ra, rb) * n + Math.max(ra, rb);
        if (seen.has(key)) continue;
        seen.add(key);
        const j = here.get(nb.id);
        const vb = j !== undefined ? m.data.subarray(j * m.cols, (j + 1) * m.cols) : far.get(nb.id);
        if (!vb) continue;
        const cosine = exactScore('cosine', va, vb);
        if (cosine >= t) pairs.push(a < nb.id ? { a, b: nb.id, cosine } : { a: nb.id, b: a, cosine });
      }
    });
    done += blockIds.length;
    options.onProgress?.(done, n);
  }
  return pairs;
}

/** An HNSW index built block by block from the store (never the whole matrix in memory). */
export async function buildFromBlocks(
  store: CollectionStore,
  dims: number,
  create: (dims: number) => HnswIndex,
  onProgress?: (done: number, total: number) => void,
): Promise<HnswIndex> {
  const index = create(dims);
  const total = (await store.count()).embedded;
  let done = 0;
  for await (const { ids, matrix: m } of embeddingBlocks(store)) {
    index.add(m, ids);
    done += ids.length;
    onProgress?.(done, total);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return index;
}
