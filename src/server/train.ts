/**
 * Training a head on the collection's labels, on a worker thread (train-worker.ts).
 */
import type { JobProgress } from './api-types.js';
import type { TrainOutcome, TrainRequest } from './train-worker.js';
import { runWorker } from './worker.js';

export type { TrainOutcome, TrainRequest };

/** Train on a worker thread; aborting ends it at once (training keeps nothing worth saving). */
export function trainInWorker(req: TrainRequest, onProgress: (p: JobProgress) => void, signal: AbortSignal): Promise<TrainOutcome> {
  return runWorker<JobProgress, TrainOutcome>('train-worker', req, onProgress, signal, 0);
}
