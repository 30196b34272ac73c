/**
 * What every command shares: option parsers, the backbone options, and the output conventions
 * (one JSON object per line with --json; one-line errors naming the file; exit status
 * 0 = all inputs fine, 2 = some input failed, 1 = usage error).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConvlensError } from '../core/errors.js';
import { RESIZE_MODES, type ResizeMode } from '../image/decode.js';
import type { LensOptions } from '../pipeline/lens.js';

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_SOME_FAILED = 2;

export function parseIntOption(name: string, min = 1, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`}`);
    }
    return n;
  };
}

export function parseFloatOption(name: string, min = -Infinity, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number${Number.isFinite(min) ? ` ≥ ${min}` : ''}${Number.isFinite(max) ? ` and ≤ ${max}` : ''}`);
    }
    return n;
  };
}

/** Options for loading the network and preprocessing, shared by every command that runs it. */
export function addLensOptions(cmd: Command, defaults: { resize?: ResizeMode | undefined } = { resize: 'squash' }): Command {
  const resize = new Option('--resize <mode>', 'squash: whole image to 224×224; crop: shorter side 256, centre 224×224').choices(RESIZE_MODES as string[]);
  return cmd
    .addOption(defaults.resize ? resize.default(defaults.resize) : resize)
    .option('--batch <n>', 'images per network call', parseIntOption('--batch', 1, 1024), 16)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', parseIntOption('--threads', 1, 1024))
    .option('--max-pixels <n>', 'refuse images with more pixels (decompression bombs)', parseIntOption('--max-pixels', 1), 100_000_000)
    .option('--cache-dir <dir>', 'where converted models are cached (default $CONVLENS_CACHE_DIR or ~/.cache/convlens)');
}

export interface LensFlags {
  resize: ResizeMode;
  batch: number;
  threads?: number;
  maxPixels: number;
  cacheDir?: string;
  layer?: string;
}

export function lensOptions(flags: LensFlags): LensOptions {
  return {
    resize: flags.resize,
    batchSize: flags.batch,
    threads: flags.threads,
    maxPixels: flags.maxPixels,
    cacheDir: flags.cacheDir,
    ...(flags.layer ? { layer: flags.layer } : {}),
  };
}

/** Shortest decimal that reads back as the same float32 (keeps JSON embeddings compact and exact). */
export function float32ToJson(v: number): number {
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return s;
  }
  return Number(v.toPrecision(9));
}

export function writeJsonLine(obj: unknown): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

export function errorJson(file: string, e: ConvlensError): { file: string; error: { code: string; message: string } } {
  return { file, error: { code: e.code, message: e.message } };
}

/** One line on stderr: "convlens: FILE: message [CODE]". */
export function reportError(e: { code: string; message: string; file?: string }, file = e.file): void {
  process.stderr.write(`convlens: ${file ? `${file}: ` : ''}${e.message} [${e.code}]\n`);
}

/** A percentage for people: 94.5%, 0.03%. */
export function percent(p: number): string {
  const v = p * 100;
  return `${v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toExponential(1)}%`;
}

/** Lens options for commands whose model fixes the resize mode and layer (predict, evaluate). */
export function addRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--batch <n>', 'images per network call', parseIntOption('--batch', 1, 1024), 16)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', parseIntOption('--threads', 1, 1024))
    .option('--max-pixels <n>', 'refuse images with more pixels (decompression bombs)', parseIntOption('--max-pixels', 1), 100_000_000)
    .option('--cache-dir <dir>', 'where converted models and embedding caches live (default $CONVLENS_CACHE_DIR or ~/.cache/convlens)');
}

/** Save an evaluation's confusion matrix as PNG/SVG. */
export async function saveConfusionPlot(file: string, report: { accuracy: number; confusion: { labels: string[]; matrix: number[][] } }, title: string): Promise<void> {
  const { confusionMatrixSvg, savePlot } = await import('../plot/index.js');
  await savePlot(file, confusionMatrixSvg(report.confusion.matrix, report.confusion.labels, { title, accuracy: report.accuracy }));
}
