/**
 * Indexing as a task (core/tasks.ts): a server's index job runs on a worker thread with its own
 * connection to the store and its own network, so inference never stalls a request.
 */
import { runTask, type CallOptions, type TaskContext } from '../core/tasks.js';
import type { IndexProgress, IndexSummary } from '../indexer/index.js';
import { Collection, type LensChoice, type RuntimeOptions } from './collection.js';

export interface IndexTaskInput {
  location: string;
  folders: string[];
  prune: boolean;
  thumbnailSize: number;
  runtime: RuntimeOptions;
  /** the lens of a new collection */
  lens: LensChoice;
  /** real folders every file must resolve inside */
  confine: string[];
}

export type IndexTaskProgress = IndexProgress | { loading: true };

export async function index(input: IndexTaskInput, ctx: TaskContext<IndexTaskProgress>): Promise<IndexSummary> {
  const collection = await Collection.open(input.location, { create: true, runtime: input.runtime, lens: input.lens });
  let last = 0;
  try {
    const summary = await collection.index(input.folders, {
      prune: input.prune,
      thumbnailSize: input.thumbnailSize,
      confine: input.confine,
      signal: ctx.signal,
      command: 'serve (index job)',
      lockWaitMs: 30_000,
      onProgress: (p) => {
        const now = Date.now();
        // a few updates a second are enough for a progress bar
        if (now - last < 200 && p.done < p.total) return;
        last = now;
        ctx.progress(p);
      },
    });
    // the same HNSW rule as `convlens index` (auto): a large collection's index is kept fresh
    if (!summary.interrupted) await collection.refreshHnsw('auto');
    return summary;
  } finally {
    await collection.close();
  }
}

/** `index` on a worker thread of its own (what a server's index job runs). */
export function indexOnThread(input: IndexTaskInput, options: CallOptions<IndexTaskProgress> = {}): Promise<IndexSummary> {
  return runTask<IndexTaskInput, IndexTaskProgress, IndexSummary>(import.meta.url, 'task', 'index', input, options);
}
