/**
 * Near-duplicate groups: connected components (union-find) of the graph whose edges are the pairs
 * with cosine similarity ≥ minSimilarity.
 *
 * 'exact' compares all pairs, as blocks of a matrix product in ONNX Runtime whose threshold test
 * runs inside the graph (only the few pairs above it come back), each confirmed in float64.
 * 'hnsw' builds an HNSW index and takes each row's nearest neighbours as candidates: far cheaper
 * than all pairs at 100k+ rows, and it can only miss an edge when a row has more than `neighbors`
 * duplicates that are not otherwise connected.
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import { HnswIndex } from './hnsw.js';
import { blockRows, pairsAbove, squaredNorms } from './onnx.js';
import { checkThreads } from './types.js';

export type DuplicateMethod = 'exact' | 'hnsw' | 'auto';

export interface DuplicateOptions {
  /** Default 0.95. */
  minSimilarity?: number;
  /** 'auto' (default): exact up to `AUTO_EXACT_ROWS` rows, HNSW beyond. */
  method?: DuplicateMethod;
  /** Neighbours per row taken as candidates by the HNSW method (default 16). */
  neighbors?: number;
  threads?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Above this many rows 'auto' switches from all pairs to HNSW candidates (see bench/search.ts). */
export const AUTO_EXACT_ROWS = 30_000;

export class UnionFind {
  private readonly parent: Int32Array;
  private readonly size: Int32Array;

  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
    this.size = new Int32Array(n).fill(1);
  }

  find(x: number): number {
    let r = x;
    while (this.parent[r] !== r) r = this.parent[r]!;
    while (this.parent[x] !== r) {
      const next = this.parent[x]!;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }

  union(a: number, b: number): void {
    let ra = this.find(a);
    let rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra]! < this.size[rb]!) [ra, rb] = [rb, ra];
    this.parent[rb] = ra;
    this.size[ra]! += this.size[rb]!;
  }

  /** Components of two or more, members ascending; largest first, then by smallest member. */
  groups(): number[][] {
    const byRoot = new Map<number, number[]>();
    for (let i = 0; i < this.parent.length; i++) {
      const r = this.find(i);
      if (this.size[r]! < 2) continue;
      let g = byRoot.get(r);
      if (g === undefined) byRoot.set(r, (g = []));
      g.push(i);
    }
    return [...byRoot.values()].sort((a, b) => b.length - a.length || a[0]! - b[0]!);
  }
}

function cosine64(data: Float32Array, d: number, a: number, b: number): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0, ia = a * d, ib = b * d; j < d; j++) {
    const x = data[ia + j]!;
    const y = data[ib + j]!;
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? dot / Math.sqrt(aa * bb) : 0;
}

/** Groups of row indices whose members are (transitively) near-identical. */
export async function duplicateGroups(m: Matrix, opts: DuplicateOptions = {}): Promise<number[][]> {
  const uf = new UnionFind(m.rows);
  for (const p of await similarPairs(m, opts)) uf.union(p.a, p.b);
  return uf.groups();
}

/** Two rows and their cosine similarity. */
export interface SimilarPair {
  a: number;
  b: number;
  cosine: number;
}

/**
 * Every pair of rows with cosine ≥ minSimilarity (each once, a < b), scored in float64; with the
 * HNSW method, the pairs among each row's `neighbors` nearest.
 */
export async function similarPairs(m: Matrix, opts: DuplicateOptions = {}): Promise<SimilarPair[]> {
  const t = opts.minSimilarity ?? 0.95;
  if (!(t > 0 && t <= 1)) throw new ConvlensError('E_USAGE', `minSimilarity must be in (0, 1] (got ${t})`);
  const neighbors = opts.neighbors ?? 16;
  if (!(Number.isInteger(neighbors) && neighbors > 0))
    throw new ConvlensError('E_USAGE', `neighbors must be a positive integer (got ${neighbors})`);
  const method = opts.method ?? 'auto';
  if (method !== 'exact' && method !== 'hnsw' && method !== 'auto') {
    throw new ConvlensError('E_USAGE', `method must be exact, hnsw or auto (got ${String(method)})`);
  }
  const threads = checkThreads(opts.threads);
  const pairs: SimilarPair[] = [];
  const seen = new Set<number>(); // a·n + b: HNSW finds a pair from both ends
  const link = (i: number, j: number): void => {
    if (i === j) return;
    const [a, b] = i < j ? [i, j] : [j, i];
    const key = a * m.rows + b;
    if (seen.has(key)) return;
    seen.add(key);
    const cosine = cosine64(m.data, m.cols, a, b);
    if (cosine >= t) pairs.push({ a, b, cosine });
  };
  if (method === 'exact' || (method === 'auto' && m.rows <= AUTO_EXACT_ROWS)) await exactPairs(m, t, threads, link, opts.onProgress);
  else await hnswPairs(m, t, neighbors, threads, link, opts.onProgress);
  return pairs;
}

async function exactPairs(
  m: Matrix,
  t: number,
  threads: number,
  link: (a: number, b: number) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const { rows: n, cols: d } = m;
  if (n < 2) return;
  // float32 products may be low by this fraction of ‖a‖‖b‖: the in-graph test uses a lowered threshold
  const slack = 3 * d * 2 ** -24 + 1e-6;
  const norms = await squaredNorms(m.data, n, d, threads);
  for (let i = 0; i < n; i++) {
    // a zero row has cosine 0 with everything; an infinite norm keeps it out of every pair
    norms[i] = norms[i]! > 0 ? Math.sqrt(norms[i]!) : Infinity;
  }
  const step = blockRows(n);
  // pairs (i, j) with j ≥ i only: each block of query rows meets the rows from its own start on
  for (let start = 0; start < n; start += step) {
    const b = Math.min(step, n - start);
    const qt = new Float32Array(b);
    for (let i = 0; i < b; i++) qt[i] = (t - slack) * norms[start + i]!;
    const { rows, cols } = await pairsAbove(
      m.data.subarray(start * d, (start + b) * d),
      b,
      m.data.subarray(start * d),
      n - start,
      d,
      qt,
      norms.subarray(start),
      threads,
    );
    for (let p = 0; p < rows.length; p++) {
      const i = start + Number(rows[p]);
      const j = start + Number(cols[p]);
      if (j > i) link(i, j);
    }
    onProgress?.(start + b, n);
  }
}

async function hnswPairs(
  m: Matrix,
  t: number,
  neighbors: number,
  threads: number,
  link: (a: number, b: number) => void,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const n = m.rows;
  // progress: the build is the first half of the work, the searches the second
  const index = await HnswIndex.build(m, {
    metric: 'cosine',
    quantization: 'f16',
    threads,
    onProgress: (done) => onProgress?.(done, 2 * n),
  });
  const step = 4096;
  // f16 scores are close to the float32 ones; a lowered bar lets pairs at the threshold through to the float64 check
  const minSimilarity = t - 0.01;
  for (let start = 0; start < n; start += step) {
    const b = Math.min(step, n - start);
    const block = { rows: b, cols: m.cols, data: m.data.subarray(start * m.cols, (start + b) * m.cols) };
    const found = await index.searchBatch(block, { k: neighbors + 1, minSimilarity });
    found.forEach((list, i) => {
      for (const nb of list) link(start + i, nb.id);
    });
    onProgress?.(n + start + b, 2 * n);
  }
}
