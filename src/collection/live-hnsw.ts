/**
 * An HNSW index kept in memory and up to date with a collection that other processes write (a
 * PostgreSQL collection shared by several servers and workers): built once from every embedding,
 * then brought forward from the store's change watermark (CollectionStore.changesSince), at most
 * once per `syncEveryMs`, before a query. New images show within a second or so of their commit;
 * nothing is read twice but the rows that changed.
 */
import type { Metric } from '../search/index.js';
import { HnswIndex } from '../search/index.js';
import type { CollectionStore } from '../store/index.js';

export class LiveHnsw {
  private index: HnswIndex | null = null;
  private watermark: string | null = null;
  private lastSync = 0;
  private syncing: Promise<HnswIndex | null> | null = null;
  /** syncs made and rows they brought (for tests and the bench) */
  readonly stats = { syncs: 0, upserted: 0, removed: 0 };

  constructor(
    private readonly store: CollectionStore,
    private readonly metric: Metric,
    private readonly options: { syncEveryMs?: number } = {},
  ) {
    if (!store.changesSince) throw new Error('LiveHnsw needs a store that reports its changes');
  }

  /** The index, brought up to date when the last look is older than syncEveryMs (null while the collection is empty). */
  current(): Promise<HnswIndex | null> {
    if (this.syncing) return this.syncing;
    if (this.index && Date.now() - this.lastSync < (this.options.syncEveryMs ?? 1000)) return Promise.resolve(this.index);
    this.syncing = this.sync().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async sync(): Promise<HnswIndex | null> {
    const changes = await this.store.changesSince!(this.watermark);
    this.lastSync = Date.now();
    this.stats.syncs++;
    if (!this.index && changes.ids.length > 0) {
      this.index = await HnswIndex.build(changes.matrix, { metric: this.metric, ids: changes.ids });
    } else if (this.index) {
      this.stats.removed += this.index.remove(changes.removed);
      if (changes.ids.length > 0) this.index.upsert(changes.matrix, changes.ids);
    }
    this.stats.upserted += changes.ids.length;
    this.watermark = changes.watermark;
    return this.index;
  }
}
