/**
 * What every command shares: option parsers, the backbone options, and the output conventions
 * (one JSON object per line with --json; one-line errors naming the file; exit status
 * 0 = all inputs fine, 2 = some input failed, 1 = usage error).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConvlensError } from '../core/errors.js';
import { RESIZE_MODES, type ResizeMode } from '../image/decode.js';
import { expandInputs } from '../image/files.js';
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
      throw new InvalidArgumentError(
        `${name} must be a number${Number.isFinite(min) ? ` ≥ ${min}` : ''}${Number.isFinite(max) ? ` and ≤ ${max}` : ''}`,
      );
    }
    return n;
  };
}

/** Options for running the network: every command that embeds images takes them. */
export function addRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--batch <n>', 'images per network call', parseIntOption('--batch', 1, 1024), 16)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', parseIntOption('--threads', 1, 1024))
    .option('--max-pixels <n>', 'refuse images with more pixels (decompression bombs)', parseIntOption('--max-pixels', 1), 100_000_000)
    .option('--cache-dir <dir>', 'where converted models and embedding caches live (default $CONVLENS_CACHE_DIR or ~/.cache/convlens)');
}

export interface RuntimeFlags {
  batch: number;
  threads?: number;
  maxPixels: number;
  cacheDir?: string;
}

export function runtimeOptions(flags: RuntimeFlags): Pick<LensOptions, 'batchSize' | 'threads' | 'maxPixels' | 'cacheDir'> {
  return { batchSize: flags.batch, threads: flags.threads, maxPixels: flags.maxPixels, cacheDir: flags.cacheDir };
}

/** The runtime options plus the preprocessing choice (commands that run the ImageNet backbone). */
export function addLensOptions(cmd: Command, defaults: { resize?: ResizeMode | undefined } = { resize: 'squash' }): Command {
  const resize = new Option('--resize <mode>', 'squash: whole image to 224×224; crop: shorter side 256, centre 224×224').choices(
    RESIZE_MODES as string[],
  );
  return addRuntimeOptions(cmd.addOption(defaults.resize ? resize.default(defaults.resize) : resize));
}

export interface LensFlags extends RuntimeFlags {
  resize: ResizeMode;
  layer?: string;
}

export function lensOptions(flags: LensFlags): LensOptions {
  return { resize: flags.resize, ...runtimeOptions(flags), ...(flags.layer ? { layer: flags.layer } : {}) };
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

/** A failed input: a JSON line on stdout with --json, else one line on stderr. */
export function reportInputError(e: ConvlensError, file: string | undefined, json: boolean | undefined): void {
  if (json) writeJsonLine(errorJson(file ?? e.file ?? '', e));
  else reportError(e, file ?? e.file);
}

/** Files and folders from the command line, expanded; unreadable ones are reported and skipped. */
export function expandCliInputs(paths: string[], json: boolean | undefined): Promise<string[]> {
  return expandInputs(paths, (e) => reportInputError(e, undefined, json));
}

/** The seed's readable predictions: the file, then one line per class. */
export function printPredictions(file: string, predictions: readonly { label: string; probability: number; wnid?: string }[]): void {
  const width = Math.max(...predictions.map((p) => p.label.length));
  const lines = predictions.map((p) => `  ${p.label.padEnd(width)}  ${percent(p.probability).padStart(7)}${p.wnid ? `  ${p.wnid}` : ''}\n`);
  process.stdout.write(`${file}\n${lines.join('')}`);
}

/** A percentage for people: 94.5%, 0.03%. */
export function percent(p: number): string {
  const v = p * 100;
  return `${v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toExponential(1)}%`;
}

/** Save an evaluation's confusion matrix as PNG/SVG. */
export async function saveConfusionPlot(
  file: string,
  report: { accuracy: number; confusion: { labels: string[]; matrix: number[][] } },
  title: string,
): Promise<void> {
  const { confusionMatrixSvg, savePlot } = await import('../plot/index.js');
  await savePlot(file, confusionMatrixSvg(report.confusion.matrix, report.confusion.labels, { title, accuracy: report.accuracy }));
}
