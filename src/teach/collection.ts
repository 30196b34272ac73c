/**
 * Teaching from a collection's own labels: cross-validated metrics on the labelled images, then a
 * head trained on all of them classifies the collection. One function for `convlens knn` and the
 * web app's training, so both report the same numbers.
 */
import { ConvlensError } from '../core/errors.js';
import { matrix } from '../core/matrix.js';
import {
  complement,
  evaluate,
  selectRows,
  stratifiedKFold,
  trainHead,
  type Head,
  type HeadType,
  type TrainHeadOptions,
} from '../heads/index.js';
import type { CollectionStore } from '../store/index.js';

export interface CollectionTrainOptions {
  head?: HeadType;
  /** k-NN: neighbours (default: chosen by cross-validation) */
  k?: number;
  knnMetric?: 'cosine' | 'euclidean' | 'auto';
  seed?: number;
  /** also classify the labelled images (default: only the unlabelled ones) */
  all?: boolean;
  /** cross-validation folds at most (default 5; fewer when a label has fewer images) */
  folds?: number;
  signal?: AbortSignal;
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
}

/** Out-of-fold metrics: every labelled image predicted by a head that never saw it. */
export interface CrossValidatedMetrics {
  folds: number;
  accuracy: number;
  n: number;
  classes: { label: string; precision: number; recall: number; f1: number; support: number }[];
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  confusion: { labels: string[]; matrix: number[][] };
}

export interface CollectionPrediction {
  id: number;
  label: string;
  probability: number;
  /** probability of the best class minus that of the second best: low = uncertain (label it next) */
  margin: number;
}

/** A labelled image as predicted by the cross-validation head that never saw it. */
export interface OutOfFoldPrediction {
  id: number;
  /** its label */
  label: string;
  predicted: string;
  /** the probability of the predicted class */
  probability: number;
}

export interface CollectionTrainResult {
  head: Head;
  /** images per label that trained the head */
  labelled: { label: string; count: number }[];
  metrics: CrossValidatedMetrics | null;
  /** why there are no metrics, when there are none */
  note: string | null;
  predictions: CollectionPrediction[];
  /**
   * Every labelled image's out-of-fold prediction, in cross-validation (null without metrics):
   * the mistakes among them, most confident first, are the likely mislabelled images.
   */
  outOfFold: OutOfFoldPrediction[] | null;
}

/** The wrong out-of-fold predictions, most confident first. */
export function confidentMistakes(outOfFold: readonly OutOfFoldPrediction[]): OutOfFoldPrediction[] {
  return outOfFold.filter((p) => p.predicted !== p.label).sort((a, b) => b.probability - a.probability || a.id - b.id);
}

/** The image ids in each cell of a confusion matrix (rows: label, columns: prediction, in `labels` order). */
export function confusionIds(outOfFold: readonly OutOfFoldPrediction[], labels: readonly string[]): number[][][] {
  const at = new Map(labels.map((l, i) => [l, i]));
  const cells = labels.map(() => labels.map(() => [] as number[]));
  for (const p of outOfFold) {
    const r = at.get(p.label);
    const c = at.get(p.predicted);
    if (r !== undefined && c !== undefined) cells[r]![c]!.push(p.id);
  }
  return cells;
}

const MAX_FOLDS = 5;

function headOptions(o: CollectionTrainOptions): TrainHeadOptions {
  const seed = o.seed ?? 0;
  if ((o.head ?? 'knn') === 'knn')
    return { type: 'knn', seed, ...(o.k !== undefined ? { k: o.k } : {}), ...(o.knnMetric ? { metric: o.knnMetric } : {}) };
  return { type: o.head as 'softmax' | 'svm', seed };
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new DOMException('training cancelled', 'AbortError');
}

/** Train on the labelled images of a collection and classify the others (or all, with `all`). */
export async function trainOnCollection(store: CollectionStore, options: CollectionTrainOptions = {}): Promise<CollectionTrainResult> {
  const labels = await store.labels();
  const { ids, matrix: all } = await store.embeddings();
  const rowOf = new Map(Array.from(ids, (id, i) => [id, i]));
  const trainRows = [...labels.keys()].filter((id) => rowOf.has(id)).map((id) => rowOf.get(id)!);
  const y = trainRows.map((r) => labels.get(ids[r]!)!);
  const perClass = new Map<string, number>();
  for (const l of y) perClass.set(l, (perClass.get(l) ?? 0) + 1);
  if (perClass.size < 2) {
    throw new ConvlensError(
      'E_USAGE',
      `label images of at least two classes first ` +
        `(found ${perClass.size}: ${[...perClass.keys()].join(', ') || 'none'}; see "convlens label")`,
    );
  }
  const x = selectRows(all, trainRows);
  const opts = headOptions(options);

  // cross-validation
  let metrics: CrossValidatedMetrics | null = null;
  let note: string | null = null;
  let outOfFold: OutOfFoldPrediction[] | null = null;
  const folds = Math.min(options.folds ?? MAX_FOLDS, Math.min(...perClass.values()));
  if (folds < 2) note = 'no metrics: every label needs at least two images for cross-validation';
  else {
    const predicted = new Array<string>(y.length);
    const probability = new Array<number>(y.length).fill(1);
    const splits = stratifiedKFold(y, folds, { seed: options.seed ?? 0 });
    for (let f = 0; f < splits.length; f++) {
      checkAborted(options.signal);
      options.onProgress?.({ stage: 'cross-validation', done: f, total: folds });
      const val = splits[f]!;
      const train = complement(y.length, val);
      const trainLabels = train.map((i) => y[i]!);
      if (new Set(trainLabels).size < 2) {
        for (const i of val) predicted[i] = trainLabels[0]!;
        continue;
      }
      const head = trainHead(selectRows(x, train), trainLabels, opts);
      head.predict(selectRows(x, val)).forEach((p, j) => {
        predicted[val[j]!] = p.label;
        probability[val[j]!] = p.probability;
      });
      await new Promise((r) => setImmediate(r)); // let a cancellation through
    }
    const r = evaluate(y, predicted, [...perClass.keys()].sort());
    metrics = { folds, accuracy: r.accuracy, n: r.n, classes: r.classes, macro: r.macro, weighted: r.weighted, confusion: r.confusion };
    outOfFold = trainRows.map((row, i) => ({ id: ids[row]!, label: y[i]!, predicted: predicted[i]!, probability: probability[i]! }));
  }

  // the head on every labelled image, then the collection
  checkAborted(options.signal);
  options.onProgress?.({ stage: 'training and predicting', done: 0, total: 1 });
  const head = trainHead(x, y, opts);
  const targetRows = Array.from(ids.keys()).filter((r) => options.all || !labels.has(ids[r]!));
  const predictions: CollectionPrediction[] = [];
  const BLOCK = 512;
  for (let b = 0; b < targetRows.length; b += BLOCK) {
    checkAborted(options.signal);
    const rows = targetRows.slice(b, b + BLOCK);
    const block = matrix(rows.length, all.cols);
    rows.forEach((r, i) => block.data.set(all.data.subarray(r * all.cols, (r + 1) * all.cols), i * all.cols));
    head.predictTop(block, 2).forEach(([p, second], j) =>
      predictions.push({
        id: ids[rows[j]!]!,
        label: p!.label,
        probability: p!.probability,
        margin: p!.probability - (second?.probability ?? 0),
      }),
    );
  }
  const labelled = [...perClass.entries()]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1));
  return { head, labelled, metrics, note, predictions, outOfFold };
}
