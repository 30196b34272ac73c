/** Rules every store applies the same way: the settings lock and the writer lock's liveness. */
import { readFileSync } from 'node:fs';
import { ConvlensError } from '../core/errors.js';
import { matrix, type Matrix } from '../core/matrix.js';
import type { EmbeddingSettings, WriterInfo } from './types.js';

const SETTING_KEYS = ['model', 'layer', 'resize', 'dim', 'precision', 'calibration', 'variant'] as const;

/** Refuse embeddings made with settings other than the collection's. */
export function checkSettings(current: EmbeddingSettings, asked: EmbeddingSettings, location: string): void {
  const shown = (s: EmbeddingSettings, k: (typeof SETTING_KEYS)[number]): string | number => s[k] ?? (k === 'precision' ? 'fp32' : 'none');
  const diffs = SETTING_KEYS.filter((k) => (current[k] ?? '') !== (asked[k] ?? '')).map(
    (k) => `${k} ${shown(current, k)} (asked: ${shown(asked, k)})`,
  );
  if (diffs.length > 0) {
    throw new ConvlensError(
      'E_SETTINGS_MISMATCH',
      `this collection holds embeddings made with ${diffs.join(', ')}; use the same settings or another --db`,
      {
        file: location,
      },
    );
  }
}

/** The settings as recorded (fixed key order, no absent keys). */
export function settingsJson(s: EmbeddingSettings): string {
  return JSON.stringify({
    model: s.model,
    layer: s.layer,
    resize: s.resize,
    dim: s.dim,
    ...(s.precision ? { precision: s.precision, calibration: s.calibration } : {}),
    ...(s.variant ? { variant: s.variant } : {}),
  });
}

/** When a process started (Linux: clock ticks since boot, from /proc), to tell a reused pid from the writer. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether a recorded writer still holds the lock: its process is alive (on this host, and the pid
 * was not reused since), or it is on another host (which cannot be asked).
 */
export function writerHeld(w: WriterInfo, host: string): boolean {
  if (w.host !== host) return true;
  if (w.pid === process.pid) return true; // another writer in this process (a server's index job)
  try {
    process.kill(w.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; // gone (EPERM: alive, another user's)
  }
  return w.started === undefined || w.started === null || processStart(w.pid) === w.started;
}

/** Rows of (id, embedding bytes) into one matrix, checking each length against `dim`. */
export function embeddingRows(
  location: string,
  rows: { id: number; embedding: Buffer }[],
  dim: number,
): { ids: Int32Array; matrix: Matrix } {
  const ids = new Int32Array(rows.length);
  const m = matrix(rows.length, dim);
  const bytes = Buffer.from(m.data.buffer);
  rows.forEach((r, i) => {
    if (r.embedding.length !== dim * 4) {
      throw new ConvlensError('E_DB', `image ${r.id}: embedding of ${r.embedding.length / 4} values, expected ${dim}`, { file: location });
    }
    bytes.set(r.embedding, i * dim * 4);
    ids[i] = r.id;
  });
  return { ids, matrix: m };
}
