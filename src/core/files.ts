/**
 * Derived files that prove themselves: written to a temporary name and renamed into place (a
 * reader never sees half a file; a failed write leaves nothing behind), with a record of their
 * digest and of what they were made from, checked when they are used.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsError } from './errors.js';

/** A temporary name next to `path` (same folder: the rename is atomic). */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`;
}

/**
 * Remove temporary files next to `path` that a killed writer left (their process is gone): the
 * next writer of the same file cleans up after it.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(.*)\.(\d+)\.\d+\.[a-z0-9]+\.tmp$/.exec(name);
    if (!m || m[1] !== base || Number(m[2]) === process.pid || processAlive(Number(m[2]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Write a file so that readers never see a partial one; on failure nothing is left behind. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsError(e, path, 'cannot write');
  }
}

/** Move a finished temporary file into place (removing it when that fails). */
export function commitTempFile(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsError(e, path, 'cannot write');
  }
}

export function ensureDir(dir: string): string {
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fsError(e, dir, 'cannot create folder');
  }
  return dir;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(path, { highWaterMark: 1 << 22 })
      .on('data', (chunk) => h.update(chunk))
      .on('end', resolve)
      .on('error', reject);
  });
  return h.digest('hex');
}

/** What a derived file's record (`<file>.json`) holds. */
export interface ArtefactRecord {
  sha256: string;
  bytes: number;
  /** the inputs it was made from (source digests, versions, parameters) */
  madeFrom: Record<string, unknown>;
  createdAt: string;
}

export function artefactRecordPath(path: string): string {
  return `${path}.json`;
}

/** Write a derived file and then its record (a file without a record is never trusted). */
export function writeArtefact(path: string, data: Uint8Array, madeFrom: Record<string, unknown>): ArtefactRecord {
  const record: ArtefactRecord = {
    sha256: createHash('sha256').update(data).digest('hex'),
    bytes: data.byteLength,
    madeFrom,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(path, data);
  writeFileAtomic(artefactRecordPath(path), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** Whether a derived file is whole and matches its record: null when it does, else why not. */
export async function artefactProblem(path: string): Promise<string | null> {
  if (!existsSync(path)) return 'missing';
  let record: ArtefactRecord;
  try {
    record = JSON.parse(readFileSync(artefactRecordPath(path), 'utf8')) as ArtefactRecord;
  } catch {
    return 'no digest recorded with it (an older convlens, or an interrupted write)';
  }
  const digest = await sha256File(path);
  return digest === record.sha256
    ? null
    : `its digest ${digest.slice(0, 12)}… is not the recorded ${String(record.sha256).slice(0, 12)}… (damaged)`;
}
