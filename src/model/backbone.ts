/**
 * A loaded backbone: the converted ONNX graph in an onnxruntime-node session that returns the
 * class probabilities and the chosen embedding layer in one pass.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ConvlensError } from '../core/errors.js';
import { ensureDir, hashFiles, resolveCacheDir, writeFileAtomic } from './cache.js';
import { GRAPH_INPUT, kerasToOnnx, type ConvertedGraph } from './keras-to-onnx.js';
import { encodeModel } from './onnx-proto.js';
import { getBackbone, type BackboneSpec } from './registry.js';
import { layersModelFiles, readLayersModel } from './tfjs-layers.js';

/** Bump when the converter's output for the same source changes. */
export const CONVERTER_VERSION = '1';
export const ONNX_OPSET = 17;

export interface BackboneOptions {
  /** backbone id (default: the Keras ResNet50) */
  model?: string;
  /** layer whose output is the embedding (default: the backbone's avg_pool) */
  layer?: string;
  /** intra-op threads for ONNX Runtime (default: all cores) */
  threads?: number;
  /** folder for converted models (see resolveCacheDir) */
  cacheDir?: string;
}

/** Convert a backbone to an ONNX graph with the given outputs (in memory; reads the weights). */
export function buildBackboneGraph(spec: BackboneSpec, outputs: string[]): ConvertedGraph {
  return kerasToOnnx(readLayersModel(spec.modelJson()), { outputs });
}

/** Path of the converted model for these outputs, converting and caching it on first use. */
export async function ensureConverted(spec: BackboneSpec, outputs: string[], cacheDir?: string): Promise<{ path: string; converted: ConvertedGraph | null }> {
  const sources = layersModelFiles(spec.modelJson());
  const hash = await hashFiles(sources, `convlens-converter-${CONVERTER_VERSION}\0${outputs.join(',')}`);
  const dir = ensureDir(resolveCacheDir(cacheDir));
  const path = join(dir, `${spec.id}-${hash.slice(0, 16)}.onnx`);
  if (existsSync(path)) return { path, converted: null };
  const converted = buildBackboneGraph(spec, outputs);
  const bytes = encodeModel({
    graph: converted.graph,
    opsetVersion: ONNX_OPSET,
    producerName: 'convlens',
    producerVersion: CONVERTER_VERSION,
    docString: `${spec.description}; outputs: ${outputs.join(', ')}`,
  });
  writeFileAtomic(path, bytes);
  return { path, converted };
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
  private readonly session: ort.InferenceSession;

  private constructor(spec: BackboneSpec, layer: string, dim: number, inputShape: [number, number, number], threads: number, modelPath: string, session: ort.InferenceSession) {
    this.spec = spec;
    this.layer = layer;
    this.dim = dim;
    this.inputShape = inputShape;
    this.threads = threads;
    this.modelPath = modelPath;
    this.session = session;
  }

  static async load(options: BackboneOptions = {}): Promise<Backbone> {
    const spec = getBackbone(options.model);
    const layer = options.layer ?? spec.embeddingLayer;
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new ConvlensError('E_USAGE', `threads must be a positive integer (got ${threads})`);
    const outputs = layer === spec.probabilitiesLayer ? [layer] : [spec.probabilitiesLayer, layer];
    const { path } = await ensureConverted(spec, outputs, options.cacheDir);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (e) {
      throw new ConvlensError('E_MODEL', `${path}: ONNX Runtime cannot load the converted model (${(e as Error).message}); delete it to reconvert`, { file: path, cause: e });
    }
    const meta = session.outputMetadata.find((m) => m.name === layer);
    const dim = meta && meta.isTensor ? Number(meta.shape[1]) : NaN;
    const inMeta = session.inputMetadata[0];
    const inShape = inMeta && inMeta.isTensor ? (inMeta.shape.slice(1).map(Number) as [number, number, number]) : undefined;
    if (!Number.isFinite(dim) || !inShape) throw new ConvlensError('E_MODEL', `${path}: unexpected model signature`, { file: path });
    return new Backbone(spec, layer, dim, inShape, threads, path, session);
  }

  /** Floats per input item (C×H×W). */
  get inputSize(): number {
    return this.inputShape[0] * this.inputShape[1] * this.inputShape[2];
  }

  /**
   * Run n preprocessed items ([n, C, H, W] floats). Returns n×1000 probabilities and
   * n×dim embeddings (views of ONNX Runtime's output buffers).
   */
  async infer(input: Float32Array, n: number): Promise<{ probabilities: Float32Array; embeddings: Float32Array }> {
    if (input.length !== n * this.inputSize) {
      throw new ConvlensError('E_INTERNAL', `infer: ${input.length} floats for ${n} items of ${this.inputSize}`);
    }
    const feeds = { [GRAPH_INPUT]: new ort.Tensor('float32', input, [n, ...this.inputShape]) };
    const out = await this.session.run(feeds);
    const probabilities = out[this.spec.probabilitiesLayer]!.data as Float32Array;
    const embeddings = out[this.layer]!.data as Float32Array;
    return { probabilities, embeddings };
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
