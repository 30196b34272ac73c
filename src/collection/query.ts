/**
 * Questions asked of a whole collection: the images most similar to one (in the collection or
 * not), every similarity from one image to the others (for histograms), near-duplicate groups.
 * The embeddings are loaded from the store once, when first needed, into an exact index (ids =
 * image ids); an HNSW index saved next to the database (`<db>.<metric>.hnsw`, see `buildHnsw`)
 * is used instead for top-k queries when it is up to date, and then nothing else is loaded: a
 * million-image collection answers from the memory-mapped index file alone.
 */
import { existsSync, statSync } from 'node:fs';
import { ConvlensError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { duplicateGroups, ExactIndex, HnswIndex, similarities, type Metric, type Neighbor, type SearchOptions } from '../search/index.js';
import type { ResizeMode } from '../image/decode.js';
import { ConvLens, type LensOptions } from '../pipeline/lens.js';
import type { Store } from './store.js';

export interface SimilarOptions extends SearchOptions {
  metric?: Metric;
  /** use the saved HNSW index when there is an up-to-date one (default true) */
  approximate?: boolean;
}

export function hnswPath(store: Store, metric: Metric): string {
  return `${store.path}.${metric}.hnsw`;
}

export class CollectionSearch {
  readonly store: Store;
  private loaded: { ids: Int32Array; matrix: Matrix; rowById: Map<number, number> } | null = null;
  private readonly exact = new Map<Metric, ExactIndex>();
  private readonly hnsw = new Map<Metric, HnswIndex | null>();
  private readonly version: string;

  private constructor(store: Store) {
    this.store = store;
    this.version = store.embeddingsVersion();
  }

  /** A search over the store's embeddings (read on first use, one copy in memory). */
  static open(store: Store): CollectionSearch {
    return new CollectionSearch(store);
  }

  private load(): NonNullable<CollectionSearch['loaded']> {
    if (!this.loaded) {
      const { ids, matrix } = this.store.embeddings();
      this.loaded = { ids, matrix, rowById: new Map(Array.from(ids, (id, row) => [id, row])) };
    }
    return this.loaded;
  }

  /** Image ids in row order of `matrix`. */
  get ids(): Int32Array {
    return this.load().ids;
  }

  /** Every embedding, one row per image. */
  get matrix(): Matrix {
    return this.load().matrix;
  }

  /** True when the store has changed since this was loaded (re-open to see the changes). */
  get stale(): boolean {
    return this.store.embeddingsVersion() !== this.version;
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.load().rowById.has(id);
  }

  vectorOf(id: number): Float32Array {
    if (this.loaded) {
      const row = this.loaded.rowById.get(id);
      const { cols, data } = this.loaded.matrix;
      if (row !== undefined) return data.subarray(row * cols, (row + 1) * cols);
    } else {
      // one row from the database: a query need not load the whole matrix
      const v = this.store.embedding(id);
      if (v) return v;
    }
    throw new ConvlensError('E_USAGE', `image ${id} has no embedding in this collection`);
  }

  private exactIndex(metric: Metric): ExactIndex {
    let index = this.exact.get(metric);
    if (!index) {
      index = new ExactIndex(this.matrix, { metric, ids: this.ids });
      this.exact.set(metric, index);
    }
    return index;
  }

  /** The saved HNSW index for this metric when it covers exactly the current embeddings. */
  private hnswIndex(metric: Metric): HnswIndex | null {
    if (this.hnsw.has(metric)) return this.hnsw.get(metric)!;
    const path = hnswPath(this.store, metric);
    let index: HnswIndex | null = null;
    if (existsSync(path) && this.store.getMeta(`hnsw.${metric}`) === this.version && statSync(path).size > 0) {
      index = HnswIndex.load(path, { view: true });
    }
    this.hnsw.set(metric, index);
    return index;
  }

  /** Most similar images to a vector (any image embedded with the collection's settings). */
  async similarToVector(q: Float32Array, options: SimilarOptions = {}): Promise<Neighbor[]> {
    const metric = options.metric ?? 'cosine';
    const { approximate = true, metric: _metric, ...search } = options;
    const hnsw = approximate ? this.hnswIndex(metric) : null;
    // thresholds without k need every match: only the exact scan can promise that
    if (hnsw && search.k !== undefined) return hnsw.search(q, search);
    return this.exactIndex(metric).search(q, search);
  }

  /** Most similar images to an image of the collection, itself excluded. */
  async similarToId(id: number, options: SimilarOptions = {}): Promise<Neighbor[]> {
    const exclude = [id, ...(options.exclude ?? [])];
    return this.similarToVector(this.vectorOf(id), { ...options, exclude });
  }

  /** Scores from a vector to every image (ids in `this.ids` order); `excludeId` is left out. */
  async scores(q: Float32Array, metric: Metric = 'cosine', excludeId?: number): Promise<{ ids: Int32Array; scores: Float32Array }> {
    const all = await similarities(q, this.matrix, metric);
    const row = excludeId === undefined ? undefined : this.load().rowById.get(excludeId);
    if (row === undefined) return { ids: this.ids, scores: all };
    const ids = new Int32Array(all.length - 1);
    const scores = new Float32Array(all.length - 1);
    ids.set(this.ids.subarray(0, row));
    ids.set(this.ids.subarray(row + 1), row);
    scores.set(all.subarray(0, row));
    scores.set(all.subarray(row + 1), row);
    return { ids, scores };
  }

  /** Groups of near-identical images (cosine ≥ minSimilarity), largest first, as image ids. */
  async duplicates(minSimilarity = 0.95, onProgress?: (done: number, total: number) => void): Promise<number[][]> {
    const groups = await duplicateGroups(this.matrix, { minSimilarity, ...(onProgress ? { onProgress } : {}) });
    return groups.map((g) => g.map((row) => this.ids[row]!));
  }

  /** Build and save the HNSW index for a metric (for large collections). */
  async buildHnsw(metric: Metric = 'cosine', onProgress?: (done: number, total: number) => void): Promise<string> {
    const index = await HnswIndex.build(this.matrix, { metric, ids: this.ids, ...(onProgress ? { onProgress } : {}) });
    const path = hnswPath(this.store, metric);
    index.save(path);
    this.store.setMeta(`hnsw.${metric}`, this.version);
    this.hnsw.delete(metric);
    return path;
  }
}

/**
 * The vector for a query image: its stored embedding when it is in the collection (its id is
 * returned, to exclude it from its own results), else embedded now with the collection's
 * settings (not stored).
 */
export async function queryVector(
  store: Store,
  input: string | Buffer,
  lensOptions: Omit<LensOptions, 'resize' | 'layer' | 'model'> = {},
): Promise<{ vector: Float32Array; id?: number }> {
  if (typeof input === 'string') {
    const row = store.imageByPath(input);
    const stored = row ? store.embedding(row.id) : null;
    if (row && stored) return { vector: stored, id: row.id };
  }
  const settings = store.settings;
  if (!settings) throw new ConvlensError('E_DB', 'the collection is empty (index a folder first)', { file: store.path });
  if (settings.variant)
    throw new ConvlensError('E_DB', `this store holds "${settings.variant}" augmentation views, not a searchable collection`, {
      file: store.path,
    });
  const lens = await ConvLens.load({ ...lensOptions, model: settings.model, layer: settings.layer, resize: settings.resize as ResizeMode });
  try {
    for await (const { outcome } of lens.process([input])) {
      if (!outcome.ok) throw outcome.error;
      return { vector: outcome.embedding };
    }
  } finally {
    await lens.dispose();
  }
  throw new ConvlensError('E_INTERNAL', 'no result for the query image');
}
