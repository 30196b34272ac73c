/**
 * Reads a TF.js "layers model" (model.json + binary weight shards) from disk: the Keras layer
 * graph as configured and every weight as float32, by name ("conv1/kernel").
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConvlensError } from '../core/errors.js';

/** One layer of a Keras functional model config. */
export interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** names of the layers feeding this one (first call of the layer only) */
  inbound: string[];
}

export interface Weight {
  shape: number[];
  data: Float32Array;
}

export interface LayersModel {
  name: string;
  layers: KerasLayer[];
  inputLayers: string[];
  outputLayers: string[];
  weights: Map<string, Weight>;
}

interface ManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: string; quantization?: unknown }[];
}

/** The files a model.json refers to (model.json first), e.g. for hashing. */
export function layersModelFiles(modelJsonPath: string): string[] {
  const json = parseModelJson(modelJsonPath);
  const dir = dirname(modelJsonPath);
  return [modelJsonPath, ...json.weightsManifest.flatMap((g) => g.paths.map((p) => join(dir, p)))];
}

/** The parts of a Keras model_config that convlens reads (JSON as TF.js writes it). */
interface RawLayer {
  name: string;
  class_name: string;
  config?: Record<string, unknown>;
  /** per call: the inbound [layer, node, tensor, kwargs] entries */
  inbound_nodes?: unknown[][][];
}
interface RawTopology {
  class_name: string;
  config: { name?: string; layers: RawLayer[]; input_layers: unknown[][]; output_layers: unknown[][] };
}
type ModelTopology = RawTopology & { model_config?: RawTopology };

function parseModelJson(path: string): { modelTopology: ModelTopology; weightsManifest: ManifestGroup[] } {
  let json: { modelTopology?: ModelTopology; weightsManifest?: unknown } | null;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConvlensError('E_MODEL', `${path}: cannot read model.json (${(e as Error).message})`, { file: path, cause: e });
  }
  if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new ConvlensError('E_MODEL', `${path}: not a TF.js layers model (no modelTopology / weightsManifest)`, { file: path });
  }
  return json as { modelTopology: ModelTopology; weightsManifest: ManifestGroup[] };
}

/** The layer graph of a model.json, without reading any weights. */
export function readLayersModelTopology(modelJsonPath: string): KerasLayer[] {
  return parseTopology(parseModelJson(modelJsonPath), modelJsonPath).layers;
}

function parseTopology(
  json: { modelTopology: ModelTopology },
  modelJsonPath: string,
): { cfg: RawTopology['config']; layers: KerasLayer[] } {
  const topology = json.modelTopology.model_config ?? json.modelTopology;
  if (topology.class_name !== 'Model' && topology.class_name !== 'Functional') {
    throw new ConvlensError(
      'E_UNSUPPORTED_LAYER',
      `${modelJsonPath}: model class ${topology.class_name} is not supported (only functional Keras models)`,
      { file: modelJsonPath },
    );
  }
  const cfg = topology.config;
  const layers: KerasLayer[] = cfg.layers.map((l) => {
    const nodes = l.inbound_nodes ?? [];
    if (nodes.length > 1) {
      throw new ConvlensError('E_UNSUPPORTED_LAYER', `layer ${l.name}: shared layers (called ${nodes.length} times) are not supported`);
    }
    const inbound = nodes.length === 1 ? nodes[0]!.map((n) => String(n[0])) : [];
    return { name: l.name, className: l.class_name, config: l.config ?? {}, inbound };
  });
  return { cfg, layers };
}

export function readLayersModel(modelJsonPath: string): LayersModel {
  const json = parseModelJson(modelJsonPath);
  const { cfg, layers } = parseTopology(json, modelJsonPath);

  const dir = dirname(modelJsonPath);
  const weights = new Map<string, Weight>();
  for (const group of json.weightsManifest) {
    const buffers = group.paths.map((p) => {
      try {
        return readFileSync(join(dir, p));
      } catch (e) {
        throw new ConvlensError('E_MODEL', `${join(dir, p)}: weight shard missing or unreadable`, { file: join(dir, p), cause: e });
      }
    });
    const all = Buffer.concat(buffers);
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || w.quantization) {
        throw new ConvlensError(
          'E_UNSUPPORTED_LAYER',
          `weight ${w.name}: dtype ${w.dtype}${w.quantization ? ' (quantised)' : ''} is not supported`,
        );
      }
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > all.length) {
        throw new ConvlensError('E_MODEL', `${modelJsonPath}: weight shards end before ${w.name}`, { file: modelJsonPath });
      }
      const data = new Float32Array(count);
      Buffer.from(data.buffer).set(all.subarray(offset, offset + count * 4));
      offset += count * 4;
      weights.set(w.name, { shape: w.shape, data });
    }
  }
  return {
    name: cfg.name ?? 'model',
    layers,
    inputLayers: cfg.input_layers.map((x) => String(x[0])),
    outputLayers: cfg.output_layers.map((x) => String(x[0])),
    weights,
  };
}
