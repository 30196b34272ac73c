/**
 * Files on disk: which are images, expanding folders into them, and reading one safely.
 *
 * - Walking is recursive and sorted; symlinks are followed, but each real folder is visited once
 *   (no loops) and each file is known by its real path, so a file reached twice is one file.
 * - Names are read as bytes: a name that is not valid UTF-8 still opens (see core/fspath.ts).
 * - A file is opened without blocking and checked to be a regular file before it is read: a FIFO
 *   or a device named `x.jpg` is refused (`E_NOT_FILE`) instead of hanging the reader.
 * - `confine`: real folders that every file and folder must resolve inside (the server's allowed
 *   roots); a symlink leading out is refused and not followed.
 */
import { constants } from 'node:fs';
import { open, opendir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConvlensError, fsError } from '../core/errors.js';
import { decodePath, fsPath, printablePath } from '../core/fspath.js';

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

/** True when `child` is `parent` or inside it (both absolute, normalised). */
export function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

/** The real path of a file or folder (symlinks resolved), keeping names that are not UTF-8. */
export async function realPath(path: string): Promise<string> {
  const p = fsPath(path);
  return typeof p === 'string' ? realpath(p) : decodePath(await realpath(p, { encoding: 'buffer' }));
}

export interface WalkedFile {
  /** real path: the file's identity */
  file: string;
  /** path relative to the walked folder, / separated (what people see) */
  path: string;
}

export interface WalkOptions {
  /** real folders every file must resolve inside; anything leading out is refused */
  confine?: readonly string[];
  /** an unreadable folder, or a path refused by `confine` (it is skipped, the walk goes on) */
  onError?: (e: ConvlensError, kind: 'folder' | 'file') => void;
}

/**
 * Walk a folder yielding its image files (sorted, depth-first). Unreadable subfolders are reported
 * through `onError` and skipped; `failedFolders` collects their real paths and the paths under
 * the walked folder that reach them (an index must not prune what it could not see).
 */
export async function* walkImages(root: string, options: WalkOptions = {}, failedFolders?: Set<string>): AsyncGenerator<WalkedFile> {
  const seen = new Set<string>();
  const confine = options.confine;
  const outside = (real: string): boolean => confine !== undefined && !confine.some((c) => isInside(real, c));
  const refuse = (path: string, kind: 'folder' | 'file'): void =>
    options.onError?.(
      new ConvlensError('E_PERMISSION', `${kind === 'folder' ? 'folder' : 'file'} resolves outside the allowed roots (symlink)`, {
        file: path,
      }),
      kind,
    );

  async function* walk(dir: string, rel: string): AsyncGenerator<WalkedFile> {
    let real: string;
    try {
      real = await realPath(dir);
    } catch (e) {
      failedFolders?.add(dir);
      options.onError?.(fsError(e, dir, 'cannot open folder'), 'folder');
      return;
    }
    if (outside(real)) {
      refuse(dir, 'folder');
      return;
    }
    if (seen.has(real)) return; // a symlink loop, or a folder reached twice
    seen.add(real);
    const entries: { name: string; isDir: boolean; isFile: boolean; isLink: boolean }[] = [];
    try {
      for await (const d of await opendir(fsPath(dir) as string, { encoding: 'buffer' as BufferEncoding })) {
        const name = decodePath(d.name as unknown as Buffer);
        let isDir = d.isDirectory();
        let isFile = !isDir && !d.isSymbolicLink();
        if (d.isSymbolicLink()) {
          try {
            const s = await stat(fsPath(join(dir, name)));
            isDir = s.isDirectory();
            isFile = !isDir;
          } catch {
            continue; // dangling link
          }
        }
        entries.push({ name, isDir, isFile, isLink: d.isSymbolicLink() });
      }
    } catch (e) {
      failedFolders?.add(dir);
      failedFolders?.add(real);
      options.onError?.(fsError(e, dir, 'cannot list folder'), 'folder');
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDir) yield* walk(p, r);
      else if (e.isFile && hasImageExtension(e.name)) {
        if (!e.isLink) {
          yield { file: join(real, e.name), path: r };
          continue;
        }
        let file: string;
        try {
          file = await realPath(p);
        } catch {
          continue; // vanished
        }
        if (outside(file)) refuse(p, 'file');
        else yield { file, path: r };
      }
    }
  }
  yield* walk(resolve(root), '');
}

/**
 * Expand command-line arguments: folders become the images inside (recursively, sorted), other
 * arguments stay as given (a missing or non-image file then fails with its own error). A folder
 * with no image inside is reported, so a named input never vanishes without a word.
 */
export async function expandInputs(args: string[], onError?: (e: ConvlensError) => void): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    let isDir = false;
    try {
      isDir = (await stat(fsPath(a))).isDirectory();
    } catch {
      // not there: kept, so it is reported as E_NOT_FOUND in its place
    }
    if (!isDir) {
      out.push(a);
      continue;
    }
    const before = out.length;
    for await (const f of walkImages(a, { onError: (e) => onError?.(e) })) out.push(join(a, ...f.path.split('/')));
    if (out.length === before) {
      onError?.(new ConvlensError('E_NOT_FOUND', 'a folder with no image files in it (by extension)', { file: a }));
    }
  }
  return out;
}

/** O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * Open a file for reading, refusing what is not a regular file (FIFOs, sockets, devices: reading
 * one could block forever). The handle is checked after opening, so the check and the read see
 * the same file.
 */
export async function openRegularFile(path: string): Promise<{ handle: FileHandle; size: number; mtimeMs: number }> {
  let handle: FileHandle;
  try {
    handle = await open(fsPath(path), OPEN_FLAGS);
  } catch (e) {
    throw fsError(e, path, 'cannot open');
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new ConvlensError('E_IS_DIRECTORY', 'is a directory, not an image', { file: path });
    if (!st.isFile()) throw new ConvlensError('E_NOT_FILE', `not a regular file (${kindOf(st)})`, { file: path });
    return { handle, size: st.size, mtimeMs: st.mtimeMs };
  } catch (e) {
    await handle.close();
    throw fsError(e, path, 'cannot read');
  }
}

function kindOf(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  return st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a file';
}

/** Read a file's bytes (a regular file only), with coded errors naming the file. */
export async function readImageFile(path: string): Promise<Buffer> {
  const { handle } = await openRegularFile(path);
  try {
    return await handle.readFile();
  } catch (e) {
    throw fsError(e, path, 'cannot read');
  } finally {
    await handle.close();
  }
}

/** Size and mtime of a regular file, with the same coded errors as reading it. */
export async function statImageFile(path: string): Promise<{ size: number; mtimeMs: number }> {
  try {
    const s = await stat(fsPath(path));
    if (s.isDirectory()) throw new ConvlensError('E_IS_DIRECTORY', 'is a directory, not an image', { file: path });
    if (!s.isFile()) throw new ConvlensError('E_NOT_FILE', `not a regular file (${kindOf(s)})`, { file: path });
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch (e) {
    throw fsError(e, path, 'cannot read');
  }
}

export { printablePath };
