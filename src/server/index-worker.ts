/**
 * An index job's thread: its own database connection and network. ONNX Runtime runs inference
 * synchronously on the calling thread, so indexing on the server's main thread would stall every
 * request for the length of a batch; here it stalls nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { indexFolders, type IndexProgress, type IndexSummary } from '../collection/indexer.js';
import { Store } from '../collection/store.js';
import { toConvlensError } from '../core/errors.js';
import { ConvLens, type LensOptions } from '../pipeline/lens.js';
import type { WorkerMessage } from './worker.js';

export interface IndexRequest {
  db: string;
  folder: string;
  prune: boolean;
  thumbnailSize: number;
  lens: LensOptions;
}

type Message = WorkerMessage<IndexProgress | { loading: true }, IndexSummary>;

const post = (m: Message): void => parentPort!.postMessage(m);

async function main(req: IndexRequest): Promise<IndexSummary> {
  const controller = new AbortController();
  parentPort!.on('message', (m: { type?: string }) => {
    if (m?.type === 'abort') controller.abort();
  });
  post({ type: 'progress', progress: { loading: true } });
  const lens = await ConvLens.load(req.lens);
  const store = Store.open(req.db, { create: true });
  let last = 0;
  try {
    return await indexFolders(store, lens, [req.folder], {
      prune: req.prune,
      thumbnailSize: req.thumbnailSize,
      signal: controller.signal,
      onProgress: (p) => {
        const now = Date.now();
        // a few updates a second are enough for a progress bar
        if (now - last < 200 && p.done < p.total) return;
        last = now;
        post({ type: 'progress', progress: p });
      },
    });
  } finally {
    store.close();
    await lens.dispose();
  }
}

if (parentPort) {
  main(workerData as IndexRequest).then(
    (result) => post({ type: 'done', result }),
    (e: unknown) => {
      const ce = toConvlensError(e);
      post({ type: 'error', code: ce.code, message: ce.message });
    },
  );
}
