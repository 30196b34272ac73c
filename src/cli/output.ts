/**
 * Standard output for commands: one place that writes it and knows what to do when it fails. A
 * closed pipe (`convlens ... | head`) ends quietly; a full disk or another write error ends with
 * one coded line on stderr, never a stack trace.
 */
import { ConvlensError, fsError } from '../core/errors.js';

let failed = false;

/** Exit status 1 with a one-line reason: output could not be written. */
function onOutputError(e: NodeJS.ErrnoException): void {
  if (failed) return;
  failed = true;
  if (e.code === 'EPIPE') {
    process.exit(process.exitCode ?? 0);
  }
  const ce = fsError(e, '<stdout>', 'cannot write the output');
  try {
    process.stderr.write(`convlens: ${ce.message} [${ce.code}]\n`);
  } catch {
    // stderr is gone too: nothing left to tell
  }
  process.exit(1);
}

export function installOutputHandlers(): void {
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', () => undefined);
}

/** Write to stdout (a failure ends the process through the handler above). */
export function out(text: string): void {
  if (failed) return;
  try {
    process.stdout.write(text);
  } catch (e) {
    // a synchronous write to a file can throw instead of emitting 'error'
    onOutputError(e as NodeJS.ErrnoException);
  }
}

export function writeJsonLine(obj: unknown): void {
  out(`${JSON.stringify(obj)}\n`);
}

/** One line on stderr: "convlens: FILE: message [CODE]". */
export function reportError(e: { code: string; message: string; file?: string }, file = e.file): void {
  process.stderr.write(`convlens: ${file ? `${file}: ` : ''}${e.message} [${e.code}]\n`);
}

export { ConvlensError };
