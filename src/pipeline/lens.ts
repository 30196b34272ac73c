/**
 * The library's front door: load the backbone once, then classify / embed many images.
 *
 * Images stream through a pipeline: decoding (sharp, on libuv's thread pool) runs ahead of
 * inference (ONNX Runtime, on its own threads) by up to two batches, so the CPU never waits on
 * one while the other is idle. One network pass gives both the class probabilities and the
 * embedding, and a path given twice in one call is decoded and inferred once.
 */
import { resolve } from 'node:path';
import sharp from 'sharp';
import { ConvlensError, toConvlensError } from '../core/errors.js';
import { allFinite, zeroFraction } from '../core/matrix.js';

export { zeroFraction };
import {
  DEFAULT_RESIZE,
  describeInput,
  loadImage,
  RESIZE_MODES,
  type ImageInput,
  type ImageVariant,
  type LoadedImage,
  type ResizeMode,
} from '../image/decode.js';
import { caffePreprocess } from '../image/preprocess.js';
import { decodePredictions, type Prediction } from '../imagenet/classes.js';
import { Backbone, type BackboneOptions } from '../model/backbone.js';

export interface LensOptions extends BackboneOptions {
  /** how images are brought to 224×224 (default crop: better neighbours and top-5 than the seed's squash) */
  resize?: ResizeMode;
  /** images per network call (default 16) */
  batchSize?: number;
  /** images decoded at the same time (default 3) */
  decodeConcurrency?: number;
  /** decompression-bomb limit in pixels (default 100 M) */
  maxPixels?: number;
}

/** What makes two embeddings comparable: the network, its cut, the resize mode, the precision. */
export interface LensSettings {
  model: string;
  layer: string;
  resize: ResizeMode;
  dim: number;
  /** present for the int8 network only */
  precision?: 'int8';
  calibration?: string;
}

export interface ProcessOptions {
  /** also return a WebP thumbnail whose longer side is this many pixels */
  thumbnail?: number;
  /** run a transformed view of each image (augmentation) */
  variant?: ImageVariant;
}

export interface ImageOk {
  ok: true;
  /** 1000 ImageNet probabilities */
  probabilities: Float32Array;
  /** the embedding layer's output, flattened */
  embedding: Float32Array;
  width: number;
  height: number;
  format: string;
  thumbnail?: Buffer;
}

export interface ImageFailed {
  ok: false;
  error: ConvlensError;
}

export type ImageOutcome = ImageOk | ImageFailed;

export interface ClassifyResult {
  file: string;
  predictions?: Prediction[];
  error?: ConvlensError;
}

export interface EmbedResult {
  file: string;
  layer: string;
  embedding?: Float32Array;
  zeroFraction?: number;
  error?: ConvlensError;
}

/** A decoded image waits for its batch as RGB bytes (4× smaller than the network input it becomes). */
type Decoded = LoadedImage;

/** A small counting semaphore bounding concurrent decodes. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class ConvLens {
  readonly backbone: Backbone;
  readonly resize: ResizeMode;
  readonly batchSize: number;
  readonly decodeConcurrency: number;
  readonly maxPixels: number | undefined;

  private constructor(backbone: Backbone, options: LensOptions) {
    this.backbone = backbone;
    this.resize = options.resize ?? DEFAULT_RESIZE;
    this.batchSize = options.batchSize ?? 16;
    this.decodeConcurrency = options.decodeConcurrency ?? 3;
    this.maxPixels = options.maxPixels;
  }

  static async load(options: LensOptions = {}): Promise<ConvLens> {
    if (options.resize !== undefined && !RESIZE_MODES.includes(options.resize)) {
      throw new ConvlensError('E_USAGE', `resize must be one of ${RESIZE_MODES.join(', ')} (got ${String(options.resize)})`);
    }
    for (const [k, v] of [
      ['batchSize', options.batchSize],
      ['decodeConcurrency', options.decodeConcurrency],
    ] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1))
        throw new ConvlensError('E_USAGE', `${k} must be a positive integer (got ${v})`);
    }
    // libvips' own threads would fight ONNX Runtime for the cores; we parallelise across images instead
    sharp.concurrency(1);
    const backbone = await Backbone.load(options);
    return new ConvLens(backbone, options);
  }

  /** Settings that make embeddings comparable: recorded with every stored vector. */
  get settings(): LensSettings {
    const b = this.backbone;
    return {
      model: b.spec.id,
      layer: b.layer,
      resize: this.resize,
      dim: b.dim,
      ...(b.precision === 'int8' ? { precision: 'int8' as const, calibration: b.calibration! } : {}),
    };
  }

  private async decode(input: ImageInput, options: ProcessOptions): Promise<Decoded> {
    const [, h, w] = this.backbone.inputShape;
    const image = await loadImage(input, {
      resize: this.resize,
      size: h,
      maxPixels: this.maxPixels,
      thumbnail: options.thumbnail,
      variant: options.variant,
    });
    if (h !== w) throw new ConvlensError('E_MODEL', `non-square network input ${h}×${w} is not supported`);
    return image;
  }

  /**
   * Run every item through decode and the network, yielding outcomes in input order.
   * `getInput` turns an item into an image input (it may read files or throw a ConvlensError,
   * which becomes that item's error); the rest of the batch always runs.
   */
  async *processItems<T>(
    items: Iterable<T> | AsyncIterable<T>,
    getInput: (item: T) => ImageInput | Promise<ImageInput>,
    options: ProcessOptions = {},
  ): AsyncGenerator<{ item: T; outcome: ImageOutcome }> {
    const limiter = new Limiter(this.decodeConcurrency);
    const iterator = (
      Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]()
    ) as AsyncIterator<T> | Iterator<T>;
    // same path twice in one call: decode and infer once
    const byPath = new Map<string, Promise<Decoded>>();
    const window: { item: T; decoded: Promise<Decoded>; key?: string }[] = [];
    const lookahead = this.batchSize * 2;
    let exhausted = false;

    const fill = async (): Promise<void> => {
      while (!exhausted && window.length < lookahead) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const item = next.value;
        const input = await Promise.resolve()
          .then(() => getInput(item))
          .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        let decoded: Promise<Decoded>;
        let key: string | undefined;
        if (input instanceof Error) decoded = Promise.reject(input);
        else if (typeof input === 'string') {
          key = resolve(input);
          decoded = byPath.get(key) ?? limiter.run(() => this.decode(input, options));
          byPath.set(key, decoded);
        } else decoded = limiter.run(() => this.decode(input, options));
        decoded.catch(() => undefined); // handled when the slot is consumed
        window.push({ item, decoded, key });
      }
    };

    type Result = { probabilities: Float32Array; embedding: Float32Array };
    // results per decoded image (a path met twice shares one); dropped once no pending item needs them
    const results = new Map<Promise<Decoded>, Promise<Result>>();
    type Prepared = { batch: typeof window; settled: PromiseSettledResult<Decoded>[] };

    // wait for a batch's decodes and queue its network call (the inference thread runs calls in order)
    const prepare = async (): Promise<Prepared | null> => {
      if (window.length === 0) return null;
      const batch = window.splice(0, this.batchSize);
      const settled = await Promise.allSettled(batch.map((s) => s.decoded));
      await fill(); // start decoding the batch after this one
      const toRun: { decoded: Promise<Decoded>; value: Decoded }[] = [];
      settled.forEach((s, i) => {
        const decoded = batch[i]!.decoded;
        if (s.status === 'fulfilled' && !results.has(decoded) && !toRun.some((t) => t.decoded === decoded))
          toRun.push({ decoded, value: s.value });
      });
      if (toRun.length > 0) {
        const n = toRun.length;
        const size = this.backbone.inputSize;
        const input = new Float32Array(n * size);
        toRun.forEach((t, i) => caffePreprocess(t.value.rgb, input, i * size));
        const out = this.backbone.infer(input, n, { transfer: true });
        out.catch(() => undefined); // awaited below, per item
        const dim = this.backbone.dim;
        toRun.forEach((t, i) => {
          results.set(
            t.decoded,
            out.then(({ probabilities, embeddings }) => {
              const classes = probabilities.length / n;
              return {
                probabilities: probabilities.slice(i * classes, (i + 1) * classes),
                embedding: embeddings.slice(i * dim, (i + 1) * dim),
              };
            }),
          );
        });
      }
      return { batch, settled };
    };

    await fill();
    let current = await prepare();
    while (current) {
      // queue the next batch before handing out this one: the network never waits for the consumer
      const next = await prepare();
      const { batch, settled } = current;
      for (let i = 0; i < batch.length; i++) {
        const s = settled[i]!;
        const { item, decoded } = batch[i]!;
        if (s.status === 'rejected') {
          const name = describeInput(typeof item === 'string' ? item : '<input>');
          yield { item, outcome: { ok: false, error: toConvlensError(s.reason, name) } };
          continue;
        }
        const out = await results.get(decoded)!;
        if (!allFinite(out.probabilities) || !allFinite(out.embedding)) {
          // a damaged model gives NaN: that image fails, nothing non-finite goes on
          const name = describeInput(typeof item === 'string' ? item : '<input>');
          const error = new ConvlensError('E_MODEL', 'the network returned values that are not finite (a damaged model file?)', {
            file: name,
          });
          yield { item, outcome: { ok: false, error } };
          continue;
        }
        const { width, height, format, thumbnail } = s.value;
        yield { item, outcome: { ok: true, ...out, width, height, format, ...(thumbnail ? { thumbnail } : {}) } };
      }
      // forget what no later item shares (bounded memory on long runs)
      const later = new Set([...window, ...(next?.batch ?? [])].map((w) => w.decoded));
      for (const { decoded, key } of batch) {
        if (later.has(decoded)) continue;
        results.delete(decoded);
        if (key !== undefined) byPath.delete(key);
      }
      current = next;
    }
  }

  /** Run inputs (paths, encoded bytes or raw pixels), yielding outcomes in input order. */
  process(
    inputs: Iterable<ImageInput> | AsyncIterable<ImageInput>,
    options: ProcessOptions = {},
  ): AsyncGenerator<{ item: ImageInput; outcome: ImageOutcome }> {
    return this.processItems(inputs, (x) => x, options);
  }

  /** Keras-style classification: top-N ImageNet classes per input. */
  async classify(inputs: ImageInput[], options: { top?: number } = {}): Promise<ClassifyResult[]> {
    const top = options.top ?? 5;
    const out: ClassifyResult[] = [];
    for await (const { item, outcome } of this.process(inputs)) {
      const file = describeInput(item);
      out.push(outcome.ok ? { file, predictions: decodePredictions(outcome.probabilities, top) } : { file, error: outcome.error });
    }
    return out;
  }

  /** Embeddings of the configured layer (default avg_pool, 2048-d) per input. */
  async embed(inputs: ImageInput[]): Promise<EmbedResult[]> {
    const out: EmbedResult[] = [];
    const layer = this.backbone.layer;
    for await (const { item, outcome } of this.process(inputs)) {
      const file = describeInput(item);
      out.push(
        outcome.ok
          ? { file, layer, embedding: outcome.embedding, zeroFraction: zeroFraction(outcome.embedding) }
          : { file, layer, error: outcome.error },
      );
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.backbone.dispose();
  }
}
