/**
 * A collection: the one thing the CLI commands, the server routes and library users talk to for
 * an indexed set of images. It owns the policies both would otherwise repeat:
 *
 * - the lens rule: a collection keeps the model, layer, resize mode and precision it was made with; asking
 *   for another is `E_SETTINGS_MISMATCH`, and a new collection takes what is asked (default crop);
 * - the network is loaded only when an image must go through it (an unchanged re-index or a
 *   query by an indexed image never starts it);
 * - search: exact or HNSW (see search.ts), one score for results, histograms and thresholds;
 * - maps, labels and training, the long work on worker threads (core/tasks.ts).
 */
import { resolve } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { DEFAULT_RESIZE, RESIZE_MODES, type ResizeMode } from '../image/resize.js';
import { realPath } from '../image/files.js';
import { indexFolders, type IndexOptions, type IndexSummary } from '../indexer/index.js';
import type { Precision } from '../model/calibration.js';
import { RESNET50 } from '../model/registry.js';
import type { ConvLens, LensOptions } from '../pipeline/lens.js';
import type { ProjectProgress } from '../projection/index.js';
import type { Metric, Neighbour } from '../search/index.js';
import { loadImage } from '../image/decode.js';
import { openStore, type CollectionStore, type EmbeddingSettings, type ImageRow } from '../store/index.js';
import type { CollectionTrainOptions, CollectionTrainResult } from '../teach/collection.js';
import {
  cachedMap,
  collectionMap,
  MAP_SAMPLE,
  mapKey,
  placedMap,
  sampledMap,
  type CollectionMap,
  type MapCoordinates,
  type MapRequest,
  type PreviousMap,
} from './maps.js';
import { CollectionSearch, type SimilarityHistogram, type SimilarOptions } from './search.js';
import { LiveHnsw } from './live-hnsw.js';
import { HNSW_AUTO_MIN, type HnswWhen } from './hnsw-policy.js';
import {
  DUPLICATE_RULE,
  findDuplicates,
  hashesOf,
  identicalFiles,
  isDuplicate,
  ThumbnailHashes,
  type DuplicateGroup,
  type DuplicateOptions,
} from './duplicates.js';

/** Network options that are the caller's to choose (the collection decides model, layer, resize). */
export type RuntimeOptions = Omit<LensOptions, keyof LensChoice>;

/** The lens a caller asks for; a new collection takes it, an existing one must match it. */
export interface LensChoice {
  model?: string;
  layer?: string;
  resize?: ResizeMode;
  precision?: Precision;
  /** int8: a calibration id (default: the shipped calibration) */
  calibration?: string;
}

export interface CollectionOptions {
  /** create the collection when missing (default false) */
  create?: boolean;
  /** read only (read-only commands; works on read-only files and mounts) */
  readonly?: boolean;
  /** threads, batch size, pixel limit and model cache for images that must be embedded */
  runtime?: RuntimeOptions;
  /** the lens asked for (see LensChoice) */
  lens?: LensChoice;
  /** exact search on a worker thread (a server: its event loop never scores the whole collection) */
  searchThread?: boolean;
  /** past this many images, never read every embedding at once (default 250,000; see large.ts) */
  memoryRows?: number;
}

/** A query: an image of the collection (by id), an image file (indexed or not), or encoded bytes. */
export type Query = { id: number } | { file: string } | { bytes: Buffer };

/** The vector of a query, and the collection's image it is, when it is one. */
export interface QueryVector {
  vector: Float32Array;
  id?: number;
  /** probabilities, when the query went through the network */
  probabilities?: Float32Array;
}

export type SimilarQueryOptions = SimilarOptions;

export class Collection {
  readonly store: CollectionStore;
  private readonly options: CollectionOptions;
  private lensPromise: Promise<ConvLens> | null = null;
  private searchPromise: Promise<CollectionSearch> | null = null;

  private constructor(store: CollectionStore, options: CollectionOptions) {
    this.store = store;
    this.options = options;
  }

  static async open(location: string, options: CollectionOptions = {}): Promise<Collection> {
    const lens = options.lens;
    if (lens?.resize !== undefined && !RESIZE_MODES.includes(lens.resize)) {
      throw new ConvlensError('E_USAGE', `resize must be one of ${RESIZE_MODES.join(', ')} (got ${String(lens.resize)})`);
    }
    const store = await openStore(location, {
      ...(options.create ? { create: true } : {}),
      ...(options.readonly ? { readonly: true } : {}),
    });
    const c = new Collection(store, options);
    try {
      await c.lensOptions(); // an asked lens that differs from the collection's fails here, before any work
    } catch (e) {
      await store.close();
      throw e;
    }
    return c;
  }

  /** Where it is (a file path, or a URL without its password). */
  get location(): string {
    return this.store.location;
  }

  settings(): Promise<EmbeddingSettings | null> {
    return this.store.settings();
  }

  /**
   * The lens rule: the collection's recorded settings decide; a caller asking for other ones gets
   * E_SETTINGS_MISMATCH; a new collection takes what is asked, crop by default.
   */
  async lensOptions(): Promise<LensOptions> {
    const s = await this.store.settings();
    const asked = this.options.lens ?? {};
    if (s?.variant) {
      throw new ConvlensError('E_DB', `this store holds "${s.variant}" augmentation views, not a collection of images`, {
        file: this.location,
      });
    }
    if (s) {
      const recorded = { ...s, precision: s.precision ?? 'fp32' };
      const diffs = (['model', 'layer', 'resize', 'precision', 'calibration'] as const)
        .filter(
          (k) =>
            asked[k] !== undefined &&
            asked[k] !== recorded[k] &&
            !(k === 'model' && asked.model === 'resnet50' && s.model === RESNET50.id) &&
            !(k === 'calibration' && recorded.precision !== 'int8'),
        )
        .map((k) => `${k} ${recorded[k] ?? 'none'} (asked: ${asked[k]})`);
      if (diffs.length > 0) {
        throw new ConvlensError(
          'E_SETTINGS_MISMATCH',
          `this collection holds embeddings made with ${diffs.join(', ')}; leave the option out or use another --db`,
          {
            file: this.location,
          },
        );
      }
    }
    return {
      ...this.options.runtime,
      model: s?.model ?? asked.model ?? RESNET50.id,
      ...((s?.layer ?? asked.layer) ? { layer: s?.layer ?? asked.layer } : {}),
      resize: s?.resize ?? asked.resize ?? DEFAULT_RESIZE,
      ...(s?.precision === 'int8' ? { precision: 'int8' as const, calibration: s.calibration! } : {}),
      ...(!s && asked.precision ? { precision: asked.precision } : {}),
      ...(!s && asked.calibration ? { calibration: asked.calibration } : {}),
    };
  }

  /** The network with the collection's settings, loaded on first use and shared. */
  lens(): Promise<ConvLens> {
    if (!this.lensPromise) {
      // loaded only here: a command that never embeds never pays for the network's code
      this.lensPromise = this.lensOptions().then(async (o) => (await import('../pipeline/lens.js')).ConvLens.load(o));
      this.lensPromise.catch(() => (this.lensPromise = null));
    }
    return this.lensPromise;
  }

  /** True once the network has been loaded (tests and benches check that it was not). */
  get lensLoaded(): boolean {
    return this.lensPromise !== null;
  }

  /** Index folders into the collection (the network starts only if an image needs it). */
  async index(folders: string[], options: IndexOptions = {}): Promise<IndexSummary> {
    const commitEvery = options.commitEvery ?? this.options.runtime?.batchSize;
    const summary = await indexFolders(this.store, () => this.lens(), folders, { ...options, ...(commitEvery ? { commitEvery } : {}) });
    await this.dropSearch();
    return summary;
  }

  /** The search over the current embeddings (reopened by `refresh` when they change). */
  search(): Promise<CollectionSearch> {
    this.searchPromise ??= CollectionSearch.open(this.store, {
      thread: this.options.searchThread ?? false,
      ...(this.options.memoryRows !== undefined ? { memoryRows: this.options.memoryRows } : {}),
      // a server over a shared store: one HNSW index in memory, kept up to date, outliving every
      // search reopened (a one-off command scans instead: building an index costs more than one query)
      ...(this.store.changesSince && this.options.searchThread ? { live: (metric: Metric) => this.liveHnsw(metric).current() } : {}),
    });
    return this.searchPromise;
  }

  private readonly live = new Map<Metric, LiveHnsw>();

  /** The in-memory HNSW index of a shared collection (see live-hnsw.ts). */
  liveHnsw(metric: Metric = 'cosine'): LiveHnsw {
    let l = this.live.get(metric);
    if (!l) {
      l = new LiveHnsw(this.store, metric);
      this.live.set(metric, l);
    }
    return l;
  }

  private async dropSearch(): Promise<void> {
    const s = this.searchPromise;
    this.searchPromise = null;
    if (s) await (await s.catch(() => null))?.close();
  }

  /** Look again at the store; true when the embeddings changed (the next query sees them). */
  async refresh(): Promise<boolean> {
    if (!this.searchPromise) return false;
    const current = await this.searchPromise;
    if (!(await current.stale())) return false;
    await this.dropSearch();
    return true;
  }

  /** The row of an image file, if it is in the collection (any path that resolves to it). */
  async imageByFile(file: string): Promise<ImageRow | null> {
    let real: string;
    try {
      real = await realPath(resolve(file));
    } catch {
      return null;
    }
    return this.store.imageByFile(real);
  }

  /**
   * The vector for a query: an indexed image's stored embedding (its id comes back, to leave it
   * out of its own results), else the image run through the network now (not stored).
   */
  async query(q: Query): Promise<QueryVector> {
    if ('id' in q) {
      const v = await this.store.embedding(q.id);
      if (!v) throw new ConvlensError('E_NOT_FOUND', `image ${q.id} is not an embedded image of the collection`, { file: this.location });
      return { vector: v, id: q.id };
    }
    if ('file' in q) {
      const row = await this.imageByFile(q.file);
      const stored = row ? await this.store.embedding(row.id) : null;
      if (row && stored) return { vector: stored, id: row.id };
    }
    if (!(await this.store.settings()))
      throw new ConvlensError('E_DB', 'the collection is empty (index a folder first)', { file: this.location });
    const lens = await this.lens();
    for await (const { outcome } of lens.process(['file' in q ? q.file : q.bytes])) {
      if (!outcome.ok) throw outcome.error;
      return { vector: outcome.embedding, probabilities: outcome.probabilities };
    }
    throw new ConvlensError('E_INTERNAL', 'no result for the query image');
  }

  /** The images most like a query, best first (the query itself left out). */
  async similar(q: Query | QueryVector, options: SimilarQueryOptions = {}): Promise<{ query: QueryVector; results: Neighbour[] }> {
    const query = 'vector' in q ? q : await this.query(q);
    const search = await this.search();
    const exclude = [...(options.exclude ?? []), ...(query.id !== undefined ? [query.id] : [])];
    const results = await search.similar(query.vector, { ...options, exclude });
    return { query, results };
  }

  /** The distribution of similarities from a query to every other image. */
  async histogram(
    q: Query | QueryVector,
    options: {
      metric?: Metric;
      bins?: number;
      threshold?: number;
      /** past memoryRows: images in the sample (default 100,000) */ sampleSize?: number;
    } = {},
  ): Promise<{ query: QueryVector; histogram: SimilarityHistogram }> {
    const query = 'vector' in q ? q : await this.query(q);
    const search = await this.search();
    const histogram = await search.histogram(query.vector, { ...options, ...(query.id !== undefined ? { excludeId: query.id } : {}) });
    return { query, histogram };
  }

  /**
   * Copies of the same photo (resized, re-encoded, cropped, mirrored), largest group first, with
   * the one to keep (see duplicates.ts); `minSimilarity`: embeddings alone, at that cosine.
   */
  async duplicates(options: DuplicateOptions = {}): Promise<DuplicateGroup[]> {
    return findDuplicates(this.store, await this.search(), options);
  }

  /**
   * Images indexed since a time (ms) that are copies of images that were there before: each with
   * the earlier images it copies (what `index --report-duplicates` lists).
   */
  async duplicatesSince(since: number): Promise<{ id: number; of: number[] }[]> {
    const fresh = new Set<number>();
    for (let offset = 0; ; offset += 10_000) {
      const rows = await this.store.images({ offset, limit: 10_000, embeddedOnly: true });
      for (const r of rows) if (r.indexedAt >= since) fresh.add(r.id);
      if (rows.length < 10_000) break;
    }
    // one duplicate query per new image (cheap with the HNSW index), not a pass over the collection
    const out: { id: number; of: number[] }[] = [];
    const hashes = new ThumbnailHashes(this.store);
    for (const id of [...fresh].sort((a, b) => a - b)) {
      const of = (await this.duplicatesOf({ id }, { hashes })).filter((n) => !fresh.has(n.id)).map((n) => n.id);
      if (of.length > 0) out.push({ id, of });
    }
    return out;
  }

  /** Files with identical bytes, by content hash (no embeddings needed). */
  identicalFiles(): Promise<DuplicateGroup[]> {
    return identicalFiles(this.store);
  }

  /**
   * The images of the collection that are copies of a query image (the rule of duplicates.ts),
   * nearest first (`hashes`: a cache shared between calls).
   */
  async duplicatesOf(q: Query, options: { hashes?: ThumbnailHashes } = {}): Promise<Neighbour[]> {
    const query = await this.query(q);
    const { results } = await this.similar(query, { k: 64, minSimilarity: DUPLICATE_RULE.candidates });
    const hashes = options.hashes ?? new ThumbnailHashes(this.store);
    // the query's hash: from its stored thumbnail, else from a thumbnail made now as the indexer makes them
    const thumb = async (): Promise<Buffer | undefined> =>
      (await loadImage('file' in q ? q.file : (q as { bytes: Buffer }).bytes, { thumbnail: 128 })).thumbnail;
    const own = query.id !== undefined ? await hashes.of(query.id) : await thumb().then((t) => (t ? hashesOf(t) : null));
    const out: Neighbour[] = [];
    for (const r of results) {
      if (await isDuplicate(r.score, own, await hashes.of(r.id))) out.push(r);
    }
    return out;
  }

  /** Whether `index` should build the HNSW index now (none, stale, or failing its check). */
  async needsHnsw(metric: Metric = 'cosine'): Promise<boolean> {
    return !(await (await this.search()).hasFreshHnsw(metric));
  }

  /** Whether an HNSW index was built before (the user asked for one: keep it fresh). */
  async hadHnsw(metric: Metric = 'cosine'): Promise<boolean> {
    return (await this.search()).hadHnsw(metric);
  }

  /**
   * The HNSW rule after an index run, for the CLI and the server's index jobs alike: 'auto' builds
   * the index for collections of HNSW_AUTO_MIN images or more and for any that had one (a stale or
   * damaged one is rebuilt), 'always' rebuilds it, 'never' leaves it. A shared (PostgreSQL)
   * collection keeps its index in each server's memory instead (live-hnsw.ts). Returns the file
   * written, or null.
   */
  async refreshHnsw(when: HnswWhen, onProgress?: (done: number, total: number) => void): Promise<string | null> {
    if (when === 'never' || this.store.kind !== 'sqlite' || this.store.readonly) return null;
    if (when === 'auto') {
      const { embedded } = await this.store.count();
      if (embedded < HNSW_AUTO_MIN && !(await this.hadHnsw())) return null;
      if (!(await this.needsHnsw())) return null;
    }
    return this.buildHnsw('cosine', onProgress);
  }

  async buildHnsw(metric: Metric = 'cosine', onProgress?: (done: number, total: number) => void): Promise<string> {
    const path = await (await this.search()).buildHnsw(metric, onProgress);
    await this.dropSearch();
    return path;
  }

  /** The key a map of the current embeddings has (cached or not). */
  async mapKey(request: MapRequest): Promise<string> {
    return mapKey(await this.store.embeddingsVersion(), request);
  }

  /** A cached map by key. */
  cachedMap(key: string): Promise<CollectionMap | null> {
    return cachedMap(this.store, key);
  }

  /**
   * The 2-D map of the collection: cached, or computed on a worker thread and cached.
   * - `alignTo`, a previous map: a newly computed map is turned and scaled so the images both
   *   hold stay near their places (see alignMap);
   * - `placeOnto`, a previous map of the same method: updated in place instead — its images keep
   *   their places exactly and new ones join their nearest neighbours (see place.ts); when too
   *   much has changed for that, a new layout aligned to it.
   */
  async map(
    request: MapRequest,
    options: {
      onProgress?: ProjectProgress;
      signal?: AbortSignal;
      recompute?: boolean;
      alignTo?: MapCoordinates;
      placeOnto?: PreviousMap;
      /**
       * lay out this many images (a uniform sample) and place the others among them (see
       * sampledMap); default: all images up to `memoryRows`, MAP_SAMPLE past it
       */
      sample?: number;
    } = {},
  ): Promise<CollectionMap> {
    const { embedded } = await this.store.count();
    if (embedded === 0) throw new ConvlensError('E_DB', 'no embedded images (index a folder first)', { file: this.location });
    if (options.sample !== undefined && !(Number.isInteger(options.sample) && options.sample >= 10)) {
      throw new ConvlensError('E_USAGE', `the map sample must be an integer ≥ 10 (got ${options.sample})`);
    }
    const sample = options.sample ?? ((await this.search()).large ? MAP_SAMPLE : undefined);
    if (sample !== undefined && sample < embedded) {
      const { projectOnThread } = await import('../projection/index.js');
      return sampledMap(
        this.store,
        request,
        sample,
        async (e, req, progress) => projectOnThread(e.matrix, { ...req, ...(options.signal ? { signal: options.signal } : {}) }, progress),
        {
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          ...(options.recompute ? { recompute: true } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
    }
    if (options.placeOnto && !options.recompute) {
      const placed = await placedMap(
        this.store,
        request,
        options.placeOnto,
        async (vector, k, exclude) => (await this.similar({ vector }, { k, exclude, metric: 'cosine' })).results,
        {
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress ? { onProgress: (done: number, total: number) => void options.onProgress!(done, total) } : {}),
        },
      );
      if (placed) return placed;
      options = { ...options, alignTo: options.alignTo ?? options.placeOnto };
    }
    const { projectOnThread } = await import('../projection/index.js');
    return collectionMap(
      this.store,
      request,
      async (e: { ids: Int32Array; matrix: Matrix }, req, progress) =>
        projectOnThread(e.matrix, { ...req, ...(options.signal ? { signal: options.signal } : {}) }, progress),
      {
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.recompute ? { recompute: true } : {}),
        ...(options.alignTo ? { alignTo: options.alignTo } : {}),
      },
    );
  }

  /** Label images (by id); null removes their labels. Returns how many changed. */
  setLabels(ids: number[], label: string | null): Promise<number> {
    return this.store.setLabels(ids, label);
  }

  labels(): Promise<Map<number, string>> {
    return this.store.labels();
  }

  labelCounts(): Promise<{ label: string; count: number }[]> {
    return this.store.labelCounts();
  }

  /** Train a head on the labelled images, with cross-validated metrics, and classify the collection. */
  async train(options: CollectionTrainOptions = {}): Promise<CollectionTrainResult> {
    const { trainOnCollection } = await import('../teach/collection.js');
    return trainOnCollection(this.store, options);
  }

  async close(): Promise<void> {
    await this.dropSearch();
    const lens = this.lensPromise;
    this.lensPromise = null;
    if (lens) await (await lens.catch(() => null))?.dispose();
    await this.store.close();
  }
}
