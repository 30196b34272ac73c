/**
 * Questions asked of a collection's embeddings, with one policy for the CLI, the server and the
 * library: most similar images, similarity histograms, near-duplicate groups.
 *
 * - Exact or approximate: a top-k query uses the saved HNSW index (`<db>.<metric>.hnsw`) while
 *   it matches the stored embeddings and its digest, and then nothing else is loaded (a million
 *   images answer from the memory-mapped file). Thresholds without k, histograms and duplicates
 *   read the embeddings (once, one copy) — up to `memoryRows` images; past that nothing reads them
 *   all at once (see large.ts): thresholds from the HNSW index or a scan in blocks, histograms
 *   from a sample, duplicate candidates from the HNSW neighbours.
 * - One score: every reported score is the exact (float64) cosine or distance, HNSW results
 *   included (rescored from the stored vectors), so a threshold equal to a reported score, or to
 *   a histogram's max, includes that image.
 * - A damaged, truncated or stale index file is never trusted: its digest is recorded when it is
 *   written (temporary file, then rename) and checked when it is opened; on a mismatch the search
 *   is exact, says so once, and the next `index` rebuilds it.
 * - Queries that arrive together (a server under load) are scored together: one matrix product
 *   for many queries instead of one pass over all embeddings each.
 */
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ConvlensError } from '../core/errors.js';
import { commitTempFile, removeStaleTemps, sha256File, tempPathFor } from '../core/files.js';
import { TaskThread } from '../core/tasks.js';
import { matrix, type Matrix } from '../core/matrix.js';
import { warnOnce } from '../core/warn.js';
import { similarityHistogram, type HistogramOptions, type SimilarityHistogram } from './histogram.js';
import {
  ExactIndex,
  exactScore,
  HnswIndex,
  similarPairs,
  type Metric,
  type Neighbour,
  type SearchOptions,
  type SimilarPair,
} from '../search/index.js';
import { buildFromBlocks, CHECK_SAMPLE, hnswPairs, hnswThreshold, sampledHistogram, sampleIds, scanSimilar, vectorsById } from './large.js';

export type { SimilarityHistogram };
import type { CollectionStore } from '../store/index.js';

/** Past this many images the embeddings are never read all at once (2 GB of float32 at 2048-d). */
export const MEMORY_ROWS = 250_000;

export interface SimilarOptions extends SearchOptions {
  metric?: Metric;
  /** use the saved HNSW index when it is fresh (default true) */
  approximate?: boolean;
}

/** What the database records about a saved HNSW file. */
interface HnswRecord {
  /** the embeddings version it was built from */
  version: string;
  sha256: string;
  bytes: number;
  /** device, inode, size and times when written: unchanged means untouched since */
  fingerprint: string;
}

export function hnswPath(location: string, metric: Metric): string {
  return `${location}.${metric}.hnsw`;
}

function fingerprint(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** What the exact path needs: an ExactIndex here, or one on the search thread. */
interface ExactBackend {
  readonly dims: number;
  search(q: Float32Array, opts: SearchOptions): Promise<Neighbour[]>;
  searchBatch(qs: Matrix, opts: SearchOptions): Promise<Neighbour[][]>;
}

type WireOptions = Omit<SearchOptions, 'exclude'> & { exclude?: number[] };
const wire = (o: SearchOptions): WireOptions => {
  const { exclude, ...rest } = o;
  return { ...rest, ...(exclude !== undefined ? { exclude: [...exclude] } : {}) };
};

/** An ExactIndex on a worker thread (search-task.ts) over the same shared embeddings. */
class ThreadedExact implements ExactBackend {
  constructor(
    private readonly thread: TaskThread,
    private readonly metric: Metric,
    readonly dims: number,
  ) {}
  search(q: Float32Array, opts: SearchOptions): Promise<Neighbour[]> {
    return this.thread.call('search', { metric: this.metric, q, options: wire(opts) });
  }
  searchBatch(qs: Matrix, opts: SearchOptions): Promise<Neighbour[][]> {
    return this.thread.call('searchBatch', { metric: this.metric, qs: qs.data, rows: qs.rows, options: wire(opts) });
  }
}

interface Pending {
  q: Float32Array;
  opts: SearchOptions;
  resolve: (n: Neighbour[]) => void;
  reject: (e: unknown) => void;
}

/** Exact queries arriving while a batch runs are scored together in the next one. */
export class MicroBatcher {
  private queue: Pending[] = [];
  private running = false;
  /** batches run and queries answered (for tests and the bench) */
  readonly stats = { batches: 0, queries: 0 };

  constructor(
    private readonly index: () => Promise<ExactBackend>,
    private readonly maxBatch = 64,
  ) {}

  search(q: Float32Array, opts: SearchOptions): Promise<Neighbour[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ q, opts, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const taken = this.queue.splice(0, this.queue.length);
        const groups = new Map<string, Pending[]>();
        for (const p of taken) {
          const o = p.opts;
          const key = `${o.k ?? ''}|${o.minSimilarity ?? ''}|${o.maxDistance ?? ''}`;
          const g = groups.get(key);
          if (g) g.push(p);
          else groups.set(key, [p]);
        }
        for (const group of groups.values()) {
          for (let start = 0; start < group.length; start += this.maxBatch) await this.run(group.slice(start, start + this.maxBatch));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async run(group: Pending[]): Promise<void> {
    try {
      const index = await this.index();
      if (group.length === 1) {
        const p = group[0]!;
        p.resolve(await index.search(p.q, p.opts));
        this.stats.batches++;
        this.stats.queries++;
        return;
      }
      const dim = index.dims;
      const qs = matrix(group.length, dim);
      group.forEach((p, i) => qs.data.set(p.q, i * dim));
      const first = group[0]!.opts;
      const extra = Math.max(...group.map((p) => [...(p.opts.exclude ?? [])].length));
      // exclusions differ per query: ask for enough more, then drop each query's own
      const results = await index.searchBatch(qs, {
        ...(first.k !== undefined ? { k: first.k + extra } : {}),
        ...(first.minSimilarity !== undefined ? { minSimilarity: first.minSimilarity } : {}),
        ...(first.maxDistance !== undefined ? { maxDistance: first.maxDistance } : {}),
      });
      this.stats.batches++;
      this.stats.queries += group.length;
      group.forEach((p, i) => {
        const ex = new Set(p.opts.exclude ?? []);
        const kept = results[i]!.filter((n) => !ex.has(n.id));
        p.resolve(p.opts.k !== undefined ? kept.slice(0, p.opts.k) : kept);
      });
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  }
}

export class CollectionSearch {
  readonly store: CollectionStore;
  /** the embeddings version this search reads */
  readonly version: string;
  /** where HNSW files live: next to the database file (none for a server-side store) */
  private readonly hnswBase: string | null;
  private loaded: Promise<{ ids: Int32Array; matrix: Matrix; rowById: Map<number, number> }> | null = null;
  private readonly exact = new Map<Metric, Promise<ExactBackend>>();
  /** exact scoring on a worker thread (a server), else here */
  private readonly threaded: boolean;
  private thread: Promise<{ thread: TaskThread; dims: number }> | null = null;
  private readonly hnsw = new Map<Metric, Promise<HnswIndex | null>>();
  private readonly batchers = new Map<Metric, MicroBatcher>();
  /** an in-memory index kept up to date with a shared store (see live-hnsw.ts), instead of a file */
  private readonly live: ((metric: Metric) => Promise<HnswIndex | null>) | null;
  /** embedded images, and whether they are too many to read at once */
  readonly size: number;
  readonly large: boolean;

  private constructor(
    store: CollectionStore,
    version: string,
    hnswBase: string | null,
    threaded: boolean,
    live: ((metric: Metric) => Promise<HnswIndex | null>) | null,
    memoryRows: number,
  ) {
    this.store = store;
    this.version = version;
    this.hnswBase = hnswBase;
    this.threaded = threaded;
    this.live = live;
    this.size = Number(version.split(':')[0]) || 0;
    this.large = this.size > memoryRows;
  }

  /**
   * A search over the store's embeddings (read on first use, one copy in memory). `thread`: exact
   * scoring runs on a worker thread over the same (shared) memory, never on the caller's thread.
   */
  static async open(
    store: CollectionStore,
    options: {
      hnswBase?: string | null;
      thread?: boolean;
      live?: (metric: Metric) => Promise<HnswIndex | null>;
      /** past this many images, never read all embeddings at once (default MEMORY_ROWS) */
      memoryRows?: number;
    } = {},
  ): Promise<CollectionSearch> {
    const base = options.hnswBase !== undefined ? options.hnswBase : store.kind === 'sqlite' ? store.location : null;
    return new CollectionSearch(
      store,
      await store.embeddingsVersion(),
      base,
      options.thread ?? false,
      options.live ?? null,
      options.memoryRows ?? MEMORY_ROWS,
    );
  }

  /** Stop the search thread, if any. */
  async close(): Promise<void> {
    const t = this.thread;
    this.thread = null;
    if (t) await (await t.catch(() => null))?.thread.close();
  }

  private load(): Promise<{ ids: Int32Array; matrix: Matrix; rowById: Map<number, number> }> {
    this.loaded ??= this.store
      .embeddings()
      .then(({ ids, matrix }) => ({ ids, matrix, rowById: new Map(Array.from(ids, (id, row) => [id, row])) }));
    return this.loaded;
  }

  /** Image ids and their embeddings, row by row (loads them). */
  async matrix(): Promise<{ ids: Int32Array; matrix: Matrix }> {
    const { ids, matrix } = await this.load();
    return { ids, matrix };
  }

  /** True when the store has changed since this search was opened. */
  async stale(): Promise<boolean> {
    return (await this.store.embeddingsVersion()) !== this.version;
  }

  /** The stored embedding of an image (from memory when loaded, else one row from the store). */
  async vectorOf(id: number): Promise<Float32Array> {
    if (this.loaded) {
      const { rowById, matrix: m } = await this.loaded;
      const row = rowById.get(id);
      if (row !== undefined) return m.data.subarray(row * m.cols, (row + 1) * m.cols);
    } else {
      const v = await this.store.embedding(id);
      if (v) return v;
    }
    throw new ConvlensError('E_USAGE', `image ${id} has no embedding in this collection`);
  }

  private exactIndex(metric: Metric): Promise<ExactBackend> {
    let p = this.exact.get(metric);
    if (!p) {
      p = this.threaded
        ? this.searchThread().then(({ thread, dims }) => new ThreadedExact(thread, metric, dims))
        : this.load().then(({ ids, matrix: m }) => new ExactIndex(m, { metric, ids }));
      this.exact.set(metric, p);
    }
    return p;
  }

  /**
   * The search thread, holding the only copy of the embeddings: their buffer moves there (ONNX
   * Runtime cannot read a SharedArrayBuffer, so the memory is not shared but handed over).
   */
  private searchThread(): Promise<{ thread: TaskThread; dims: number }> {
    this.thread ??= this.store.embeddings().then(async ({ ids, matrix: m }) => {
      const thread = TaskThread.start(import.meta.url, 'search-task');
      await thread.call(
        'load',
        { data: m.data, rows: m.rows, cols: m.cols, ids },
        { transfer: [m.data.buffer as ArrayBuffer, ids.buffer as ArrayBuffer] },
      );
      return { thread, dims: m.cols };
    });
    return this.thread;
  }

  private batcher(metric: Metric): MicroBatcher {
    let b = this.batchers.get(metric);
    if (!b) {
      b = new MicroBatcher(() => this.exactIndex(metric));
      this.batchers.set(metric, b);
    }
    return b;
  }

  /** Queries answered and batches run by the exact path (the server's load bench reads these). */
  batchStats(metric: Metric = 'cosine'): { batches: number; queries: number } {
    return this.batcher(metric).stats;
  }

  /** The saved HNSW index when it matches the embeddings and its recorded digest (or the live one); else null. */
  hnswIndex(metric: Metric): Promise<HnswIndex | null> {
    if (this.live) return this.live(metric);
    let p = this.hnsw.get(metric);
    if (!p) {
      p = this.openHnsw(metric);
      this.hnsw.set(metric, p);
    }
    return p;
  }

  /** Whether a fresh, verified HNSW index is there (else `index` should build one). */
  async hasFreshHnsw(metric: Metric = 'cosine'): Promise<boolean> {
    return (await this.hnswIndex(metric)) !== null;
  }

  /** Whether an HNSW index was ever built for this metric (fresh or not: the user wants one). */
  async hadHnsw(metric: Metric = 'cosine'): Promise<boolean> {
    return (await this.store.getMeta(`hnsw.${metric}`)) !== null;
  }

  private async openHnsw(metric: Metric): Promise<HnswIndex | null> {
    if (this.hnswBase === null) return null;
    const raw = await this.store.getMeta(`hnsw.${metric}`);
    if (!raw) return null;
    let record: HnswRecord;
    try {
      record = JSON.parse(raw) as HnswRecord;
    } catch {
      return null; // written by an older convlens: rebuilt by the next index
    }
    const path = hnswPath(this.hnswBase, metric);
    const distrust = (why: string): null => {
      warnOnce(`the HNSW index ${path} ${why}: searching exactly instead (the next "convlens index" rebuilds it)`);
      return null;
    };
    if (typeof record !== 'object' || record === null) return null;
    if (record.version === 'building') return distrust('was not finished (its index run was interrupted)');
    if (record.version !== this.version || typeof record.sha256 !== 'string') return null;
    let fp: string;
    try {
      fp = fingerprint(path);
    } catch {
      return distrust('is missing');
    }
    if (fp !== record.fingerprint) {
      // touched since it was written (copied, restored, or damaged): the digest decides
      const digest = await sha256File(path).catch(() => '');
      if (digest !== record.sha256) return distrust('does not match its recorded digest (damaged or replaced)');
    }
    try {
      return HnswIndex.load(path, { view: true });
    } catch (e) {
      return distrust(`cannot be read (${(e as Error).message})`);
    }
  }

  /** Most similar images to a vector (any image embedded with the collection's settings). */
  async similar(q: Float32Array, options: SimilarOptions = {}): Promise<Neighbour[]> {
    const metric = options.metric ?? 'cosine';
    const { approximate = true, metric: _metric, ...search } = options;
    // thresholds without k need every match: only the exact scan can promise that
    const hnsw = approximate && search.k !== undefined ? await this.hnswIndex(metric) : null;
    if (hnsw) {
      // a few more candidates than asked: rows deleted since the index last looked are dropped in rescoring
      const found = await hnsw.search(q, { ...search, k: search.k! + 8 });
      return (await this.rescored(q, found, metric, search)).slice(0, search.k);
    }
    if (this.large && !this.loaded) {
      const index = approximate && metric === 'cosine' && search.minSimilarity !== undefined ? await this.hnswIndex(metric) : null;
      if (index) {
        const found = await hnswThreshold(index, q, search, (ids) => vectorsById(this.store, ids));
        // the exactness check: matches the graph missed show against a uniform sample
        if (search.k !== undefined || !(await this.failsCheck(q, search.minSimilarity!, found, search.exclude))) return found;
        warnOnce(`the HNSW index of ${this.store.location} missed matches of a threshold: scanning exactly instead`);
      }
      return scanSimilar(this.store, q, metric, search);
    }
    return this.batcher(metric).search(q, search);
  }

  private checkSample: Promise<{ ids: Int32Array; matrix: Matrix }> | null = null;

  /**
   * Read ahead what the first threshold or histogram of a large collection would wait for (the
   * uniform sample: 10,000 random reads, seconds on a cold disk); a server calls this at start.
   */
  async prepare(): Promise<void> {
    if (this.large && !this.loaded) await this.sample();
  }

  /** The uniform sample kept for checks and histograms (read on first use). */
  private sample(): Promise<{ ids: Int32Array; matrix: Matrix }> {
    this.checkSample ??= this.store.embeddedIds().then((ids) => this.store.embeddingsOf(sampleIds(ids, CHECK_SAMPLE)));
    return this.checkSample;
  }

  /**
   * The exactness check of a threshold's HNSW answer, against a uniform sample of CHECK_SAMPLE
   * images scored exactly: the answer fails when a sampled image that passes the threshold is
   * missing from it (the graph's recall, measured on this query), or when it is clearly shorter
   * than the sample says (4 standard deviations and one sample step).
   */
  private async failsCheck(q: Float32Array, t: number, found: Neighbour[], exclude?: Iterable<number>): Promise<boolean> {
    const { ids, matrix: m } = await this.sample();
    const skip = new Set(exclude ?? []);
    const got = new Set(found.map((n) => n.id));
    let pass = 0;
    let s = 0;
    let missed = false;
    for (let row = 0; row < ids.length; row++) {
      const id = ids[row]!;
      if (skip.has(id)) continue;
      s++;
      // exact (float64) scores: the same rule the answer was filtered by
      if (exactScore('cosine', q, m.data.subarray(row * m.cols, (row + 1) * m.cols)) < t) continue;
      pass++;
      if (!got.has(id)) missed = true;
    }
    if (s === 0) return false;
    const p = pass / s;
    const scale = this.size / s;
    return missed || found.length < (pass - 4 * Math.sqrt(s * p * (1 - p)) - 1) * scale;
  }

  /** An HNSW index of the current embeddings, from memory when loaded, else read block by block. */
  private async buildInMemory(metric: Metric, onProgress?: (done: number, total: number) => void): Promise<HnswIndex> {
    if (this.loaded || !this.large) {
      const { ids, matrix: m } = await this.load();
      return HnswIndex.build(m, { metric, ids, ...(onProgress ? { onProgress } : {}) });
    }
    const dims = (await this.store.settings())?.dim ?? 0;
    return buildFromBlocks(this.store, dims, (d) => HnswIndex.create(d, { metric }), onProgress);
  }

  /**
   * Pairs of images (by id, a < b) with cosine ≥ t: all pairs from memory, or past `memoryRows`
   * each image's nearest in the HNSW index (the saved one when fresh, else one built for the call).
   */
  async pairs(t: number, options: { neighbors?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<SimilarPair[]> {
    if (this.large && !this.loaded) {
      const hnsw = (await this.hnswIndex('cosine')) ?? (await this.buildInMemory('cosine'));
      return hnswPairs(this.store, hnsw, t, options);
    }
    const { ids, matrix: m } = await this.load();
    const found = await similarPairs(m, {
      minSimilarity: t,
      ...(options.neighbors !== undefined ? { neighbors: options.neighbors } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return found.map((p) => ({ a: ids[p.a]!, b: ids[p.b]!, cosine: p.cosine }));
  }

  /** HNSW scores come from f16 vectors: give the exact ones (the same numbers the exact path reports). */
  private async rescored(q: Float32Array, found: Neighbour[], metric: Metric, search: SearchOptions): Promise<Neighbour[]> {
    const out: Neighbour[] = [];
    const vectors = await Promise.all(found.map((n) => this.store.embedding(n.id)));
    found.forEach((n, i) => {
      const v = vectors[i];
      if (v) out.push({ id: n.id, score: exactScore(metric, q, v) }); // a row deleted since is left out
    });
    const better =
      metric === 'cosine' ? (a: Neighbour, b: Neighbour) => b.score - a.score : (a: Neighbour, b: Neighbour) => a.score - b.score;
    return out
      .filter((n) =>
        metric === 'cosine'
          ? search.minSimilarity === undefined || n.score >= search.minSimilarity
          : search.maxDistance === undefined || n.score <= search.maxDistance,
      )
      .sort((a, b) => better(a, b) || a.id - b.id);
  }

  /** The distribution of scores from a vector to every image (see histogram.ts). */
  async histogram(q: Float32Array, options: HistogramOptions & { sampleSize?: number } = {}): Promise<SimilarityHistogram> {
    if (this.large && !this.loaded) {
      // a sample; the best score and the threshold's matches exact where the HNSW index answers them
      const metric = options.metric ?? 'cosine';
      const exclude = options.excludeId === undefined ? [] : [options.excludeId];
      const hnsw = await this.hnswIndex(metric);
      const best = hnsw ? (await this.similar(q, { metric, k: 1, exclude }))[0]?.score : undefined;
      const t = options.threshold;
      const matches =
        t === undefined
          ? undefined
          : (await this.similar(q, { metric, exclude, ...(metric === 'cosine' ? { minSimilarity: t } : { maxDistance: t }) })).length;
      return sampledHistogram(this.store, q, {
        ...options,
        ...(options.sampleSize === undefined ? { sample: await this.sample() } : {}),
        ...(best !== undefined ? { best } : {}),
        ...(matches !== undefined ? { matches } : {}),
      });
    }
    if (this.threaded) {
      const { thread } = await this.searchThread();
      return thread.call('histogram', { q, options });
    }
    const index = (await this.exactIndex(options.metric ?? 'cosine')) as ExactIndex;
    const { rowById, matrix: m } = await this.load();
    return similarityHistogram(index, m, (id) => rowById.get(id), q, options).catch((e: unknown) => {
      throw e instanceof ConvlensError && e.code === 'E_DB' ? new ConvlensError('E_DB', e.message, { file: this.store.location }) : e;
    });
  }

  /**
   * Build and save the HNSW index for a metric: written to a temporary file, renamed into place,
   * then its digest recorded (a run killed at any point leaves either no record or a file that
   * fails its check, never a trusted broken index).
   */
  async buildHnsw(metric: Metric = 'cosine', onProgress?: (done: number, total: number) => void): Promise<string> {
    if (this.hnswBase === null) throw new ConvlensError('E_USAGE', 'this store keeps no HNSW file');
    const index = await this.buildInMemory(metric, onProgress);
    const path = hnswPath(this.hnswBase, metric);
    removeStaleTemps(path);
    const tmp = tempPathFor(path);
    try {
      // the record goes first: a run killed from here on leaves no index the search trusts
      await this.store.setMeta(`hnsw.${metric}`, JSON.stringify({ version: 'building' }));
      index.save(tmp);
      const record: HnswRecord = { version: this.version, sha256: await sha256File(tmp), bytes: statSync(tmp).size, fingerprint: '' };
      commitTempFile(tmp, path);
      record.fingerprint = fingerprint(path);
      await this.store.setMeta(`hnsw.${metric}`, JSON.stringify(record));
    } finally {
      await rm(tmp, { force: true });
    }
    this.hnsw.delete(metric);
    return path;
  }
}
