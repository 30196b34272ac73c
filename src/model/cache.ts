/**
 * Where converted models live. A converted graph is keyed by a hash of its source files, the
 * converter version and the requested outputs, so a changed weight file or converter never
 * reuses a stale graph; its record (`<model>.onnx.json`) holds its digest, checked before use.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export { ensureDir, writeFileAtomic } from '../core/files.js';

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
