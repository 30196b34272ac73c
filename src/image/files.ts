/**
 * Which files are images, and expanding folders into them: recursive, sorted, following
 * symlinks but never a loop (each real directory is visited once).
 */
import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { ConvlensError } from '../core/errors.js';

/** Extensions treated as images when a folder is expanded (explicitly named files are always tried). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.jxl',
  '.svg',
]);

export function hasImageExtension(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

/**
 * Walk a directory yielding image file paths (sorted, depth-first). Unreadable subfolders are
 * reported through `onError` and skipped.
 */
export async function* walkImages(root: string, onError?: (e: ConvlensError) => void): AsyncGenerator<string> {
  const seen = new Set<string>();
  async function* walk(dir: string): AsyncGenerator<string> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (e) {
      onError?.(new ConvlensError('E_NOT_FOUND', 'cannot resolve folder', { file: dir, cause: e }));
      return;
    }
    if (seen.has(real)) return; // symlink loop or a folder reached twice
    seen.add(real);
    const entries: { name: string; isDir: boolean; isFile: boolean }[] = [];
    try {
      for await (const d of await opendir(dir)) {
        let isDir = d.isDirectory();
        let isFile = d.isFile();
        if (d.isSymbolicLink()) {
          try {
            const s = await stat(join(dir, d.name));
            isDir = s.isDirectory();
            isFile = s.isFile();
          } catch {
            continue; // dangling link
          }
        }
        entries.push({ name: d.name, isDir, isFile });
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      onError?.(new ConvlensError(code === 'EACCES' ? 'E_PERMISSION' : 'E_NOT_FOUND', 'cannot list folder', { file: dir, cause: e }));
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDir) yield* walk(p);
      else if (e.isFile && hasImageExtension(e.name)) yield p;
    }
  }
  yield* walk(root);
}

/**
 * Expand command-line arguments: folders become the images inside (recursively, sorted), other
 * arguments stay as given (a missing or non-image file then fails with its own error).
 */
export async function expandInputs(args: string[], onError?: (e: ConvlensError) => void): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    let isDir = false;
    try {
      isDir = (await stat(a)).isDirectory();
    } catch {
      // not there: kept, so it is reported as E_NOT_FOUND in its place
    }
    if (isDir) for await (const p of walkImages(a, onError)) out.push(p);
    else out.push(a);
  }
  return out;
}
