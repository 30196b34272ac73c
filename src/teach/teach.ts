/**
 * Teaching the network new classes: a labelled set -> cached embeddings (+ augmentation views)
 * -> a head (softmax / k-NN / SVM) -> a saved model directory; then predicting, evaluating and
 * exporting with that model. The CLI and the server are thin shells over these functions.
 */
import { writeFileAtomic } from '../core/files.js';
import { embedLabelled, embedLabelledTta, readLabelledSet, type EmbeddedSet, type LabelledItem } from './labelled.js';
import type { IndexFailure, IndexProgress } from '../indexer/index.js';
import { ConvlensError } from '../core/errors.js';
import { matrix, type Matrix } from '../core/matrix.js';
import type { ImageInput } from '../image/decode.js';
import {
  evaluateHead,
  loadModelDir,
  saveModelDir,
  selectRows,
  stratifiedSplit,
  trainHead,
  LinearHead,
  type EvaluationReport,
  type Head,
  type HeadType,
  type LoadedModel,
  type Prediction,
} from '../heads/index.js';
import { exportClassifierOnnx } from '../model/export.js';
import { augmentationViews, type Augmentation } from './augment.js';
import { ConvLens, type ImageFailed, type ImageOutcome, type LensOptions } from '../pipeline/lens.js';

export interface TrainOptions {
  head?: HeadType;
  /** validation fraction, stratified (0: no validation, no metrics) */
  val?: number;
  seed?: number;
  /** optimiser iterations at most (linear heads) */
  epochs?: number;
  augment?: readonly Augmentation[];
  /** k-NN: neighbours (default: chosen by cross-validation) */
  k?: number;
  knnMetric?: 'cosine' | 'euclidean' | 'auto';
  /** linear heads: L2 strength (default: chosen by cross-validation) */
  l2?: number;
  /** after validating, refit on all labelled rows for the saved model (default true) */
  refit?: boolean;
  /**
   * test-time augmentation: an image's embedding is the mean of its own and its mirror's, in
   * training and in every prediction of the saved model (recorded in it; twice the network time)
   */
  tta?: boolean;
  cacheDir?: string;
  onProgress?: (stage: string, p: IndexProgress) => void;
}

/** An image the model gets wrong: its label, what the model says, and how sure it is. */
export interface LabelledMistake {
  path: string;
  label: string;
  predicted: string;
  probability: number;
}

export interface TrainResult {
  head: Head;
  /** held-out metrics of the model trained on the training split (null without --val) */
  report: EvaluationReport | null;
  classes: readonly string[];
  /** rows per split */
  counts: { labelled: number; embedded: number; train: number; val: number; augmented: number };
  failed: IndexFailure[];
  seconds: { embed: number; train: number };
}

function headOptions(type: HeadType, o: TrainOptions) {
  const seed = o.seed ?? 0;
  if (type === 'knn')
    return { type, seed, ...(o.k !== undefined ? { k: o.k } : {}), ...(o.knnMetric ? { metric: o.knnMetric } : {}) } as const;
  return {
    type,
    seed,
    ...(o.l2 !== undefined ? { l2: o.l2 } : {}),
    ...(o.epochs !== undefined ? { maxIterations: o.epochs } : {}),
  } as const;
}

function concatRows(a: Matrix, b: Matrix): Matrix {
  const m = matrix(a.rows + b.rows, a.cols);
  m.data.set(a.data, 0);
  m.data.set(b.data, a.data.length);
  return m;
}

/** Embed a labelled set (cached) with the lens, then train and validate a head. */
export async function trainOnLabelled(items: LabelledItem[], lens: ConvLens, options: TrainOptions = {}): Promise<TrainResult> {
  const type = options.head ?? 'softmax';
  const val = options.val ?? 0.2;
  if (!(val >= 0 && val < 1)) throw new ConvlensError('E_USAGE', `--val must be in [0, 1) (got ${val})`);
  const t0 = performance.now();
  const embedOptions = { cacheDir: options.cacheDir, onProgress: (p: IndexProgress) => options.onProgress?.('embed', p) };
  const base = options.tta ? await embedLabelledTta(items, lens, embedOptions) : await embedLabelled(items, lens, embedOptions);
  if (base.matrix.rows === 0) throw new ConvlensError('E_BAD_INPUT', 'no image of the labelled set could be embedded');

  const split =
    val > 0 ? stratifiedSplit(base.labels, val, { seed: options.seed ?? 0 }) : { train: base.labels.map((_, i) => i), val: [] as number[] };
  const trainPaths = new Set(split.train.map((i) => base.paths[i]!));
  // augmentation views of the training images only: validation stays clean
  const views = augmentationViews(options.augment ?? []);
  const extras: EmbeddedSet[] = [];
  for (const variant of views) {
    const trainItems = items.filter((it) => trainPaths.has(it.path));
    extras.push(
      await embedLabelled(trainItems, lens, { cacheDir: options.cacheDir, variant, onProgress: (p) => options.onProgress?.('augment', p) }),
    );
  }
  const tEmbed = performance.now();

  // every view of an image shares its group, so the head's cross-validation never validates an
  // image on a row made from its own flip or crop (that would choose λ / k optimistically)
  const withViews = (rows: number[]): { x: Matrix; labels: string[]; groups: number[] } => {
    let x = selectRows(base.matrix, rows);
    const labels = rows.map((i) => base.labels[i]!);
    const groups = rows.map((i) => i);
    const groupOf = new Map(rows.map((i) => [base.paths[i]!, i]));
    for (const e of extras) {
      const r = e.paths.map((p, i) => (groupOf.has(p) ? i : -1)).filter((i) => i >= 0);
      x = concatRows(x, selectRows(e.matrix, r));
      labels.push(...r.map((i) => e.labels[i]!));
      groups.push(...r.map((i) => groupOf.get(e.paths[i]!)!));
    }
    return { x, labels, groups };
  };

  const trainSet = withViews(split.train);
  let head = trainHead(trainSet.x, trainSet.labels, { ...headOptions(type, options), groups: trainSet.groups });
  let report: EvaluationReport | null = null;
  if (split.val.length > 0) {
    report = evaluateHead(
      head,
      selectRows(base.matrix, split.val),
      split.val.map((i) => base.labels[i]!),
    );
    if (options.refit !== false) {
      const all = withViews(base.labels.map((_, i) => i));
      head = trainHead(all.x, all.labels, { ...headOptions(type, options), groups: all.groups });
    }
  }
  return {
    head,
    report,
    classes: head.classes,
    counts: {
      labelled: items.length,
      embedded: base.matrix.rows,
      train: split.train.length,
      val: split.val.length,
      augmented: trainSet.x.rows - split.train.length,
    },
    failed: base.failed,
    seconds: { embed: (tEmbed - t0) / 1000, train: (performance.now() - tEmbed) / 1000 },
  };
}

/** Train from a folder of class folders or a TSV and save the model directory. */
export async function trainModel(
  source: string,
  outDir: string,
  options: TrainOptions & { lens: LensOptions },
): Promise<TrainResult & { modelFile: string }> {
  const items = await readLabelledSet(source);
  const lens = await ConvLens.load(options.lens);
  try {
    const result = await trainOnLabelled(items, lens, options);
    const s = lens.settings;
    const modelFile = saveModelDir(outDir, result.head, {
      backbone: { ...s, ...(options.tta ? { tta: 'flip' } : {}) },
      metrics: result.report,
      training: {
        source,
        head: result.head.type,
        val: options.val ?? 0.2,
        seed: options.seed ?? 0,
        augment: options.augment ?? [],
        refit: options.refit !== false,
        tta: options.tta ?? false,
        counts: result.counts,
        failed: result.failed.length,
      },
    });
    return { ...result, modelFile };
  } finally {
    await lens.dispose();
  }
}

/** A saved model ready to classify images: its head plus a lens with the recorded settings. */
export class Classifier {
  readonly model: LoadedModel;
  readonly lens: ConvLens;

  private constructor(model: LoadedModel, lens: ConvLens) {
    this.model = model;
    this.lens = lens;
  }

  static async load(
    modelDir: string,
    lensOptions: Omit<LensOptions, 'resize' | 'layer' | 'model' | 'precision' | 'calibration'> = {},
  ): Promise<Classifier> {
    const model = loadModelDir(modelDir);
    const b = model.backbone;
    const lens = await ConvLens.load({
      ...lensOptions,
      model: b.model,
      layer: b.layer,
      resize: b.resize as 'squash' | 'crop',
      ...(b.precision === 'int8' ? { precision: 'int8', calibration: b.calibration } : {}),
    });
    if (lens.settings.dim !== b.dim) {
      await lens.dispose();
      throw new ConvlensError(
        'E_SETTINGS_MISMATCH',
        `${modelDir}: head expects ${b.dim}-d embeddings, the backbone gives ${lens.settings.dim}`,
      );
    }
    return new Classifier(model, lens);
  }

  get classes(): readonly string[] {
    return this.model.head.classes;
  }

  /** Whether predictions average each image with its mirror (the model was trained so). */
  get tta(): boolean {
    return this.model.backbone.tta === 'flip';
  }

  /** Top-N of the model's classes per input, in input order. */
  async *predict<T extends ImageInput>(
    inputs: Iterable<T> | AsyncIterable<T>,
    top = 5,
  ): AsyncGenerator<{ item: T; predictions?: Prediction[]; error?: ImageFailed['error'] }> {
    if (!this.tta) {
      for await (const { item, outcome } of this.lens.process(inputs)) {
        if (!outcome.ok) {
          yield { item: item as T, error: outcome.error };
          continue;
        }
        const x = matrix(1, outcome.embedding.length, outcome.embedding);
        yield { item: item as T, predictions: this.model.head.predictTop(x, top)[0]! };
      }
      return;
    }
    // both views of a chunk of inputs, then their mean (inputs are read twice, so they are held)
    let chunk: T[] = [];
    for await (const item of inputs) {
      chunk.push(item);
      if (chunk.length === 32) {
        yield* this.predictMirrored(chunk, top);
        chunk = [];
      }
    }
    if (chunk.length > 0) yield* this.predictMirrored(chunk, top);
  }

  private async *predictMirrored<T extends ImageInput>(
    chunk: T[],
    top: number,
  ): AsyncGenerator<{ item: T; predictions?: Prediction[]; error?: ImageFailed['error'] }> {
    const views: ImageOutcome[][] = [[], []];
    for (const [v, variant] of [undefined, { flip: true }].entries()) {
      for await (const { outcome } of this.lens.process(chunk, variant ? { variant } : {})) views[v]!.push(outcome);
    }
    for (const [i, item] of chunk.entries()) {
      const [a, b] = [views[0]![i]!, views[1]![i]!];
      if (!a.ok || !b.ok) {
        yield { item, error: (!a.ok ? a : (b as ImageFailed)).error };
        continue;
      }
      const x = matrix(1, a.embedding.length);
      for (let k = 0; k < x.cols; k++) x.data[k] = (a.embedding[k]! + b.embedding[k]!) / 2;
      yield { item, predictions: this.model.head.predictTop(x, top)[0]! };
    }
  }

  /**
   * Accuracy, per-class metrics and confusion matrix on a labelled set, and its mistakes, most
   * confident first (the likely mislabelled images).
   */
  async evaluate(
    source: string,
    options: { cacheDir?: string; onProgress?: (p: IndexProgress) => void } = {},
  ): Promise<{ report: EvaluationReport; failed: IndexFailure[]; mistakes: LabelledMistake[] }> {
    const items = await readLabelledSet(source);
    const set = this.tta ? await embedLabelledTta(items, this.lens, options) : await embedLabelled(items, this.lens, options);
    if (set.matrix.rows === 0) throw new ConvlensError('E_BAD_INPUT', `${source}: no image could be embedded`);
    const predicted = this.model.head.predict(set.matrix);
    const mistakes = predicted
      .map((p, i) => ({ path: set.paths[i]!, label: set.labels[i]!, predicted: p.label, probability: p.probability }))
      .filter((m) => m.predicted !== m.label)
      .sort((a, b) => b.probability - a.probability || (a.path < b.path ? -1 : 1));
    return { report: evaluateHead(this.model.head, set.matrix, set.labels), failed: set.failed, mistakes };
  }

  async dispose(): Promise<void> {
    await this.lens.dispose();
  }
}

/** Write the whole network (preprocessing + backbone + head + softmax) as one ONNX file. */
export function exportModel(modelDir: string, outFile: string): { classes: readonly string[]; bytes: number } {
  const model = loadModelDir(modelDir);
  const head = model.head;
  if (!(head instanceof LinearHead)) {
    throw new ConvlensError(
      'E_USAGE',
      `${modelDir}: a ${head.type} head cannot be exported to ONNX (export supports softmax and svm heads)`,
    );
  }
  const bytes = exportClassifierOnnx({
    model: model.backbone.model,
    layer: model.backbone.layer,
    resize: model.backbone.resize,
    classes: head.classes,
    head: head.linearExport(),
    mirrored: model.backbone.tta === 'flip',
  });
  writeFileAtomic(outFile, bytes);
  return { classes: head.classes, bytes: bytes.length };
}
