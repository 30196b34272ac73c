/**
 * The server's light view of every row (path, root, top-1 class, embedded or failed) for listings
 * and search results without a database query per item, and the labels. It is reloaded when the
 * store changes (another connection committed: an index job, a CLI run), at most every few
 * seconds while changes keep coming, so requests never pay for a reload they did not need; the
 * collection's search is refreshed with it.
 */
import { basename } from 'node:path';
import { imagenetClasses } from '../imagenet/classes.js';
import type { Collection } from '../collection/index.js';
import type { CollectionStore } from '../store/index.js';

export interface CatalogueEntry {
  path: string;
  rootId: number;
  top1: number;
  top1p: number;
  embedded: boolean;
  error: { code: string; message: string } | null;
}

/** Changes whenever rows or embeddings are added, replaced or removed. */
async function rowsVersion(store: CollectionStore): Promise<string> {
  const c = await store.count();
  return `${await store.embeddingsVersion()}|${c.images}|${c.failed}`;
}

/** Everything derived from one version of the store's rows. */
export class Snapshot {
  /** every row (embedded or failed), by id */
  readonly rows = new Map<number, CatalogueEntry>();
  /** ids in id order */
  readonly ids: number[] = [];
  /** embedded ids in id order (the rows of the search matrix) */
  readonly embeddedIds: number[] = [];
  /** root id -> real path */
  readonly roots = new Map<number, string>();
  /** what the store would count (a million-row count takes it a third of a second): a row not embedded failed */
  get counts(): { images: number; embedded: number; failed: number } {
    return { images: this.ids.length, embedded: this.embeddedIds.length, failed: this.ids.length - this.embeddedIds.length };
  }

  private constructor(readonly version: string) {}

  static async load(store: CollectionStore): Promise<Snapshot> {
    const snap = new Snapshot(await rowsVersion(store));
    const roots = await store.roots();
    for (const r of roots) snap.roots.set(r.id, r.path);
    const rootIds = new Map(roots.map((r) => [r.path, r.id]));
    const PAGE = 50_000;
    for (let offset = 0; ; offset += PAGE) {
      const page = await store.images({ offset, limit: PAGE });
      for (const r of page) {
        const t = r.top5?.[0];
        const embedded = r.error === null;
        snap.rows.set(r.id, {
          path: r.path,
          rootId: rootIds.get(r.root) ?? -1,
          top1: t ? t.index : -1,
          top1p: t ? t.probability : 0,
          embedded,
          error: r.error,
        });
        snap.ids.push(r.id);
        if (embedded) snap.embeddedIds.push(r.id);
      }
      if (page.length < PAGE) break;
    }
    return snap;
  }

  /** What clients see of a root: its folder's name, never an absolute path. */
  rootName(e: CatalogueEntry): string {
    const p = this.roots.get(e.rootId);
    return p === undefined ? '' : p === '/' ? '/' : basename(p);
  }

  top1Of(e: CatalogueEntry): { index: number; label: string; probability: number } | null {
    return e.top1 >= 0 ? { index: e.top1, label: imagenetClasses()[e.top1]!.label, probability: e.top1p } : null;
  }
}

/**
 * The current snapshot, reloaded when the store has changed. A cheap change token tells that
 * something was committed; the rows are reloaded only when those commits changed them, at most
 * every `minReloadMs` while changes keep coming, and never while an index job of this server runs
 * (it reloads once at its end).
 */
export class LiveCatalogue {
  private snap: Snapshot;
  private token: string;
  private lastCheck = 0;
  private lastReload = 0;
  private labelCache: Map<number, string> | null = null;
  private pending = false;
  private holds = 0;
  private reloading: Promise<void> | null = null;

  private constructor(
    private readonly collection: Collection,
    snap: Snapshot,
    token: string,
    private readonly options: { checkEveryMs?: number; minReloadMs?: number },
  ) {
    this.snap = snap;
    this.token = token;
    this.lastReload = Date.now();
  }

  static async open(collection: Collection, options: { checkEveryMs?: number; minReloadMs?: number } = {}): Promise<LiveCatalogue> {
    return new LiveCatalogue(collection, await Snapshot.load(collection.store), await collection.store.changeToken(), options);
  }

  /** The snapshot to answer a request with. */
  async current(): Promise<Snapshot> {
    const now = Date.now();
    if (now - this.lastCheck >= (this.options.checkEveryMs ?? 500)) {
      this.lastCheck = now;
      const token = await this.collection.store.changeToken();
      if (token !== this.token) {
        this.token = token;
        this.labelCache = null;
        // labels written elsewhere change the token too: reload only when the rows changed
        if ((await rowsVersion(this.collection.store)) !== this.snap.version) this.pending = true;
      }
    }
    if (this.pending && this.holds === 0 && now - this.lastReload >= (this.options.minReloadMs ?? 3000)) await this.reload();
    return this.snap;
  }

  /** No reloads until the returned function is called (an index job of this server). */
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
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      try {
        this.pending = false;
        this.lastReload = Date.now();
        this.labelCache = null;
        this.token = await this.collection.store.changeToken();
        const snap = await Snapshot.load(this.collection.store);
        await this.collection.refresh();
        this.snap = snap;
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** image id -> label (cached; our own label writes call labelsChanged). */
  async labels(): Promise<Map<number, string>> {
    await this.current();
    this.labelCache ??= await this.collection.store.labels();
    return this.labelCache;
  }

  labelsChanged(): void {
    this.labelCache = null;
  }
}
