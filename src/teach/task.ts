/** Training on a collection as a task (core/tasks.ts): the server's event loop never trains. */
import { runTask, type CallOptions, type TaskContext } from '../core/tasks.js';
import type { HeadType } from '../heads/index.js';
import { openStore } from '../store/index.js';
import { trainOnCollection, type CollectionPrediction, type CrossValidatedMetrics, type OutOfFoldPrediction } from './collection.js';

export interface TrainTaskInput {
  location: string;
  head: HeadType;
  k?: number;
  seed: number;
}

export interface TrainTaskResult {
  classes: string[];
  labelled: { label: string; count: number }[];
  metrics: CrossValidatedMetrics | null;
  note: string | null;
  predictions: CollectionPrediction[];
  outOfFold: OutOfFoldPrediction[] | null;
}

export async function train(
  input: TrainTaskInput,
  ctx: TaskContext<{ stage: string; done: number; total: number }>,
): Promise<TrainTaskResult> {
  const store = await openStore(input.location, { readonly: true });
  try {
    const r = await trainOnCollection(store, {
      head: input.head,
      seed: input.seed,
      all: true,
      ...(input.k !== undefined ? { k: input.k } : {}),
      signal: ctx.signal,
      onProgress: ctx.progress,
    });
    return {
      classes: [...r.head.classes],
      labelled: r.labelled,
      metrics: r.metrics,
      note: r.note,
      predictions: r.predictions,
      outOfFold: r.outOfFold,
    };
  } finally {
    await store.close();
  }
}

/** `train` on a worker thread of its own (what a server's training job runs). */
export function trainOnThread(
  input: TrainTaskInput,
  options: CallOptions<{ stage: string; done: number; total: number }> = {},
): Promise<TrainTaskResult> {
  return runTask(import.meta.url, 'task', 'train', input, options);
}
