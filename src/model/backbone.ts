/**
 * A loaded backbone: the converted ONNX graph (float, or its int8 copy) in an onnxruntime-node
 * session that returns the class probabilities and the chosen embedding layer in one pass.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { ConvlensError } from '../core/errors.js';
import { startWorker } from '../core/worker.js';
import { PRECISIONS, type Precision } from './calibration.js';
import { ensureConverted } from './convert.js';
import { ensureQuantized, type QuantizedModel } from './int8.js';
import { GRAPH_INPUT } from './keras-to-onnx.js';
import { getBackbone, type BackboneSpec } from './registry.js';
import type { InferenceReply, InferenceRequest, InferenceWorkerData } from './inference-worker.js';
import { readLayersModelTopology } from './tfjs-layers.js';

export interface BackboneOptions {
  /** backbone id (default: the Keras ResNet50) */
  model?: string;
  /** layer whose output is the embedding (default: the backbone's avg_pool) */
  layer?: string;
  /** intra-op threads for ONNX Runtime (default: all cores) */
  threads?: number;
  /** folder for converted models (see resolveCacheDir) */
  cacheDir?: string;
  /**
   * fp32 (default): the converted float model. int8: its statically quantized copy, made and
   * cached on first use (calibration takes about a minute once), about 3× faster on CPUs with
   * VNNI; embeddings agree with fp32 to a cosine of 0.997 on average (README, "int8").
   */
  precision?: Precision;
  /** int8 only: the id of a calibration made by `convlens quantize --calibrate DIR` (default: the shipped images) */
  calibration?: string;
}

export class Backbone {
  readonly spec: BackboneSpec;
  /** the embedding layer */
  readonly layer: string;
  /** flattened size of the embedding */
  readonly dim: number;
  /** [channels, height, width] the network takes */
  readonly inputShape: readonly [number, number, number];
  readonly threads: number;
  readonly modelPath: string;
  readonly precision: Precision;
  /** int8: the id of the calibration its ranges come from */
  readonly calibration: string | undefined;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (o: Record<string, Float32Array>) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | null = null;

  private constructor(
    spec: BackboneSpec,
    layer: string,
    dim: number,
    inputShape: [number, number, number],
    threads: number,
    modelPath: string,
    worker: Worker,
    quantized: QuantizedModel | null,
  ) {
    this.precision = quantized ? 'int8' : 'fp32';
    this.calibration = quantized?.calibration;
    this.spec = spec;
    this.layer = layer;
    this.dim = dim;
    this.inputShape = inputShape;
    this.threads = threads;
    this.modelPath = modelPath;
    this.worker = worker;
    worker.on('message', (m: InferenceReply) => {
      if (m.type === 'result' || (m.type === 'error' && m.id !== null)) {
        const p = this.pending.get(m.id!);
        this.pending.delete(m.id!);
        if (this.pending.size === 0) worker.unref();
        if (m.type === 'result') p?.resolve(m.outputs);
        else p?.reject(new ConvlensError('E_MODEL', `inference failed: ${m.message}`));
      }
    });
    const fail = (e: Error): void => {
      this.failure = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new ConvlensError('E_MODEL', `inference thread failed: ${e.message}`, { cause: e })));
    worker.on('exit', () => fail(new ConvlensError('E_MODEL', 'the inference thread has stopped (backbone disposed?)')));
    // an idle backbone does not keep the process alive; a pending request does
    worker.unref();
  }

  static async load(options: BackboneOptions = {}): Promise<Backbone> {
    const spec = getBackbone(options.model);
    const layer = options.layer ?? spec.embeddingLayer;
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new ConvlensError('E_USAGE', `threads must be a positive integer (got ${threads})`);
    const precision = options.precision ?? 'fp32';
    if (!PRECISIONS.includes(precision)) {
      throw new ConvlensError('E_USAGE', `precision must be one of ${PRECISIONS.join(', ')} (got ${String(precision)})`);
    }
    if (options.calibration !== undefined && precision !== 'int8')
      throw new ConvlensError('E_USAGE', 'a calibration is for --precision int8');
    const outputs = layer === spec.probabilitiesLayer ? [layer] : [spec.probabilitiesLayer, layer];
    const { path, converted } = await ensureConverted(spec, outputs, options.cacheDir);
    const quantized =
      precision === 'int8'
        ? await ensureQuantized(spec, outputs, {
            ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
            ...(options.calibration !== undefined ? { calibration: options.calibration } : {}),
            threads,
          })
        : null;
    const inputShape = converted?.inputShape ?? inputShapeOf(spec);
    const workerData: InferenceWorkerData = {
      modelPath: quantized?.path ?? path,
      threads,
      input: GRAPH_INPUT,
      outputs,
      inputShape: [...inputShape],
    };
    const worker = startWorker(import.meta.url, 'inference-worker', workerData);
    const ready = await new Promise<Extract<InferenceReply, { type: 'ready' }>>((resolve, reject) => {
      const onMessage = (m: InferenceReply): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (m.type === 'ready') resolve(m);
        else {
          void worker.terminate();
          reject(
            new ConvlensError(
              'E_MODEL',
              `${path}: ONNX Runtime cannot load the converted model (${m.type === 'error' ? m.message : m.type}); delete it to reconvert`,
              { file: path },
            ),
          );
        }
      };
      const onError = (e: Error): void =>
        reject(new ConvlensError('E_MODEL', `cannot start the inference thread: ${e.message}`, { cause: e }));
      worker.on('message', onMessage);
      worker.once('error', onError);
    });
    const dim = Number(ready.outputShapes[layer]?.[1]);
    if (!Number.isFinite(dim)) {
      await worker.terminate();
      throw new ConvlensError('E_MODEL', `${path}: unexpected model signature`, { file: path });
    }
    return new Backbone(spec, layer, dim, inputShape, threads, quantized?.path ?? path, worker, quantized);
  }

  /** Floats per input item (C×H×W). */
  get inputSize(): number {
    return this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
  }

  /**
   * Run n preprocessed items ([n, C, H, W] floats) on the inference thread. Returns n×1000
   * probabilities and n×dim embeddings. With `transfer`, `input` moves to that thread without a
   * copy (and is unusable afterwards); otherwise it is copied.
   */
  async infer(
    input: Float32Array,
    n: number,
    options: { transfer?: boolean } = {},
  ): Promise<{ probabilities: Float32Array; embeddings: Float32Array }> {
    if (input.length !== n * this.inputSize) {
      throw new ConvlensError('E_INTERNAL', `infer: ${input.length} floats for ${n} items of ${this.inputSize}`);
    }
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    const outputs = await new Promise<Record<string, Float32Array>>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(
        { type: 'run', id, input, n } satisfies InferenceRequest,
        options.transfer ? [input.buffer as ArrayBuffer] : [],
      );
    });
    return { probabilities: outputs[this.spec.probabilitiesLayer]!, embeddings: outputs[this.layer]! };
  }

  async dispose(): Promise<void> {
    if (this.failure) return;
    this.worker.postMessage({ type: 'close' } satisfies InferenceRequest);
    await new Promise<void>((resolve) => {
      this.worker.ref();
      this.worker.once('exit', () => resolve());
    });
  }
}

/** Input shape from the source model, when the converted graph came from the cache. */
function inputShapeOf(spec: BackboneSpec): [number, number, number] {
  const layer = readLayersModelTopology(spec.modelJson()).find((l) => l.className === 'InputLayer');
  const shape = (layer?.config.batch_input_shape ?? layer?.config.batch_shape) as number[] | undefined;
  if (!shape || shape.length !== 4) throw new ConvlensError('E_MODEL', `${spec.id}: no 4-D input layer`);
  return [shape[3]!, shape[1]!, shape[2]!];
}
