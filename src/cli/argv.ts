/**
 * Command-line arguments as bytes. Node decodes argv as UTF-8 and turns bytes that are not UTF-8
 * into U+FFFD, so a file named with such bytes (`ls` shows them, the shell passes them) would no
 * longer open. On Linux the raw arguments are in /proc/self/cmdline: where Node's decoding lost
 * something, the argument is taken from there, surrogate-escaped (see core/fspath.ts).
 */
import { readFileSync } from 'node:fs';
import { decodePath } from '../core/fspath.js';

export function recoverRawArgs(argv: string[]): string[] {
  const user = argv.slice(2);
  if (!user.some((a) => a.includes('\ufffd'))) return argv;
  let raw: Buffer;
  try {
    raw = readFileSync('/proc/self/cmdline');
  } catch {
    return argv;
  }
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0) {
      parts.push(raw.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < raw.length) parts.push(raw.subarray(start));
  const tail = parts.slice(-user.length);
  if (tail.length !== user.length || tail.some((b, i) => b.toString('utf8') !== user[i])) return argv;
  return [...argv.slice(0, 2), ...tail.map((b) => decodePath(b))];
}
