/**
 * Where converted models live. A converted graph is keyed by a hash of its source files, the
 * converter version and the requested outputs, so a changed weight file or converter never
 * reuses a stale graph.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The cache folder: the `cacheDir` option, else $CONVLENS_CACHE_DIR, else
 * $XDG_CACHE_HOME/convlens, else ~/.cache/convlens.
 */
export function resolveCacheDir(cacheDir?: string): string {
  if (cacheDir) return cacheDir;
  if (process.env.CONVLENS_CACHE_DIR) return process.env.CONVLENS_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'convlens');
}

export async function hashFiles(paths: string[], salt: string): Promise<string> {
  const h = createHash('sha256');
  h.update(salt);
  for (const p of paths) {
    h.update(`\0${p.split('/').pop()}\0`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(p, { highWaterMark: 1 << 22 })
        .on('data', (chunk) => h.update(chunk))
        .on('end', resolve)
        .on('error', reject);
    });
  }
  return h.digest('hex');
}

/** Write a file so that readers never see a partial one (temp file + rename). */
export function writeFileAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function ensureDir(dir: string): string {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  return dir;
}
