import Database from 'better-sqlite3';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/index.js';
import { DIM, record, storeContract, vector } from './contract.js';

const tmp = mkdtempSync(join(tmpdir(), 'convlens-sqlite-'));
afterAll(() => {
  chmodSync(tmp, 0o755);
  rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
storeContract('SQLite', async () => SqliteStore.open(join(tmp, `contract-${n++}.db`), { create: true }));

/** A schema-2 database as convlens 0.1 wrote it (rows keyed by root + relative path). */
function schema2(path: string, rows: { root: string; path: string; hash: string; embedding: Float32Array; label?: string }[]): void {
  const db = new Database(path);
  db.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
    CREATE TABLE images (id INTEGER PRIMARY KEY, root_id INTEGER NOT NULL REFERENCES roots(id), path TEXT NOT NULL, size INTEGER NOT NULL,
      mtime_ms REAL NOT NULL, hash TEXT, width INTEGER, height INTEGER, format TEXT, top5 TEXT, top1 INTEGER, embedding BLOB,
      zero_fraction REAL, error_code TEXT, error_message TEXT, indexed_at INTEGER NOT NULL, UNIQUE (root_id, path));
    CREATE TABLE thumbnails (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, data BLOB NOT NULL);
    CREATE TABLE labels (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, label TEXT NOT NULL,
      updated_at INTEGER NOT NULL);
    CREATE TABLE projections (key TEXT PRIMARY KEY, method TEXT NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL,
      ids BLOB NOT NULL, coords BLOB NOT NULL, info TEXT);
  `);
  db.prepare(`INSERT INTO meta VALUES ('schema_version', '2'), ('settings', ?)`).run(
    JSON.stringify({ model: 'm', layer: 'avg_pool', resize: 'crop', dim: DIM }),
  );
  const root = db.prepare('INSERT OR IGNORE INTO roots (path) VALUES (?)');
  const rootId = db.prepare('SELECT id FROM roots WHERE path = ?');
  const img = db.prepare(
    `INSERT INTO images (root_id, path, size, mtime_ms, hash, top5, top1, embedding, zero_fraction, indexed_at)
     VALUES (?, ?, 1, 1, ?, '[{"index":3,"probability":0.5}]', 3, ?, 0, 1) RETURNING id`,
  );
  const label = db.prepare('INSERT INTO labels VALUES (?, ?, 1)');
  const thumb = db.prepare('INSERT INTO thumbnails VALUES (?, ?)');
  for (const r of rows) {
    root.run(r.root);
    const rid = (rootId.get(r.root) as { id: number }).id;
    const { id } = img.get(rid, r.path, r.hash, Buffer.from(r.embedding.buffer)) as { id: number };
    thumb.run(id, Buffer.from([1, 2, 3]));
    if (r.label) label.run(id, r.label);
  }
  db.close();
}

describe('SQLite store', () => {
  it('upgrades schema 2 in place: one row per file across nested roots, labels follow their file, non-finite rows cleared', async () => {
    const db = join(tmp, 'v2.db');
    const nan = Float32Array.from({ length: DIM }, (_, i) => (i === 0 ? NaN : 1));
    schema2(db, [
      { root: '/fl', path: 'daisy/1.jpg', hash: 'h1', embedding: vector(1), label: 'daisy' },
      { root: '/fl', path: 'rose/2.jpg', hash: 'h2', embedding: vector(2) },
      { root: '/fl/daisy', path: '1.jpg', hash: 'h1', embedding: vector(1) }, // the same file through a nested root
      { root: '/fl', path: 'rose/3.jpg', hash: 'h3', embedding: nan }, // stored from a damaged model
    ]);
    expect(() => SqliteStore.open(db, { readonly: true })).toThrow(
      expect.objectContaining({ code: 'E_DB', message: expect.stringMatching(/older convlens/) }),
    );
    const store = SqliteStore.open(db);
    expect(await store.getMeta('schema_version')).toBe('3');
    expect(await store.count()).toEqual({ images: 3, embedded: 2, failed: 1 });
    const daisy = (await store.imageByFile('/fl/daisy/1.jpg'))!;
    expect(daisy).toMatchObject({ root: '/fl', path: 'daisy/1.jpg' });
    expect((await store.labels()).get(daisy.id)).toBe('daisy');
    expect(await store.thumbnail(daisy.id)).toEqual(Buffer.from([1, 2, 3]));
    const cleared = (await store.imageByFile('/fl/rose/3.jpg'))!;
    expect(cleared.error?.code).toBe('E_MODEL');
    expect(cleared.hash).toBeNull(); // not settled: the next index embeds it again
    expect(await store.embedding(cleared.id)).toBeNull();
    expect(await store.integrityCheck()).toBe('ok');
    // new rows with thumbnails go in (the thumbnails table refers to the new images table)
    await store.writeBatch([record((await store.roots())[0]!.id, '/fl/tulip/9.jpg', 9)]);
    expect((await store.count()).images).toBe(4);
    await store.close();
    await SqliteStore.open(db, { readonly: true }).close();
  });

  it('opens a database in a folder it cannot write (a read-only mount) for reading', async () => {
    if (process.getuid?.() === 0) {
      // root ignores permissions: test the open path that needs no -shm file directly
      const dir = join(tmp, 'ro-root');
      mkdirSync(dir);
      const store = SqliteStore.open(join(dir, 'c.db'), { create: true });
      await store.lockSettings({ model: 'm', layer: 'l', resize: 'crop', dim: DIM });
      await store.writeBatch([record(await store.rootId('/p'), '/p/1.jpg', 1)]);
      await store.close();
      const ro = SqliteStore.open(join(dir, 'c.db'), { readonly: true });
      expect((await ro.count()).images).toBe(1);
      await ro.close();
      return;
    }
    const dir = join(tmp, 'ro');
    mkdirSync(dir);
    const store = SqliteStore.open(join(dir, 'c.db'), { create: true });
    await store.lockSettings({ model: 'm', layer: 'l', resize: 'crop', dim: DIM });
    await store.writeBatch([record(await store.rootId('/p'), '/p/1.jpg', 1)]);
    await store.close();
    chmodSync(dir, 0o555);
    try {
      const ro = SqliteStore.open(join(dir, 'c.db'), { readonly: true });
      expect((await ro.count()).images).toBe(1);
      await ro.close();
    } finally {
      chmodSync(dir, 0o755);
    }
  });

  it('says what a file is when it is not a convlens database, and when nothing is there', () => {
    const other = join(tmp, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (a)');
    db.close();
    expect(() => SqliteStore.open(other)).toThrow(
      expect.objectContaining({ code: 'E_DB', message: expect.stringMatching(/not a convlens database/) }),
    );
    expect(() => SqliteStore.open(join(tmp, 'missing.db'))).toThrow(
      expect.objectContaining({ code: 'E_DB', message: expect.stringMatching(/convlens index/) }),
    );
  });
});
