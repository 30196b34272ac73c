/**
 * The int8 model: the float model statically quantized (quantize.ts) with ranges measured on a
 * calibration set (calibration.ts), made on a worker thread (quantize-task.ts) and cached like the
 * float one, keyed by its sources, the quantizer version, the calibration and the outputs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import { artefactProblem, artefactRecordPath, ensureDir, type ArtefactRecord } from '../core/files.js';
import { runTask } from '../core/tasks.js';
import { notice, warnOnce } from '../core/warn.js';
import { resolveCacheDir } from './cache.js';
import {
  calibrationSet,
  DEFAULT_CALIBRATION,
  defaultCalibrationFolder,
  QUANTIZER_VERSION,
  readCalibration,
  type CalibrationRecord,
  type CalibrationSet,
} from './calibration.js';
import { sourcesDigest } from './convert.js';
import type { KernelCount, QuantizeInput, QuantizeProgress, QuantizeResult } from './quantize-task.js';
import type { BackboneSpec } from './registry.js';

/** The int8 model: its path, its calibration, how ORT runs its convolutions. */
export interface QuantizedModel {
  path: string;
  calibration: string;
  convolutions: KernelCount | null;
  /** what calibration measured on (absent for ranges measured by an earlier run) */
  measured?: QuantizeResult['calibration'] & { seconds: number };
}

export interface QuantizeOptions {
  cacheDir?: string;
  /**
   * a calibration id (see `convlens quantize`), "default" (the shipped images), or a set to
   * measure now (see calibrationSet)
   */
  calibration?: string | CalibrationSet;
  threads?: number;
  onProgress?: (p: QuantizeProgress) => void;
  signal?: AbortSignal;
}

interface ResolvedCalibration {
  id: string;
  /** stored ranges, valid for these sources */
  record: CalibrationRecord | null;
  /** the set to measure when there are none */
  set: CalibrationSet | null;
}

async function resolveCalibration(cacheDir: string, sources: string, wanted: string | CalibrationSet): Promise<ResolvedCalibration> {
  const valid = (r: CalibrationRecord | null): CalibrationRecord | null => (r && r.sources === sources ? r : null);
  if (typeof wanted !== 'string') return { id: wanted.id, record: valid(await readCalibration(cacheDir, wanted.id)), set: wanted };
  const stored = wanted === DEFAULT_CALIBRATION ? null : await readCalibration(cacheDir, wanted);
  if (valid(stored)) return { id: wanted, record: stored, set: null };
  // the shipped set, asked for by name or by its id (a collection records the id): measurable again
  const shipped = await calibrationSet(defaultCalibrationFolder());
  if (wanted === DEFAULT_CALIBRATION || wanted === shipped.id) {
    return { id: shipped.id, record: valid(await readCalibration(cacheDir, shipped.id)), set: shipped };
  }
  if (stored) {
    throw new ConvlensError(
      'E_MODEL',
      `calibration ${wanted} was made for other model weights or converter; run convlens quantize --calibrate DIR again`,
    );
  }
  throw new ConvlensError(
    'E_USAGE',
    `no calibration "${wanted}" in ${cacheDir} ` +
      '(make one with convlens quantize --calibrate DIR, or leave --calibration out for the default)',
  );
}

/**
 * Path of the int8 model for these outputs and calibration, making it on first use (on a worker
 * thread). Ranges are measured when no stored calibration has them: the shipped set's on first
 * use (about a minute, once), a user's by `convlens quantize --calibrate DIR`.
 */
export async function ensureQuantized(spec: BackboneSpec, outputs: string[], options: QuantizeOptions = {}): Promise<QuantizedModel> {
  const cacheDir = ensureDir(resolveCacheDir(options.cacheDir));
  const sources = await sourcesDigest(spec);
  const { id, record, set } = await resolveCalibration(cacheDir, sources, options.calibration ?? DEFAULT_CALIBRATION);
  const key = createHash('sha256')
    .update(`${sources}\0int8-${QUANTIZER_VERSION}\0${id}\0${outputs.join(',')}`)
    .digest('hex');
  const path = join(cacheDir, `${spec.id}-int8-${key.slice(0, 16)}.onnx`);
  const problem = await artefactProblem(path);
  if (problem === null) {
    const made = JSON.parse(readFileSync(artefactRecordPath(path), 'utf8')) as ArtefactRecord;
    return { path, calibration: id, convolutions: (made.madeFrom.convolutions as KernelCount | undefined) ?? null };
  }
  if (problem !== 'missing') warnOnce(`the cached int8 model ${path} cannot be trusted (${problem}); making it again`);
  if (!record) {
    notice(`making the int8 model: calibrating on ${set!.files.length} images × ${set!.views.length} views ` + `in ${set!.source} (once)`);
  }
  const input: QuantizeInput = {
    model: spec.id,
    outputs,
    sources,
    cacheDir,
    path,
    calibration: record ? { record } : { set: set! },
    threads: options.threads ?? availableParallelism(),
  };
  const r = await runTask<QuantizeInput, QuantizeProgress, QuantizeResult>(import.meta.url, 'quantize-task', 'quantize', input, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return {
    path,
    calibration: id,
    convolutions: r.convolutions,
    ...(record ? {} : { measured: { ...r.calibration, seconds: r.calibrationSeconds } }),
  };
}
