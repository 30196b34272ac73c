/**
 * Saving and loading heads: self-contained JSON (`toJSON` / `loadHead`) and the versioned model
 * directory (`saveModelDir` / `loadModelDir`) described in README.md.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConvlensError, readNpy, writeNpy, type Matrix } from '../core/index.js';
import { KnnHead } from './knn.js';
import { LinearHead } from './linear.js';
import { decodeJSONArray, type Head, type HeadJSON, type HeadState, type HeadType } from './types.js';

export const MODEL_FILE = 'convlens-model.json';
export const MODEL_FORMAT = 'convlens-model';
export const MODEL_FORMAT_VERSION = 1;
const HEAD_TYPES: readonly HeadType[] = ['softmax', 'knn', 'svm'];

/** What the embeddings came from; predict must produce embeddings the same way. */
export interface BackboneInfo {
  /** Model id, e.g. 'resnet50-imagenet'. */
  model: string;
  /** Layer the embedding is taken from, e.g. 'avg_pool'. */
  layer: string;
  /** Image resize mode used before the network ('crop' | 'squash'). */
  resize: string;
  /** Embedding width; must equal the head's. */
  dim: number;
  /** 'int8' when the embeddings came from the quantized network (absent: float32) */
  precision?: 'int8';
  /** int8: the calibration id */
  calibration?: string;
  /** 'flip': an image's embedding is the mean of its own and its mirror's (test-time augmentation) */
  tta?: 'flip';
  [key: string]: unknown;
}

export interface ModelMeta {
  backbone: BackboneInfo;
  /** Evaluation on held-out data (e.g. an EvaluationReport); any JSON value. */
  metrics?: unknown;
  /** Anything else worth keeping about the training run (data source, augmentation, seed, ...). */
  training?: Record<string, unknown>;
  /** Defaults to now. */
  createdAt?: Date;
}

export interface LoadedModel extends Required<Omit<ModelMeta, 'createdAt' | 'metrics'>> {
  head: Head;
  metrics: unknown;
  createdAt: string;
  formatVersion: number;
  /** The directory it was loaded from. */
  dir: string;
}

/** Rebuild a head from its state (arrays already in memory). */
export function headFromState(s: HeadState): Head {
  checkStateShape(s);
  return s.type === 'knn' ? KnnHead.fromState(s) : LinearHead.fromState(s);
}

/** Rebuild a head from `head.toJSON()` (e.g. after JSON.parse). */
export function loadHead(json: HeadJSON): Head {
  if (typeof json !== 'object' || json === null) throw new ConvlensError('E_BAD_INPUT', 'head JSON: not an object');
  const arrays: Record<string, Matrix> = {};
  for (const [name, a] of Object.entries(json.arrays ?? {})) {
    if (!isShape(a?.shape) || typeof a.base64 !== 'string')
      throw new ConvlensError('E_BAD_INPUT', `head JSON: array '${name}' needs a [rows, cols] shape and base64 data`);
    arrays[name] = decodeJSONArray(name, a);
  }
  return headFromState({ ...json, arrays });
}

/**
 * Write `head` and `meta` to `dir` (created if needed): one `.npy` per array, then
 * `convlens-model.json`, written to a temporary name and renamed so a crash never leaves a
 * half-written description. `.npy` files of a model previously saved there that the new one does
 * not use are removed. Returns the path of the JSON file.
 */
export function saveModelDir(dir: string, head: Head, meta: ModelMeta): string {
  checkBackbone(meta.backbone, join(dir, MODEL_FILE));
  if (meta.backbone.dim !== head.dim) {
    throw new ConvlensError('E_SETTINGS_MISMATCH', `backbone dim ${meta.backbone.dim} differs from the head's ${head.dim}`);
  }
  mkdirSync(dir, { recursive: true });
  const jsonPath = join(dir, MODEL_FILE);
  const previous = previousArrayFiles(jsonPath);
  const s = head.state();
  const arrays: Record<string, { file: string; shape: [number, number] }> = {};
  for (const [name, m] of Object.entries(s.arrays)) {
    const file = `${name}.npy`;
    writeNpy(join(dir, file), m);
    arrays[name] = { file, shape: [m.rows, m.cols] };
  }
  const doc = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    createdAt: (meta.createdAt ?? new Date()).toISOString(),
    backbone: meta.backbone,
    head: { type: s.type, classes: s.classes, dim: s.dim, config: s.config, fit: s.fit, arrays },
    metrics: meta.metrics ?? null,
    training: meta.training ?? {},
  };
  const tmp = `${jsonPath}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
  renameSync(tmp, jsonPath);
  const used = new Set(Object.values(arrays).map((a) => a.file));
  for (const f of previous) if (!used.has(f)) rmSync(join(dir, f), { force: true });
  return jsonPath;
}

/** Load a model directory (or its convlens-model.json). Every failure names the file at fault. */
export function loadModelDir(path: string): LoadedModel {
  if (!existsSync(path)) throw new ConvlensError('E_NOT_FOUND', `${path}: no such model directory`, { file: path });
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  const jsonPath = join(dir, MODEL_FILE);
  const bad = (msg: string, file = jsonPath): ConvlensError => new ConvlensError('E_BAD_INPUT', `${file}: ${msg}`, { file });
  if (!existsSync(jsonPath)) throw bad(`missing: ${dir} is not a convlens model directory`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || doc['format'] !== MODEL_FORMAT)
    throw bad(`not a convlens model description (format is not '${MODEL_FORMAT}')`);
  const version = doc['formatVersion'];
  if (!Number.isInteger(version) || (version as number) < 1) throw bad(`bad formatVersion ${JSON.stringify(version)}`);
  if ((version as number) > MODEL_FORMAT_VERSION) {
    throw bad(`format version ${version as number} was written by a newer convlens; this one reads up to ${MODEL_FORMAT_VERSION}`);
  }
  const backbone = doc['backbone'] as BackboneInfo;
  checkBackbone(backbone, jsonPath);
  const h = doc['head'] as Record<string, unknown> | undefined;
  if (typeof h !== 'object' || h === null) throw bad('no head description');
  if (!HEAD_TYPES.includes(h['type'] as HeadType))
    throw bad(`unknown head type ${JSON.stringify(h['type'])} (known: ${HEAD_TYPES.join(', ')})`);
  const arrays: Record<string, Matrix> = {};
  for (const [name, a] of Object.entries((h['arrays'] ?? {}) as Record<string, { file?: unknown; shape?: unknown }>)) {
    const file = a?.file;
    // array files live in the model directory itself: refuse paths that would leave it
    if (typeof file !== 'string' || basename(file) !== file || !file.endsWith('.npy'))
      throw bad(`array '${name}': bad file name ${JSON.stringify(file)}`);
    const npyPath = join(dir, file);
    if (!existsSync(npyPath)) throw bad(`missing (array '${name}' of the ${String(h['type'])} head)`, npyPath);
    const m = readNpy(npyPath);
    if (!isShape(a.shape) || m.rows !== a.shape[0] || m.cols !== a.shape[1]) {
      throw bad(`shape ${m.rows}×${m.cols} differs from the ${JSON.stringify(a.shape)} recorded in ${MODEL_FILE}`, npyPath);
    }
    arrays[name] = m;
  }
  let head: Head;
  try {
    head = headFromState({
      type: h['type'] as HeadType,
      classes: h['classes'] as string[],
      dim: h['dim'] as number,
      config: (h['config'] ?? {}) as Record<string, unknown>,
      fit: (h['fit'] ?? {}) as Record<string, unknown>,
      arrays,
    });
  } catch (e) {
    throw e instanceof ConvlensError ? bad(e.message) : e;
  }
  if (backbone.dim !== head.dim) throw bad(`backbone dim ${backbone.dim} differs from the head's ${head.dim}`);
  return {
    head,
    backbone,
    metrics: doc['metrics'] ?? null,
    training: (doc['training'] ?? {}) as Record<string, unknown>,
    createdAt: String(doc['createdAt'] ?? ''),
    formatVersion: version as number,
    dir,
  };
}

function previousArrayFiles(jsonPath: string): string[] {
  try {
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8')) as { head?: { arrays?: Record<string, { file?: unknown }> } };
    return Object.values(doc.head?.arrays ?? {})
      .map((a) => a.file)
      .filter((f): f is string => typeof f === 'string' && basename(f) === f && f.endsWith('.npy'));
  } catch {
    return [];
  }
}

function checkBackbone(b: BackboneInfo | undefined, file: string): void {
  const ok =
    typeof b === 'object' &&
    b !== null &&
    typeof b.model === 'string' &&
    typeof b.layer === 'string' &&
    typeof b.resize === 'string' &&
    Number.isInteger(b.dim) &&
    b.dim > 0 &&
    (b.precision === undefined || (b.precision === 'int8' && typeof b.calibration === 'string')) &&
    (b.tta === undefined || b.tta === 'flip');
  if (!ok)
    throw new ConvlensError('E_BAD_INPUT', `${file}: backbone must be {model, layer, resize, dim[, precision: "int8", calibration]}`, {
      file,
    });
}

function checkStateShape(s: HeadState): void {
  if (!HEAD_TYPES.includes(s.type)) throw new ConvlensError('E_BAD_INPUT', `unknown head type ${JSON.stringify(s.type)}`);
  const classes = s.classes as unknown;
  if (
    !Array.isArray(classes) ||
    classes.length < 2 ||
    !classes.every((c) => typeof c === 'string') ||
    new Set(classes).size !== classes.length
  ) {
    throw new ConvlensError('E_BAD_INPUT', 'classes must be at least 2 distinct strings');
  }
  if (!Number.isInteger(s.dim) || s.dim < 1) throw new ConvlensError('E_BAD_INPUT', `bad embedding dim ${JSON.stringify(s.dim)}`);
  if (typeof s.config !== 'object' || s.config === null) throw new ConvlensError('E_BAD_INPUT', 'head config must be an object');
}

function isShape(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0);
}
