/**
 * Faults around a collection: signals and a second writer during `index`, damaged artefacts (the
 * model cache, the HNSW file, database pages), folders that cannot be listed, renames, read-only
 * databases. Nothing stored may be lost, duplicated, corrupted or made non-finite.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConverted, RESNET50 } from '../../src/model/index.js';
import { hasStackTrace, jsonLines } from '../helpers/cli.js';
import { CAT } from '../helpers/image-fixtures.js';
import { EXAMPLES } from '../helpers/paths.js';
import { makePhotoFolder } from '../helpers/photo-folder.js';
import { canDropPrivileges, openTempDir, runFault } from './helpers.js';

const dir = openTempDir('faults-collection');
let photos: string;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (photos) rmSync(photos, { recursive: true, force: true });
});
beforeAll(async () => {
  photos = await makePhotoFolder(36);
  chmodSync(photos, 0o755);
});

function allFiniteRows(db: string): boolean {
  const ro = new Database(db, { readonly: true });
  const rows = ro.prepare('SELECT embedding FROM images WHERE embedding IS NOT NULL').all() as { embedding: Buffer }[];
  ro.close();
  return rows.every((r) => {
    const v = new Float32Array(r.embedding.buffer.slice(r.embedding.byteOffset, r.embedding.byteOffset + r.embedding.length));
    return v.every((x) => Number.isFinite(x));
  });
}

describe('signals and a second writer', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s during index stops it like Ctrl-C: the summary, exit %i, and the next run finishes', async (signal, code) => {
    const db = join(dir, `${signal}.db`);
    const r = await runFault(['index', photos, '--db', db, '--json', '--batch', '4'], {
      signalWhen: { text: /index: [1-9]\d*\/36/, signal },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(code);
    const [summary] = jsonLines(r.stdout);
    expect(summary).toMatchObject({ interrupted: true, signal });
    expect(summary.indexed).toBeLessThan(36);
    const again = await runFault(['index', photos, '--db', db, '--json', '--quiet'], { timeoutMs: 120_000 });
    const [s2] = jsonLines(again.stdout);
    expect(s2.indexed + s2.unchanged).toBe(36);
  });

  it('a second index run on the same database says who holds it (E_DB_BUSY); the first finishes', async () => {
    const db = join(dir, 'busy.db');
    const first = runFault(['index', photos, '--db', db, '--json', '--batch', '4'], { timeoutMs: 180_000 });
    // wait until the first has the lock (its database exists and has rows)
    for (let i = 0; i < 200 && !existsSync(db); i++) await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 1500));
    const second = await runFault(['index', photos, '--db', db, '--json'], { timeoutMs: 60_000 });
    expect(second.code).toBe(1);
    const [s] = jsonLines(second.stdout);
    expect(s.error).toMatchObject({ code: 'E_DB_BUSY', message: expect.stringMatching(/another convlens \(index, pid \d+/) });
    expect(s.indexed).toBe(0);
    const done = await first;
    expect(done.code, done.stderr).toBe(0);
    expect(jsonLines(done.stdout)[0].indexed).toBe(36);
  });
});

describe('damaged artefacts', () => {
  let cache: string;
  let model: string;
  beforeAll(async () => {
    // a private cache with the model classify and index use (outputs fc1000 and avg_pool), to damage
    cache = join(dir, 'cache');
    mkdirSync(cache);
    model = (await ensureConverted(RESNET50, [RESNET50.probabilitiesLayer, RESNET50.embeddingLayer], cache)).path;
  }, 120_000);

  function damage(path: string, at: number, bytes: Buffer): void {
    const fd = openSync(path, 'r+');
    writeSync(fd, bytes, 0, bytes.length, at);
    closeSync(fd);
  }

  it('a cached model damaged inside its weights is converted again (once, with a warning), never used', async () => {
    const size = statSync(model).size;
    damage(model, Math.floor(size / 2), Buffer.alloc(4096, 0x7f));
    const r = await runFault(['classify', '--json', '--top', '1', CAT, '--cache-dir', cache], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the cached model .* cannot be trusted .*damaged.*converting it again/);
    expect(jsonLines(r.stdout)[0].predictions[0].label).toBe('Egyptian_cat');
    const again = await runFault(['classify', CAT, '--cache-dir', cache], { timeoutMs: 60_000 });
    expect(again.stderr).not.toContain('cannot be trusted');
  });

  it('a model that gives NaN (damaged with its record forged) fails each image with E_MODEL; nothing non-finite is stored', async () => {
    const size = statSync(model).size;
    // the largest float32 over a stretch of the last layer's weights (after the last ReLU, which
    // would swallow a NaN): the logits overflow and softmax gives NaN; the record is forged to match
    const huge = Buffer.alloc(1 << 20);
    for (let i = 0; i < huge.length; i += 4) huge.writeUInt32LE(0x7f7fffff, i);
    damage(model, size - (4 << 20), huge);
    const record = JSON.parse(readFileSync(`${model}.json`, 'utf8')) as { sha256: string };
    record.sha256 = createHash('sha256').update(readFileSync(model)).digest('hex');
    writeFileSync(`${model}.json`, JSON.stringify(record));

    const c = await runFault(['classify', '--json', CAT, '--cache-dir', cache], { timeoutMs: 120_000 });
    expect(c.code).toBe(2);
    expect(jsonLines(c.stdout)[0].error.code).toBe('E_MODEL');
    expect(c.stdout).not.toContain('NaN');

    const db = join(dir, 'nan.db');
    const folder = join(EXAMPLES, 'opencv');
    const i = await runFault(['index', folder, '--db', db, '--json', '--quiet', '--cache-dir', cache], { timeoutMs: 120_000 });
    expect(i.code).toBe(2);
    const [s] = jsonLines(i.stdout);
    expect(s.indexed).toBe(0);
    expect(s.failed.every((f: { code: string }) => f.code === 'E_MODEL')).toBe(true);
    expect(allFiniteRows(db)).toBe(true);

    // the cache repaired (deleted), the same command embeds what failed: E_MODEL is never settled
    rmSync(model);
    const fixed = await runFault(['index', folder, '--db', db, '--json', '--quiet', '--cache-dir', cache], { timeoutMs: 180_000 });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(jsonLines(fixed.stdout)[0].indexed).toBe(s.failed.length);
    expect(allFiniteRows(db)).toBe(true);
  });

  it('an HNSW file damaged behind its header, or cut short, is not trusted: exact answers, a warning, rebuilt by index', async () => {
    const db = join(dir, 'hnsw.db');
    const built = await runFault(['index', EXAMPLES, '--db', db, '--hnsw', 'always', '--json', '--quiet'], { timeoutMs: 180_000 });
    expect(jsonLines(built.stdout)[0].hnsw).toBe(`${db}.cosine.hnsw`);
    const file = `${db}.cosine.hnsw`;
    const exact = jsonLines((await runFault(['similar', CAT, '--db', db, '-k', '5', '--exact', '--json'])).stdout)[0].results;
    const size = statSync(file).size;
    damage(file, Math.floor(size / 2), Buffer.alloc(4096, 0xab));
    const r = await runFault(['similar', CAT, '--db', db, '-k', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/HNSW index .* does not match its recorded digest .*searching exactly/);
    expect(jsonLines(r.stdout)[0].results).toEqual(exact);
    // the next index (auto) rebuilds it: the collection had one
    const rebuilt = await runFault(['index', EXAMPLES, '--db', db, '--json', '--quiet'], { timeoutMs: 120_000 });
    expect(jsonLines(rebuilt.stdout)[0].hnsw).toBe(file);
    const fresh = await runFault(['similar', CAT, '--db', db, '-k', '5', '--json']);
    expect(fresh.stderr).not.toContain('HNSW');
    expect(jsonLines(fresh.stdout)[0].results).toEqual(exact);
    // cut short (a copy that stopped), same story
    writeFileSync(file, readFileSync(file).subarray(0, Math.floor(size / 3)));
    const cut = await runFault(['similar', CAT, '--db', db, '-k', '5', '--json']);
    expect(cut.code).toBe(0);
    expect(jsonLines(cut.stdout)[0].results).toEqual(exact);
  });

  it('a database with damaged pages is one coded line, not a stack trace', async () => {
    const db = join(dir, 'pages.db');
    expect((await runFault(['index', join(EXAMPLES, 'skimage'), '--db', db, '--quiet'], { timeoutMs: 120_000 })).code).toBe(0);
    const size = statSync(db).size;
    damage(db, 4096, Buffer.alloc(Math.min(size - 4096, 64 * 1024), 0x55));
    for (const args of [['stats'], ['similar', CAT], ['index', join(EXAMPLES, 'skimage')]]) {
      const r = await runFault([...args, '--db', db], { timeoutMs: 60_000 });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/\[E_DB\]/);
      expect(hasStackTrace(r.stderr)).toBe(false);
    }
  });
});

describe('pruning, renames and labels', () => {
  it('renamed files reuse their results before the old rows are pruned, and keep their labels', async () => {
    const folder = join(dir, 'renames');
    mkdirSync(folder);
    for (const f of readdirSync(join(EXAMPLES, 'skimage'))
      .filter((f) => f.endsWith('.png'))
      .slice(0, 8)) {
      copyFileSync(join(EXAMPLES, 'skimage', f), join(folder, f));
    }
    const db = join(dir, 'renames.db');
    expect((await runFault(['index', folder, '--db', db, '--quiet'], { timeoutMs: 120_000 })).code).toBe(0);
    const names = readdirSync(folder).sort();
    expect((await runFault(['label', join(folder, names[0]!), '--as', 'first', '--db', db])).code).toBe(0);
    for (const n of names.slice(0, 5)) renameSync(join(folder, n), join(folder, `renamed ${n}`));
    const r = await runFault(['index', folder, '--db', db, '--prune', '--json', '--quiet'], { timeoutMs: 120_000 });
    const [s] = jsonLines(r.stdout);
    expect(s).toMatchObject({ indexed: 5, reused: 5, pruned: 5, unchanged: 3 });
    const labels = jsonLines((await runFault(['label', '--db', db, '--json'])).stdout)[0];
    expect(labels.labels).toEqual([{ label: 'first', count: 1 }]);
    const knn = await runFault(['stats', '--db', db, '--json']);
    expect(jsonLines(knn.stdout)[0].count).toBe(8);
  });

  it.skipIf(!canDropPrivileges())(
    'a folder that cannot be listed is reported; nothing under it is pruned and its labels stay',
    async () => {
      const folder = join(dir, 'locked');
      mkdirSync(join(folder, 'open'), { recursive: true });
      mkdirSync(join(folder, 'closed'));
      copyFileSync(CAT, join(folder, 'open', 'cat.png'));
      copyFileSync(join(EXAMPLES, 'skimage', 'coffee.png'), join(folder, 'closed', 'coffee.png'));
      for (const d of [folder, join(folder, 'open'), join(folder, 'closed')]) chmodSync(d, 0o777);
      const db = join(dir, 'locked.db');
      expect((await runFault(['index', folder, '--db', db, '--quiet'], { timeoutMs: 120_000 })).code).toBe(0);
      expect((await runFault(['label', join(folder, 'closed', 'coffee.png'), '--as', 'cup', '--db', db])).code).toBe(0);
      for (const f of readdirSync(dir).filter((f) => f.startsWith('locked.db'))) chmodSync(join(dir, f), 0o666);
      chmodSync(join(folder, 'closed'), 0o000);
      try {
        const r = await runFault(['index', folder, '--db', db, '--prune', '--json', '--quiet'], { nobody: true, timeoutMs: 60_000 });
        const [s] = jsonLines(r.stdout);
        expect(s.failed).toEqual([expect.objectContaining({ path: join(folder, 'closed'), code: 'E_PERMISSION' })]);
        expect(s.pruned).toBe(0);
        expect(s.missing).toBe(1);
      } finally {
        chmodSync(join(folder, 'closed'), 0o777);
      }
      const labels = jsonLines((await runFault(['label', '--db', db, '--json'])).stdout)[0];
      expect(labels.labels).toEqual([{ label: 'cup', count: 1 }]);
    },
  );

  it.skipIf(!canDropPrivileges())('read-only commands work on a database its user cannot write (a read-only mount)', async () => {
    const ro = join(dir, 'readonly');
    mkdirSync(ro);
    const db = join(ro, 'c.db');
    expect((await runFault(['index', join(EXAMPLES, 'skimage'), '--db', db, '--quiet'], { timeoutMs: 120_000 })).code).toBe(0);
    chmodSync(ro, 0o755); // root's: "nobody" can read, not write
    for (const args of [
      ['stats'],
      ['similar', join(EXAMPLES, 'skimage', 'motorcycle_left.png'), '-k', '1'],
      ['duplicates'],
      ['histogram', CAT, '--out', join(dir, 'h.svg')],
    ]) {
      const r = await runFault([...args, '--db', db], { nobody: true, timeoutMs: 60_000 });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0);
    }
    const write = await runFault(['label', CAT, '--as', 'x', '--db', db], { nobody: true });
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/\[E_(PERMISSION|DB)\]/);
    expect(hasStackTrace(write.stderr)).toBe(false);
  });
});

describe('killed while writing the HNSW index', () => {
  it('never leaves an index the search trusts: killed at any point, search stays exact and right', async () => {
    const db = join(dir, 'killed-hnsw.db');
    const { syntheticStore } = await import('../helpers/synthetic-store.js');
    await syntheticStore(db, join(dir, 'synthetic'), 30_000, { dim: 64, thumbnails: false });
    const script = `import { Collection } from ${JSON.stringify(join(process.cwd(), 'src', 'collection', 'index.ts'))};
      const c = await Collection.open(${JSON.stringify(db)}); await c.buildHnsw(); await c.close(); console.log('built');`;
    for (const ms of [300, 900, 1800]) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'ignore' });
      await new Promise((res) => setTimeout(res, ms));
      child.kill('SIGKILL');
      await new Promise((res) => child.on('close', res));
      const { Collection } = await import('../../src/collection/index.js');
      const c = await Collection.open(db, { readonly: true });
      const approx = await c.similar({ id: 12_345 }, { k: 5 });
      const exact = await c.similar({ id: 12_345 }, { k: 5, approximate: false });
      expect(approx.results).toEqual(exact.results);
      await c.close();
    }
    // the killed writers' temporary files go with the next build
    const { Collection } = await import('../../src/collection/index.js');
    const c = await Collection.open(db);
    await c.buildHnsw();
    await c.close();
    expect(readdirSync(dir).filter((f) => f.startsWith('killed-hnsw.db.cosine.hnsw.') && f.endsWith('.tmp'))).toEqual([]);
  });
});
