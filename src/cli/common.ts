/**
 * What every command shares: option parsers, the network and input options, and the output
 * conventions (one JSON object per line with --json; one-line errors naming the file; exit status
 * 0 = all inputs fine, 2 = some input failed, 1 = usage error or a failure that stopped the command).
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ConvlensError, fsError } from '../core/errors.js';
import { decodePath } from '../core/fspath.js';
import { RESIZE_MODES, type ResizeMode } from '../image/resize.js';
import { expandInputs } from '../image/files.js';
import { PRECISIONS, type Precision } from '../model/calibration.js';
import type { LensOptions } from '../pipeline/lens.js';
import { out, reportError, writeJsonLine } from './output.js';

export { out, reportError, writeJsonLine };

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
export const EXIT_SOME_FAILED = 2;
/** A command stopped by a signal exits 128 + the signal's number, as shells expect. */
export const EXIT_SIGNAL: Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

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

/** Options for running the network: every command that may embed images takes them. */
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
  return {
    batchSize: flags.batch,
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    maxPixels: flags.maxPixels,
    ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
  };
}

/**
 * The runtime options plus the preprocessing choice. One default for every command: crop (see
 * DEFAULT_RESIZE); a collection or a trained model keeps the mode it was made with.
 */
export function addLensOptions(cmd: Command): Command {
  const resize = new Option('--resize <mode>', 'crop (default): shorter side 256, centre 224×224; squash: whole image to 224×224').choices(
    RESIZE_MODES as string[],
  );
  return addRuntimeOptions(addPrecisionOptions(cmd.addOption(resize)));
}

/** --precision and --calibration: the int8 network (see README, "int8"). */
export function addPrecisionOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--precision <p>',
        'fp32 (default), or int8: the quantized network, about 3× faster, embeddings within 0.3% (cosine)',
      ).choices(PRECISIONS as string[]),
    )
    .option(
      '--calibration <id>',
      'with --precision int8: a calibration made by convlens quantize --calibrate DIR (default: the shipped one)',
    );
}

export interface LensFlags extends RuntimeFlags {
  resize?: ResizeMode;
  layer?: string;
  precision?: Precision;
  calibration?: string;
}

/** What a command asks of the network beyond the runtime: the lens (a collection may decide it instead). */
export function lensChoice(
  flags: Omit<LensFlags, keyof RuntimeFlags>,
): Pick<LensOptions, 'resize' | 'layer' | 'precision' | 'calibration'> {
  return {
    ...(flags.resize ? { resize: flags.resize } : {}),
    ...(flags.layer ? { layer: flags.layer } : {}),
    ...(flags.precision ? { precision: flags.precision } : {}),
    ...(flags.calibration ? { calibration: flags.calibration } : {}),
  };
}

export function lensOptions(flags: LensFlags): LensOptions {
  return { ...runtimeOptions(flags), ...lensChoice(flags) };
}

/** Inputs: arguments and/or a list in a file, as rsync and tar take them. */
export function addInputOptions(cmd: Command): Command {
  return cmd
    .argument('[image|dir...]', 'image files or folders (folders expand to the images inside, sorted)')
    .option('--files-from <file>', 'read more inputs from a file, one per line ("-": standard input)')
    .option('-0, --null', 'with --files-from: inputs are separated by NUL bytes (find -print0), not newlines');
}

export interface InputFlags {
  filesFrom?: string;
  null?: boolean;
  json?: boolean;
}

/** Names from a --files-from list (bytes kept: any file name survives, see core/fspath.ts). */
export async function readFileList(source: string, nul: boolean): Promise<string[]> {
  let bytes: Buffer;
  try {
    bytes = source === '-' ? await readStdin() : await readFile(source);
  } catch (e) {
    throw fsError(e, source, 'cannot read the list of files');
  }
  const sep = nul ? 0 : 0x0a;
  const names: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === sep) {
      let end = i;
      if (!nul && end > start && bytes[end - 1] === 0x0d) end--; // CRLF lists
      if (end > start) names.push(decodePath(bytes.subarray(start, end)));
      start = i + 1;
    }
  }
  return names;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The command's inputs: arguments, then the --files-from list; folders expanded. Unreadable
 * ones are reported (as their own JSON line with --json) and counted as failed.
 */
export async function collectInputs(paths: string[], flags: InputFlags): Promise<{ files: string[]; failed: number }> {
  if (flags.null && !flags.filesFrom) throw new ConvlensError('E_USAGE', '-0/--null goes with --files-from');
  const listed = flags.filesFrom ? await readFileList(flags.filesFrom, flags.null === true) : [];
  const all = [...paths, ...listed];
  if (all.length === 0) throw new ConvlensError('E_USAGE', 'give images or folders, or --files-from FILE');
  let failed = 0;
  const files = await expandInputs(all, (e) => {
    failed++;
    reportInputError(e, undefined, flags.json);
  });
  return { files, failed };
}

/** Shortest decimal that reads back as the same float32 (keeps JSON embeddings compact and exact). */
export function float32ToJson(v: number): number {
  for (let p = 6; p < 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return s;
  }
  return Number(v.toPrecision(9));
}

export function errorJson(file: string, e: { code: string; message: string }): { file: string; error: { code: string; message: string } } {
  return { file, error: { code: e.code, message: e.message } };
}

/** A failed input: a JSON line on stdout with --json, else one line on stderr. */
export function reportInputError(e: ConvlensError, file: string | undefined, json: boolean | undefined): void {
  if (json) writeJsonLine(errorJson(file ?? e.file ?? '', e));
  else reportError(e, file ?? e.file);
}

/** The seed's readable predictions: the file, then one line per class. */
export function printPredictions(file: string, predictions: readonly { label: string; probability: number; wnid?: string }[]): void {
  const width = Math.max(...predictions.map((p) => p.label.length));
  const lines = predictions.map((p) => `  ${p.label.padEnd(width)}  ${percent(p.probability).padStart(7)}${p.wnid ? `  ${p.wnid}` : ''}\n`);
  out(`${file}\n${lines.join('')}`);
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

/**
 * Abort on Ctrl-C, SIGTERM and SIGHUP alike (the work stops at its next step and what is done is
 * kept); returns the signal and a function that removes the handlers.
 */
export function stopOnSignals(): { signal: AbortSignal; received: () => keyof typeof EXIT_SIGNAL | null; dispose: () => void } {
  const controller = new AbortController();
  let got: keyof typeof EXIT_SIGNAL | null = null;
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = (): void => {
      if (got !== null) process.exit(EXIT_SIGNAL[sig]); // a second signal: stop now
      got = sig;
      controller.abort();
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return {
    signal: controller.signal,
    received: () => got,
    dispose: () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    },
  };
}
