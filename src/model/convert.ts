/**
 * The float model: a backbone converted to ONNX and cached, keyed by a hash of its source files,
 * the converter version and the requested outputs, so a changed weight file or converter never
 * reuses a stale graph; its record (`<model>.onnx.json`) holds its digest, checked before use.
 */
import { join } from 'node:path';
import { artefactProblem, ensureDir, writeArtefact } from '../core/files.js';
import { warnOnce } from '../core/warn.js';
import { hashFiles, resolveCacheDir } from './cache.js';
import { kerasToOnnx, type ConvertedGraph } from './keras-to-onnx.js';
import { encodeModel } from '../onnx/index.js';
import type { BackboneSpec } from './registry.js';
import { layersModelFiles, readLayersModel } from './tfjs-layers.js';

/** Bump when the converter's output for the same source changes. */
export const CONVERTER_VERSION = '1';
export const ONNX_OPSET = 17;

/** Convert a backbone to an ONNX graph with the given outputs (in memory; reads the weights). */
export function buildBackboneGraph(spec: BackboneSpec, outputs: string[]): ConvertedGraph {
  return kerasToOnnx(readLayersModel(spec.modelJson()), { outputs });
}

/**
 * Path of the converted model for these outputs, converting and caching it on first use. A cached
 * file is checked against its recorded digest first: a damaged or half-written one is converted
 * again (once, with a warning), never used.
 */
export async function ensureConverted(
  spec: BackboneSpec,
  outputs: string[],
  cacheDir?: string,
): Promise<{ path: string; converted: ConvertedGraph | null }> {
  const sources = layersModelFiles(spec.modelJson());
  const hash = await hashFiles(sources, `convlens-converter-${CONVERTER_VERSION}\0${outputs.join(',')}`);
  const dir = ensureDir(resolveCacheDir(cacheDir));
  const path = join(dir, `${spec.id}-${hash.slice(0, 16)}.onnx`);
  const problem = await artefactProblem(path);
  if (problem === null) return { path, converted: null };
  if (problem !== 'missing') warnOnce(`the cached model ${path} cannot be trusted (${problem}); converting it again`);
  const converted = buildBackboneGraph(spec, outputs);
  const bytes = encodeModel({
    graph: converted.graph,
    opsetVersion: ONNX_OPSET,
    producerName: 'convlens',
    producerVersion: CONVERTER_VERSION,
    docString: `${spec.description}; outputs: ${outputs.join(', ')}`,
  });
  writeArtefact(path, bytes, { model: spec.id, sources: hash, converter: CONVERTER_VERSION, outputs });
  return { path, converted };
}

/** Digest of a backbone's source files and the converter: what calibrated ranges are valid for. */
export function sourcesDigest(spec: BackboneSpec): Promise<string> {
  return hashFiles(layersModelFiles(spec.modelJson()), `convlens-converter-${CONVERTER_VERSION}`);
}
