/**
 * The server's in-memory view of the collection: the embeddings (one copy, as a CollectionSearch),
 * a light catalogue of every row (path, top-1 class) for listings and search results without a
 * database query per item, and the labels. It is reloaded when the database changes (another
 * connection committed: an index job, or a CLI run), at most every few seconds while changes keep
 * coming, so requests never pay for a reload they did not need.
 *
 * Similar-image queries go through a micro-batcher: queries that arrive while one batch is being
 * scored are scored together in the next `searchBatch` call (one matrix product instead of one pass
 * over all embeddings per query), which keeps the tail latency flat under concurrent load.
 */
import { CollectionSearch } from '../collection/query.js';
import type { Store } from '../collection/store.js';
import { ConvlensError } from '../core/errors.js';
import { matrix } from '../core/matrix.js';
import { imagenetClasses } from '../imagenet/classes.js';
import { ExactIndex, type Metric, type Neighbor } from '../search/index.js';

export interface SearchRequest {
  vector: Float32Array;
  metric: Metric;
  k: number;
  minSimilarity?: number;
  maxDistance?: number;
  /** an id never returned (the query itself) */
  excludeId?: number;
}

interface Pending {
  req: SearchRequest;
  resolve: (n: Neighbor[]) => void;
  reject: (e: unknown) => void;
}

/** Queries arriving while a batch runs are scored together in the next one. */
export class MicroBatcher {
  private queue: Pending[] = [];
  private running = false;
  /** batches run and queries answered (for tests and the bench) */
  readonly stats = { batches: 0, queries: 0 };

  constructor(
    private readonly index: (metric: Metric) => ExactIndex,
    private readonly maxBatch = 64,
  ) {}

  search(req: SearchRequest): Promise<Neighbor[]> {
    return new Promise((resolve, reject) => {
      const dims = this.index(req.metric).dims;
      if (req.vector.length !== dims) {
        reject(new ConvlensError('E_USAGE', `the query has ${req.vector.length} values but the collection holds ${dims}-d vectors`));
        return;
      }
      this.queue.push({ req, resolve, reject });
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
          const r = p.req;
          const key = `${r.metric}|${r.k}|${r.minSimilarity ?? ''}|${r.maxDistance ?? ''}`;
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
    const first = group[0]!.req;
    try {
      const index = this.index(first.metric);
      const dim = index.dims;
      const qs = matrix(group.length, dim);
      group.forEach((p, i) => qs.data.set(p.req.vector, i * dim));
      // one more than asked: the query's own id is dropped afterwards (exclusions differ per query)
      const results = await index.searchBatch(qs, {
        k: first.k + 1,
        ...(first.minSimilarity !== undefined ? { minSimilarity: first.minSimilarity } : {}),
        ...(first.maxDistance !== undefined ? { maxDistance: first.maxDistance } : {}),
      });
      this.stats.batches++;
      this.stats.queries += group.length;
      group.forEach((p, i) => {
        const own = p.req.excludeId;
        p.resolve(results[i]!.filter((n) => n.id !== own).slice(0, p.req.k));
      });
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  }
}

/** Changes whenever rows or embeddings are added, replaced or removed. */
function rowsVersion(store: Store): string {
  const c = store.count();
  return `${store.embeddingsVersion()}|${c.images}|${c.failed}`;
}

export interface CatalogueEntry {
  path: string;
  rootId: number;
  top1: number;
  top1p: number;
  embedded: boolean;
  error: { code: string; message: string } | null;
}

/** Everything derived from one version of the database's rows. */
export class Snapshot {
  readonly version: string;
  readonly search: CollectionSearch;
  /** every row (embedded or failed), by id */
  readonly rows: Map<number, CatalogueEntry>;
  /** ids in id order */
  readonly ids: number[];
  readonly roots: Map<number, string>;
  readonly batcher: MicroBatcher;
  private readonly exact = new Map<Metric, ExactIndex>();

  constructor(store: Store) {
    this.version = rowsVersion(store);
    this.search = CollectionSearch.open(store);
    this.roots = new Map(store.roots().map((r) => [r.id, r.path]));
    const rootIds = new Map(store.roots().map((r) => [r.path, r.id]));
    this.rows = new Map();
    this.ids = [];
    for (const r of store.images()) {
      const t = r.top5?.[0];
      this.rows.set(r.id, {
        path: r.path,
        rootId: rootIds.get(r.root) ?? -1,
        top1: t ? t.index : -1,
        top1p: t ? t.probability : 0,
        embedded: this.search.has(r.id),
        error: r.error,
      });
      this.ids.push(r.id);
    }
    this.batcher = new MicroBatcher((metric) => this.index(metric));
  }

  /** The exact index over the loaded embeddings (ids = image ids), one per metric, built on first use. */
  index(metric: Metric): ExactIndex {
    let index = this.exact.get(metric);
    if (!index) {
      index = new ExactIndex(this.search.matrix, { metric, ids: this.search.ids });
      this.exact.set(metric, index);
    }
    return index;
  }

  rootOf(e: CatalogueEntry): string {
    return this.roots.get(e.rootId) ?? '';
  }

  top1Of(e: CatalogueEntry): { index: number; label: string; probability: number } | null {
    return e.top1 >= 0 ? { index: e.top1, label: imagenetClasses()[e.top1]!.label, probability: e.top1p } : null;
  }
}

/**
 * The current snapshot, reloaded when the database has changed. `PRAGMA data_version` tells
 * (cheaply) that another connection committed; the embeddings are reloaded only when those
 * commits changed them, and at most every `minReloadMs` while changes keep coming.
 */
export class LiveCollection {
  private snap: Snapshot;
  private dataVersion: number;
  private lastCheck = 0;
  private lastReload = 0;
  private labelCache: Map<number, string> | null = null;
  private pending = false;
  private holds = 0;

  constructor(
    readonly store: Store,
    private readonly options: { checkEveryMs?: number; minReloadMs?: number } = {},
  ) {
    this.snap = new Snapshot(store);
    this.dataVersion = this.readDataVersion();
    this.lastReload = Date.now();
  }

  private readDataVersion(): number {
    return Number(this.store.db.pragma('data_version', { simple: true }));
  }

  /** The snapshot to answer a request with. */
  get current(): Snapshot {
    const now = Date.now();
    if (now - this.lastCheck >= (this.options.checkEveryMs ?? 500)) {
      this.lastCheck = now;
      const dv = this.readDataVersion();
      if (dv !== this.dataVersion) {
        this.dataVersion = dv;
        this.labelCache = null;
        // labels written elsewhere change data_version too: reload only when the rows changed
        if (rowsVersion(this.store) !== this.snap.version) this.pending = true;
      }
    }
    if (this.pending && this.holds === 0 && now - this.lastReload >= (this.options.minReloadMs ?? 3000)) this.reload();
    return this.snap;
  }

  /**
   * No reloads until the returned function is called (an index job in this process: reloading the
   * embeddings after every batch it commits would stall requests; it reloads once at its end).
   */
  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
    };
  }

  /** Reload now (after an index job, so its results show at once). */
  reload(): void {
    this.pending = false;
    this.lastReload = Date.now();
    this.labelCache = null;
    this.dataVersion = this.readDataVersion();
    const s = new Snapshot(this.store);
    this.snap = s;
  }

  /** image id -> label (cached; our own label writes call labelsChanged). */
  labels(): Map<number, string> {
    void this.current;
    this.labelCache ??= this.store.labels();
    return this.labelCache;
  }

  labelsChanged(): void {
    this.labelCache = null;
  }
}
