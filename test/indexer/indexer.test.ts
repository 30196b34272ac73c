import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageMimeType } from '../../src/image/index.js';
import { indexFolders } from '../../src/indexer/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { CLI_ENTRY, hasStackTrace, jsonLines, runCli } from '../helpers/cli.js';
import { makeImageFixtures } from '../helpers/image-fixtures.js';
import { REPO } from '../helpers/paths.js';
import { makePhotoFolder } from '../helpers/photo-folder.js';

const N = 48;
let folder: string;
let lens: ConvLens;
let clean: Map<string, Buffer>;
const tmp = mkdtempSync(join(tmpdir(), 'convlens-index-test-'));

export function embeddingsByPath(dbPath: string): Map<string, Buffer> {
  const db = new Database(dbPath, { readonly: true });
  const rows = db.prepare('SELECT path, embedding FROM images').all() as { path: string; embedding: Buffer }[];
  db.close();
  return new Map(rows.map((r) => [r.path, r.embedding]));
}

beforeAll(async () => {
  [folder, lens] = await Promise.all([makePhotoFolder(N), ConvLens.load({ batchSize: 8 })]);
  const store = SqliteStore.open(join(tmp, 'clean.db'), { create: true });
  const summary = await indexFolders(store, lens, [folder]);
  expect(summary.indexed).toBe(N);
  await store.close();
  clean = embeddingsByPath(join(tmp, 'clean.db'));
});
afterAll(async () => {
  await lens.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe('indexFolders', () => {
  it('stores one row per image with metadata, top-5, embedding and thumbnail, keyed by the real file', async () => {
    const store = SqliteStore.open(join(tmp, 'clean.db'), { readonly: true });
    expect(await store.count()).toEqual({ images: N, embedded: N, failed: 0 });
    const [row] = await store.images({ limit: 1 });
    expect(row!.path).toMatch(/^set-\d\/photo \d{3}\.jpg$/);
    expect(row!.file).toBe(join(folder, row!.path));
    expect(row!.root).toBe(folder);
    expect(row!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.top5).toHaveLength(5);
    expect(row!.width).toBeGreaterThan(0);
    expect(await store.embedding(row!.id)).toHaveLength(2048);
    expect(imageMimeType((await store.thumbnail(row!.id))!)).toBe('image/jpeg');
    expect(await store.settings()).toEqual({ model: 'keras-resnet50-imagenet', layer: 'avg_pool', resize: 'crop', dim: 2048 });
    const { ids, matrix } = await store.embeddings();
    expect([ids.length, matrix.rows, matrix.cols]).toEqual([N, N, 2048]);
    await store.close();
  });

  it('re-runs incrementally: nothing re-embedded when unchanged, one file when one changes, none for a touch', async () => {
    const db = join(tmp, 'incr.db');
    copyFileSync(join(tmp, 'clean.db'), db);
    const store = SqliteStore.open(db);
    let loads = 0;
    const lazy = async (): Promise<ConvLens> => {
      loads++;
      return lens;
    };
    const again = await indexFolders(store, lazy, [folder]);
    expect(again).toMatchObject({ indexed: 0, unchanged: N, failed: [] });
    expect(loads).toBe(0); // nothing to embed: the network is never asked for

    const files = [...clean.keys()].sort();
    const changed = join(folder, files[3]!);
    appendFileSync(changed, Buffer.from([0xff, 0xd9])); // new bytes, still a valid JPEG
    const touched = join(folder, files[5]!);
    utimesSync(touched, new Date(), new Date(Date.now() + 5000));
    const after = await indexFolders(store, lazy, [folder]);
    expect(after).toMatchObject({ indexed: 1, unchanged: N - 1, failed: [] });
    expect(loads).toBe(1);
    expect((await store.count()).images).toBe(N);
    // the touched file's new mtime was stored: the next run does not even hash it
    const third = await indexFolders(store, lens, [folder]);
    expect(third).toMatchObject({ indexed: 0, unchanged: N });
    await store.close();
  });

  it('copies results for identical content, reports broken files, prunes deleted ones', async () => {
    const db = join(tmp, 'prune.db');
    copyFileSync(join(tmp, 'incr.db'), db); // the folder as the previous test left it
    const store = SqliteStore.open(db);
    const fx = await makeImageFixtures();
    const files = [...clean.keys()].sort();
    copyFileSync(join(folder, files[0]!), join(folder, 'copy of first.jpg'));
    writeFileSync(join(folder, 'broken.jpg'), readFileSync(fx.bad.truncatedJpeg.path));
    writeFileSync(join(folder, 'notes.txt'), 'not an image, skipped quietly');
    const s = await indexFolders(store, lens, [folder]);
    expect(s.indexed).toBe(1);
    expect(s.reused).toBe(1);
    expect(s.failed).toEqual([{ path: join(folder, 'broken.jpg'), code: 'E_TRUNCATED', message: expect.any(String) }]);
    expect(await store.count()).toEqual({ images: N + 2, embedded: N + 1, failed: 1 });

    rmSync(join(folder, 'copy of first.jpg'));
    rmSync(join(folder, 'broken.jpg'));
    const kept = await indexFolders(store, lens, [folder]);
    expect(kept).toMatchObject({ missing: 2, pruned: 0 });
    const pruned = await indexFolders(store, lens, [folder], { prune: true });
    expect(pruned).toMatchObject({ pruned: 2, missing: 0, indexed: 0 });
    expect((await store.count()).images).toBe(N);
    await store.close();
  });

  it('refuses to mix embeddings made with other settings (the summary says why; nothing is written)', async () => {
    const db = join(tmp, 'mix.db');
    copyFileSync(join(tmp, 'clean.db'), db);
    const store = SqliteStore.open(db);
    const extra = mkdtempSync(join(tmpdir(), 'convlens-mix-'));
    copyFileSync(join(folder, [...clean.keys()].sort()[0]!), join(extra, 'flipped.jpg'));
    appendFileSync(join(extra, 'flipped.jpg'), Buffer.from([0xff, 0xd9]));
    const squash = await ConvLens.load({ resize: 'squash' });
    const s = await indexFolders(store, squash, [extra]);
    await squash.dispose();
    expect(s.error).toMatchObject({ code: 'E_SETTINGS_MISMATCH' });
    expect((await store.count()).images).toBe(N);
    await store.close();
    rmSync(extra, { recursive: true, force: true });
  });
});

describe('convlens index (CLI)', () => {
  it('survives SIGKILL three times mid-run: one row per image, embeddings equal a clean run, integrity ok', async () => {
    const db = join(tmp, 'killed.db');
    let kills = 0;
    for (const threshold of [6, 20, 34]) {
      const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'index', folder, '--db', db, '--batch', '4', '--quiet'], {
        cwd: REPO,
        stdio: 'ignore',
      });
      const exited = new Promise((r) => child.on('exit', r));
      // wait until the child has committed `threshold` rows, then kill it without warning
      for (;;) {
        await new Promise((r) => setTimeout(r, 50));
        let n = 0;
        try {
          const ro = new Database(db, { readonly: true, fileMustExist: true });
          n = (ro.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
          ro.close();
        } catch {
          // not created yet
        }
        if (n >= threshold || child.exitCode !== null) break;
      }
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        kills++;
      }
      await exited;
    }
    expect(kills).toBe(3);
    // the killed runs left their writer lock behind: a dead process's lock is taken over
    const r = await runCli(['index', folder, '--db', db, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const [summary] = jsonLines(r.stdout);
    expect(summary.indexed + summary.unchanged).toBe(N);
    expect(summary.indexed).toBeGreaterThan(0); // the run really resumed unfinished work

    const ro = new Database(db, { readonly: true });
    expect(ro.pragma('integrity_check', { simple: true })).toBe('ok');
    const dupes = ro.prepare('SELECT count(*) AS n FROM (SELECT file FROM images GROUP BY file HAVING count(*) > 1)').get() as {
      n: number;
    };
    expect(dupes.n).toBe(0);
    ro.close();
    const got = embeddingsByPath(db);
    expect(got.size).toBe(N);
    for (const [path, emb] of clean) expect(got.get(path)?.equals(emb), path).toBe(true);
  });

  it('prints a summary and lists broken files with codes (exit 2); bad folders are reported', async () => {
    const fx = await makeImageFixtures();
    const db = join(tmp, 'fixtures.db');
    const r = await runCli(['index', fx.dir, '/no/such/folder', '--db', db, '--json']);
    expect(r.code).toBe(2);
    expect(hasStackTrace(r.stderr)).toBe(false);
    const [s] = jsonLines(r.stdout);
    const codes = Object.fromEntries(s.failed.map((f: { path: string; code: string }) => [f.path, f.code]));
    expect(codes['/no/such/folder']).toBe('E_NOT_FOUND');
    expect(codes[fx.bad.truncatedJpeg.path]).toBe('E_TRUNCATED');
    expect(codes[fx.bad.text.path]).toBe('E_NOT_IMAGE');
    expect(codes[fx.bad.bomb.path]).toBe('E_TOO_LARGE');
    expect(codes[fx.bad.empty.path]).toBe('E_EMPTY');
    expect(s.indexed).toBe(Object.keys(fx.cats).length + Object.keys(fx.odd).length);
    const human = await runCli(['index', fx.dir, '--db', db]);
    expect(human.stdout).toMatch(/^0 indexed, \d+ unchanged, \d+ failed in [\d.]+s/);
    expect(human.stderr).toContain(`${fx.bad.random.path}: not an image`);
    const mismatch = await runCli(['index', fx.dir, '--db', db, '--resize', 'squash']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain('[E_SETTINGS_MISMATCH]');
  });
});
