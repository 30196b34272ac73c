/**
 * A full disk under every file convlens writes: standard output (/dev/full), the collection
 * database, the model cache and `embed --out`. Each must end with one coded line (E_DISK_FULL),
 * the summary so far where there is one, no stack trace and no half-written file left behind;
 * what was committed before stays whole.
 */
import Database from 'better-sqlite3';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasStackTrace, jsonLines } from '../helpers/cli.js';
import { CAT } from '../helpers/image-fixtures.js';
import { makePhotoFolder } from '../helpers/photo-folder.js';
import { fill, IS_ROOT, runFault, smallDisk } from './helpers.js';

const disks: { dir: string; unmount: () => void }[] = [];
afterAll(() => {
  for (const d of disks) d.unmount();
});

function disk(kib: number): string {
  const d = smallDisk(kib);
  if (!d) throw new Error('cannot mount a tmpfs');
  disks.push(d);
  return d.dir;
}

describe('standard output on a full device', () => {
  it('classify > /dev/full ends with one coded line, no stack trace', async () => {
    const r = await runFault(['classify', '--json', CAT], { stdoutTo: '/dev/full' });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write the output: no space left on the device \[E_DISK_FULL\]/);
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe.skipIf(!IS_ROOT)(
  IS_ROOT ? 'a full disk under the files convlens writes' : 'skipped: a full disk needs a tmpfs (run as root)',
  () => {
    it('index: the batch that fails is reported with the summary so far; committed rows stay whole', async () => {
      // (a disk already full when the database opens gives one coded line: nothing to sum up yet)
      const folder = await makePhotoFolder(24);
      const d = disk(2048);
      const db = join(d, 'c.db');
      const first = await runFault(['index', join(folder, 'set-0'), '--db', db, '--json', '--quiet'], { timeoutMs: 120_000 });
      expect(first.code, first.stderr).toBe(0);
      // room to open the database and commit a batch or two, not for the rest
      fill(d, 160);
      const r = await runFault(['index', folder, '--db', db, '--json', '--quiet', '--batch', '4'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(1);
      const [summary] = jsonLines(r.stdout);
      expect(summary.error.code).toBe('E_DISK_FULL');
      expect(summary.interrupted).toBe(true);
      expect(summary.unchanged).toBe(8);
      expect(summary.indexed).toBeLessThan(16);
      expect(hasStackTrace(r.stderr)).toBe(false);
      rmSync(join(d, 'filler'));
      const ro = new Database(db, { readonly: true });
      expect(ro.pragma('integrity_check', { simple: true })).toBe('ok');
      ro.close();
      // with space again, the next run finishes the job
      const again = await runFault(['index', folder, '--db', db, '--json', '--quiet'], { timeoutMs: 120_000 });
      expect(again.code, again.stderr).toBe(0);
      const [s2] = jsonLines(again.stdout);
      expect(s2.indexed + s2.unchanged).toBe(24);
      rmSync(folder, { recursive: true, force: true });
    });

    it('the model cache: a conversion that cannot be written leaves no temporary file', async () => {
      const d = disk(8192);
      fill(d);
      const r = await runFault(['classify', CAT, '--cache-dir', d], { timeoutMs: 180_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/\.onnx.*no space left on the device \[E_DISK_FULL\]/);
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    });

    it('embed --out: no matrix, list or temporary file when they cannot be written', async () => {
      const d = disk(64);
      fill(d);
      const out = join(d, 'emb.npy');
      const r = await runFault(['embed', CAT, '--out', out], { timeoutMs: 120_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no space left on the device \[E_DISK_FULL\]/);
      expect(existsSync(out)).toBe(false);
      expect(readdirSync(d).filter((f) => f !== 'filler')).toEqual([]);
    });
  },
);
