/**
 * Calibration sets and records for the int8 model.
 *
 * A calibration set is a folder of images seen through a few views (crop, squash, flips, corner
 * crops), so a few dozen photos give a few hundred activations patterns. Its id is a digest of
 * the images' bytes, the views and the range method: the same set always gives the same id, so
 * the int8 model can be looked up before anything is run, and a collection records the id of the
 * calibration its embeddings were made with.
 *
 * The default set ships with the package: the CC0 / public-domain / BSD photos of `examples/photos`
 * (scikit-image and OpenCV test images, licences in examples/photos/index.tsv). The ImageNet and
 * flower samples used for measuring accuracy are not redistributable and are not used here, which
 * also keeps calibration and evaluation images apart.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConvlensError } from '../core/errors.js';
import { artefactProblem, ensureDir, writeArtefact } from '../core/files.js';
import type { ImageVariant } from '../image/decode.js';
import { walkImages } from '../image/files.js';
import type { ResizeMode } from '../image/resize.js';
import type { TensorRange } from './quantize.js';
import { rangeMethodName, type RangeMethod } from './range-observer.js';

/** Bump when the quantized graph for the same ranges changes. */
export const QUANTIZER_VERSION = '1';

export type Precision = 'fp32' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'int8'];

/** The default range method, chosen by measurement (README, "int8"). */
export const DEFAULT_RANGE_METHOD: RangeMethod = { kind: 'minmax' };

export interface CalibrationView {
  resize: ResizeMode;
  variant?: ImageVariant;
}

/** Six views of each image: the two resize modes, a mirror, three corner crops. */
export const CALIBRATION_VIEWS: readonly CalibrationView[] = [
  { resize: 'crop' },
  { resize: 'squash' },
  { resize: 'crop', variant: { flip: true } },
  { resize: 'crop', variant: { corner: 'tl' } },
  { resize: 'crop', variant: { corner: 'br' } },
  { resize: 'squash', variant: { flip: true, corner: 'tr' } },
];

export interface CalibrationSet {
  id: string;
  /** the folder, for people */
  source: string;
  files: string[];
  views: readonly CalibrationView[];
  method: RangeMethod;
}

/** What calibration measured, stored as `<cache>/calibrations/<id>.json`. */
export interface CalibrationRecord {
  id: string;
  model: string;
  /** digest of the float model's source files and converter: ranges are only valid for it */
  sources: string;
  quantizer: string;
  method: string;
  source: string;
  images: number;
  views: number;
  skipped: { file: string; reason: string }[];
  ranges: Record<string, [number, number]>;
}

/** The images shipped for calibration (examples/photos in the package). */
export function defaultCalibrationFolder(): string {
  // src/model or dist/model -> the package root
  return fileURLToPath(new URL('../../examples/photos', import.meta.url));
}

export const DEFAULT_CALIBRATION = 'default';

/**
 * How many views calibration runs at most: ranges settle after a few hundred (the shipped set's
 * 264 and 900 views of one flower class gave the same accuracy), and each takes ~50 ms.
 */
export const MAX_CALIBRATION_VIEWS = 384;

/**
 * The images under `folder` (evenly spaced ones when there are more than MAX_CALIBRATION_VIEWS),
 * each in as many of the views as fit under that budget, with the set's id.
 */
export async function calibrationSet(
  folder: string,
  method: RangeMethod = DEFAULT_RANGE_METHOD,
  allViews: readonly CalibrationView[] = CALIBRATION_VIEWS,
): Promise<CalibrationSet> {
  if (!existsSync(folder)) throw new ConvlensError('E_NOT_FOUND', 'no such folder', { file: folder });
  const found: { file: string; path: string }[] = [];
  for await (const f of walkImages(folder)) found.push(f);
  if (found.length === 0) throw new ConvlensError('E_NOT_FOUND', 'no images to calibrate on in this folder', { file: folder });
  const keep = Math.min(found.length, MAX_CALIBRATION_VIEWS);
  const chosen = Array.from({ length: keep }, (_, i) => found[Math.floor((i * found.length) / keep)]!);
  const views = allViews.slice(0, Math.max(1, Math.floor(MAX_CALIBRATION_VIEWS / keep)));
  const h = createHash('sha256');
  h.update(`convlens-calibration-${QUANTIZER_VERSION}\0${rangeMethodName(method)}\0${JSON.stringify(views)}`);
  for (const f of chosen) {
    h.update(`\0${f.path}\0`);
    h.update(await readFile(f.file));
  }
  return { id: h.digest('hex').slice(0, 16), source: folder, files: chosen.map((f) => f.file), views, method };
}

export const calibrationDir = (cacheDir: string): string => join(cacheDir, 'calibrations');
export const calibrationPath = (cacheDir: string, id: string): string => join(calibrationDir(cacheDir), `${id}.json`);

/** A stored calibration, or null when it is absent or fails its digest check. */
export async function readCalibration(cacheDir: string, id: string): Promise<CalibrationRecord | null> {
  if (!/^[0-9a-f]{16}$/.test(id)) return null;
  const path = calibrationPath(cacheDir, id);
  if ((await artefactProblem(path)) !== null) return null;
  const r = JSON.parse(readFileSync(path, 'utf8')) as CalibrationRecord;
  return r.id === id ? r : null;
}

export function writeCalibration(cacheDir: string, record: CalibrationRecord): string {
  const path = calibrationPath(cacheDir, record.id);
  ensureDir(calibrationDir(cacheDir));
  writeArtefact(path, new TextEncoder().encode(`${JSON.stringify(record, null, 1)}\n`), {
    model: record.model,
    calibration: record.id,
    quantizer: record.quantizer,
  });
  return path;
}

export const rangesOf = (r: CalibrationRecord): Map<string, TensorRange> =>
  new Map(Object.entries(r.ranges).map(([t, [min, max]]) => [t, { min, max }]));
