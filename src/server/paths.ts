/**
 * The only two places a path reaches the filesystem on behalf of a client:
 * - an index job's folder, which must resolve (symlinks followed) inside an allowed root given on
 *   the command line;
 * - an image file of the collection, whose path comes from the database (never from the client)
 *   and must still resolve inside the folder it was indexed from (a symlink swapped in since is
 *   refused).
 */
import { realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import { isInside, openRegularFile, realPath } from '../image/files.js';
import { forbidden, HttpError, notFound } from './http.js';

export { isInside };

/** Decoded forms of a client string (up to three rounds), to catch encoded and double-encoded traversals. */
function decodings(s: string): string[] {
  const out = [s];
  let cur = s;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      break;
    }
    if (next === cur) break;
    out.push(next);
    cur = next;
  }
  return out;
}

/** Real paths of the allowed roots (those that exist). */
export async function realRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) {
    try {
      out.push(await realpath(resolve(r)));
    } catch {
      // a root that does not exist (yet) allows nothing
    }
  }
  return out;
}

/**
 * The real path of a folder a client asks to index: absolute, or relative to allowed root number
 * `rootIndex` (default 0). Refused (403) when it would leave every allowed root, by `..`, encoded
 * `..`, an absolute path elsewhere or a symlink; 404 when it does not exist; 400 when malformed.
 */
export async function resolveIndexFolder(
  folder: unknown,
  rootIndex: unknown,
  allowedRoots: readonly string[],
): Promise<{ folder: string; root: string }> {
  if (allowedRoots.length === 0) throw forbidden('this server allows no folders to be indexed (start it with --allow-root DIR)');
  if (typeof folder !== 'string' || folder.length === 0 || folder.length > 4096)
    throw new HttpError(400, 'E_USAGE', 'folder must be a non-empty path');
  if (
    rootIndex !== undefined &&
    (!Number.isInteger(rootIndex) || (rootIndex as number) < 0 || (rootIndex as number) >= allowedRoots.length)
  ) {
    throw new HttpError(400, 'E_USAGE', `root must be an index into the allowed roots (0..${allowedRoots.length - 1})`);
  }
  for (const form of decodings(folder)) {
    if (form.includes('\0')) throw new HttpError(400, 'E_USAGE', 'folder must not contain NUL bytes');
    if (form.split(/[\\/]+/).includes('..')) throw forbidden('folder must not contain ".." (give a folder inside an allowed root)');
  }
  const roots = await realRoots(allowedRoots);
  const base = allowedRoots[(rootIndex as number | undefined) ?? 0]!;
  const wanted = isAbsolute(folder) ? resolve(folder) : resolve(base, folder);
  // lexically inside a root first: nothing outside is ever stat'ed for a client
  if (!allowedRoots.some((r) => isInside(wanted, resolve(r))) && !roots.some((r) => isInside(wanted, r))) {
    throw forbidden('folder is outside the allowed roots');
  }
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    throw notFound('no such folder');
  }
  const root = roots.find((r) => isInside(real, r));
  if (!root) throw forbidden('folder resolves outside the allowed roots (symlink)');
  if (!(await stat(real)).isDirectory()) throw new HttpError(400, 'E_USAGE', 'not a folder');
  return { folder: real, root };
}

/**
 * Open an image file of the collection for reading, refusing it when its real path has left its
 * root, or when it is no longer a regular file (a FIFO swapped in would block the reader; it is
 * opened without blocking and refused). The file is opened by its real path, so the check and
 * the read see the same file.
 */
export async function openCollectionFile(file: string, root: string): Promise<{ handle: FileHandle; size: number }> {
  let realRoot: string;
  let real: string;
  try {
    realRoot = await realPath(root);
    real = await realPath(file);
  } catch {
    throw notFound('the image file is no longer on disk');
  }
  if (!isInside(real, realRoot) || real === realRoot) throw forbidden('the image file now resolves outside its indexed folder');
  try {
    const { handle, size } = await openRegularFile(real);
    return { handle, size };
  } catch (e) {
    if (e instanceof ConvlensError && e.code === 'E_NOT_FILE') throw notFound('the image path is no longer a regular file');
    throw notFound('the image file cannot be opened');
  }
}
