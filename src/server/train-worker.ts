/**
 * The training job's thread: cross-validated metrics on the labelled images, then a head trained
 * on all of them predicts every image of the collection. Runs off the server's main thread so
 * requests keep being answered while heads train (softmax / SVM choose their regularisation by
 * cross-validation, which takes seconds on a few hundred labels).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Store } from '../collection/store.js';
import { toConvlensError } from '../core/errors.js';
import { matrix } from '../core/matrix.js';
import { complement, evaluate, selectRows, stratifiedKFold, trainHead, type HeadType, type TrainHeadOptions } from '../heads/index.js';
import { classifyCollection } from '../teach/index.js';
import type { JobProgress, TrainMetrics } from './api-types.js';
import type { WorkerMessage } from './worker.js';

export interface TrainRequest {
  db: string;
  head: HeadType;
  k?: number;
  seed: number;
}

type TrainMessage = WorkerMessage<JobProgress, TrainOutcome>;

export interface TrainOutcome {
  classes: string[];
  labelled: { label: string; count: number }[];
  metrics: TrainMetrics | null;
  note: string | null;
  ids: number[];
  predicted: number[];
  probability: number[];
}

const MAX_FOLDS = 5;

function post(m: TrainMessage): void {
  parentPort!.postMessage(m);
}

function headOptions(req: TrainRequest): TrainHeadOptions {
  if (req.head === 'knn') return { type: 'knn', seed: req.seed, ...(req.k !== undefined ? { k: req.k } : {}) };
  return { type: req.head, seed: req.seed };
}

/** Out-of-fold predictions over the labelled images: every image is predicted by a head that never saw it. */
function crossValidate(
  store: Store,
  req: TrainRequest,
  labels: Map<number, string>,
): { metrics: TrainMetrics | null; note: string | null } {
  const ids = [...labels.keys()].filter((id) => store.embedding(id) !== null);
  const y = ids.map((id) => labels.get(id)!);
  const perClass = new Map<string, number>();
  for (const l of y) perClass.set(l, (perClass.get(l) ?? 0) + 1);
  const smallest = Math.min(...perClass.values());
  const folds = Math.min(MAX_FOLDS, smallest);
  if (folds < 2) return { metrics: null, note: 'no metrics: every label needs at least two images for cross-validation' };
  const dim = store.settings!.dim;
  const x = matrix(ids.length, dim);
  ids.forEach((id, i) => x.data.set(store.embedding(id)!, i * dim));
  const predicted = new Array<string>(ids.length);
  const splits = stratifiedKFold(y, folds, { seed: req.seed });
  splits.forEach((val, f) => {
    post({ type: 'progress', progress: { stage: 'cross-validation', done: f, total: folds } });
    const train = complement(ids.length, val);
    const trainLabels = train.map((i) => y[i]!);
    if (new Set(trainLabels).size < 2) {
      for (const i of val) predicted[i] = trainLabels[0]!;
      return;
    }
    const head = trainHead(selectRows(x, train), trainLabels, headOptions(req));
    head.predict(selectRows(x, val)).forEach((p, j) => (predicted[val[j]!] = p.label));
  });
  const classes = [...perClass.keys()].sort();
  const r = evaluate(y, predicted, classes);
  return {
    metrics: { folds, accuracy: r.accuracy, n: r.n, classes: r.classes, macro: r.macro, confusion: r.confusion },
    note: null,
  };
}

function main(req: TrainRequest): TrainOutcome {
  const store = Store.open(req.db, { readonly: true });
  try {
    const labels = store.labels();
    const { metrics, note } = crossValidate(store, req, labels);
    post({ type: 'progress', progress: { stage: 'training and predicting', done: 0, total: 1 } });
    const { head, predictions } = classifyCollection(store, {
      head: req.head,
      seed: req.seed,
      all: true,
      ...(req.k !== undefined ? { k: req.k } : {}),
    });
    const classIndex = new Map(head.classes.map((c, i) => [c, i]));
    return {
      classes: [...head.classes],
      labelled: store.labelCounts(),
      metrics,
      note,
      ids: predictions.map((p) => p.id),
      predicted: predictions.map((p) => classIndex.get(p.label)!),
      probability: predictions.map((p) => p.probability),
    };
  } finally {
    store.close();
  }
}

if (parentPort) {
  try {
    post({ type: 'done', result: main(workerData as TrainRequest) });
  } catch (e) {
    const ce = toConvlensError(e);
    post({ type: 'error', code: ce.code, message: ce.message });
  }
}
