/**
 * The embedded collection store: one SQLite file (better-sqlite3, WAL). See types.ts for what it
 * promises. File paths are keys stored as their bytes (BLOB), so every name, valid UTF-8 or not,
 * is one row; the relative path shown to people is text.
 */
import Database from 'better-sqlite3';
import type BetterSqlite3 from 'better-sqlite3';
import { accessSync, constants, existsSync, statfsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConvlensError, type ErrorCode } from '../core/errors.js';
import { decodePath, encodePath } from '../core/fspath.js';
import { allFinite, matrix, type Matrix } from '../core/matrix.js';
import {
  SCHEMA_VERSION,
  type CollectionStore,
  type Counts,
  type EmbeddingSettings,
  type FileState,
  type ImageRecord,
  type ImageRow,
  type MapSummary,
  type OpenOptions,
  type ReusableResult,
  type StoredMap,
  type StoredPrediction,
  type WriterInfo,
} from './types.js';
import { checkSettings, embeddingRows, settingsJson, writerHeld } from './common.js';

type Db = BetterSqlite3.Database;

// URI file names let a read-only open fall back to `immutable=1` (a database on a read-only mount
// has no -shm file to share); better-sqlite3 reads this when its addon loads, at the first open
process.env.SQLITE_USE_URI ??= '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS images (
  id INTEGER PRIMARY KEY,
  file BLOB NOT NULL UNIQUE,
  root_id INTEGER NOT NULL REFERENCES roots(id),
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms REAL NOT NULL,
  hash TEXT,
  width INTEGER,
  height INTEGER,
  format TEXT,
  top5 TEXT,
  top1 INTEGER,
  embedding BLOB,
  zero_fraction REAL,
  error_code TEXT,
  error_message TEXT,
  indexed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS images_hash ON images(hash);
CREATE INDEX IF NOT EXISTS images_top1 ON images(top1);
CREATE INDEX IF NOT EXISTS images_root ON images(root_id);
CREATE TABLE IF NOT EXISTS thumbnails (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS labels (file BLOB PRIMARY KEY, hash TEXT, label TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS labels_hash ON labels(hash);
CREATE TABLE IF NOT EXISTS projections (
  key TEXT PRIMARY KEY,
  method TEXT NOT NULL,
  params TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  ids BLOB NOT NULL,
  coords BLOB NOT NULL,
  info TEXT
);
`;

/** Schema 2 -> 3: rows keyed by real file path (one row per file across nested roots), labels by file and content. */
const UPGRADE_2_TO_3 = `
ALTER TABLE images RENAME TO images_v2;
ALTER TABLE labels RENAME TO labels_v2;
ALTER TABLE roots RENAME TO roots_v2;
DROP INDEX IF EXISTS images_hash;
DROP INDEX IF EXISTS images_top1;
CREATE TABLE roots (id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE);
INSERT INTO roots (id, path) SELECT id, CAST(path AS BLOB) FROM roots_v2;
CREATE TABLE images (
  id INTEGER PRIMARY KEY, file BLOB NOT NULL UNIQUE, root_id INTEGER NOT NULL REFERENCES roots(id), path TEXT NOT NULL,
  size INTEGER NOT NULL, mtime_ms REAL NOT NULL, hash TEXT, width INTEGER, height INTEGER, format TEXT, top5 TEXT, top1 INTEGER,
  embedding BLOB, zero_fraction REAL, error_code TEXT, error_message TEXT, indexed_at INTEGER NOT NULL
);
INSERT OR IGNORE INTO images
  SELECT i.id, CAST(CASE WHEN r.path = '/' THEN '/' || i.path ELSE r.path || '/' || i.path END AS BLOB), i.root_id, i.path,
    i.size, i.mtime_ms, i.hash, i.width, i.height, i.format, i.top5, i.top1, i.embedding, i.zero_fraction, i.error_code,
    i.error_message, i.indexed_at
  FROM images_v2 i JOIN roots_v2 r ON r.id = i.root_id ORDER BY i.id;
CREATE TABLE labels (file BLOB PRIMARY KEY, hash TEXT, label TEXT NOT NULL, updated_at INTEGER NOT NULL);
INSERT OR IGNORE INTO labels (file, hash, label, updated_at)
  SELECT CAST(CASE WHEN r.path = '/' THEN '/' || i.path ELSE r.path || '/' || i.path END AS BLOB), i.hash, l.label, l.updated_at
  FROM labels_v2 l JOIN images_v2 i ON i.id = l.image_id JOIN roots_v2 r ON r.id = i.root_id ORDER BY l.updated_at DESC;
DELETE FROM thumbnails WHERE image_id NOT IN (SELECT id FROM images);
DROP TABLE labels_v2;
DROP TABLE images_v2;
DROP TABLE roots_v2;
`;

function blobToFloat32(b: Buffer): Float32Array {
  // copy: SQLite's buffer offset need not be 4-byte aligned
  const out = new Float32Array(b.length / 4);
  Buffer.from(out.buffer).set(b);
  return out;
}

function float32ToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

interface RawImageRow {
  id: number;
  file: Buffer;
  root: Buffer;
  path: string;
  size: number;
  mtime_ms: number;
  hash: string | null;
  width: number | null;
  height: number | null;
  format: string | null;
  top5: string | null;
  zero_fraction: number | null;
  error_code: string | null;
  error_message: string | null;
  indexed_at: number;
}

const IMAGE_COLUMNS = `i.id, i.file, r.path AS root, i.path, i.size, i.mtime_ms, i.hash, i.width, i.height, i.format, i.top5,
  i.zero_fraction, i.error_code, i.error_message, i.indexed_at`;

function toImageRow(r: RawImageRow): ImageRow {
  return {
    id: r.id,
    file: decodePath(r.file),
    root: decodePath(r.root),
    path: r.path,
    size: r.size,
    mtimeMs: r.mtime_ms,
    hash: r.hash,
    width: r.width,
    height: r.height,
    format: r.format,
    top5: r.top5 ? (JSON.parse(r.top5) as StoredPrediction[]) : null,
    zeroFraction: r.zero_fraction,
    error: r.error_code ? { code: r.error_code, message: r.error_message ?? '' } : null,
    indexedAt: r.indexed_at,
  };
}

/** SQLite's failures as coded one-line errors naming the database. */
function sqliteError(e: unknown, file: string, doing: string): ConvlensError {
  if (e instanceof ConvlensError) return e;
  const code = String((e as { code?: unknown })?.code ?? '');
  const message = (e as Error)?.message ?? String(e);
  const say = (c: ErrorCode, what: string): ConvlensError => new ConvlensError(c, `${doing}: ${what}`, { file, cause: e });
  if (code.startsWith('SQLITE_FULL') || /ENOSPC|disk is full|database or disk is full/i.test(message)) {
    return say('E_DISK_FULL', 'no space left on the device');
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return say('E_DB_BUSY', 'the database is locked by another process (still locked after the busy timeout)');
  }
  if (code.startsWith('SQLITE_READONLY')) return say('E_PERMISSION', 'the database is read-only here');
  if (code.startsWith('SQLITE_CANTOPEN')) return say('E_DB', 'cannot open the database file');
  if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
    return say('E_DB', `the database is damaged (${message}); restore it from a backup or index again into a new one`);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    // SQLite reports a write into a full WAL as an I/O error: the free space tells them apart
    return noSpaceLeft(file) ? say('E_DISK_FULL', 'no space left on the device') : say('E_IO', `disk I/O error (${code})`);
  }
  if (code.startsWith('SQLITE_')) return say('E_DB', message);
  return new ConvlensError('E_INTERNAL', `${doing}: ${message}`, { file, cause: e });
}

/** Whether the file system holding `file` is (all but) full. */
function noSpaceLeft(file: string): boolean {
  try {
    const s = statfsSync(dirname(resolve(file)));
    return s.bavail * s.bsize < 1 << 20;
  } catch {
    return false;
  }
}

export class SqliteStore implements CollectionStore {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly connection: string;
  readonly readonly: boolean;
  private readonly db: Db;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  private constructor(location: string, db: Db, readonly: boolean) {
    this.location = location;
    this.connection = resolve(location);
    this.db = db;
    this.readonly = readonly;
  }

  static open(path: string, options: OpenOptions = {}): SqliteStore {
    const abs = resolve(path);
    const readonly = options.readonly ?? false;
    if (!existsSync(abs)) {
      if (!options.create || readonly) {
        throw new ConvlensError('E_DB', `no collection database here (run "convlens index <dir> --db ${path}" first)`, { file: path });
      }
    }
    let db: Db;
    try {
      db = readonly ? openReadonly(abs) : new Database(abs, { fileMustExist: !options.create });
      db.pragma('busy_timeout = 10000');
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
    } catch (e) {
      if (e instanceof ConvlensError) throw e;
      throw sqliteError(e, path, 'cannot open the collection');
    }
    const store = new SqliteStore(path, db, readonly);
    try {
      store.migrate();
    } catch (e) {
      db.close();
      if (e instanceof ConvlensError) throw e;
      const code = String((e as { code?: unknown })?.code ?? '');
      if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
        throw new ConvlensError('E_DB', `not a convlens database, or damaged (${(e as Error).message})`, { file: path, cause: e });
      }
      throw sqliteError(e, path, 'cannot read the collection');
    }
    return store;
  }

  private st(sql: string): BetterSqlite3.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Run a read or write, turning SQLite's failures into coded errors. */
  private run<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw sqliteError(e, this.location, doing);
    }
  }

  private migrate(): void {
    const tables = new Set(
      (this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name),
    );
    if (!tables.has('meta')) {
      if (tables.size > 0) throw new ConvlensError('E_DB', 'this SQLite file is not a convlens database', { file: this.location });
      if (this.readonly) throw new ConvlensError('E_DB', 'empty database (nothing indexed yet)', { file: this.location });
    }
    const version = tables.has('meta') ? Number(this.metaSync('schema_version') ?? 1) : SCHEMA_VERSION;
    if (version > SCHEMA_VERSION) {
      throw new ConvlensError('E_DB', `database schema ${version} is newer than this convlens (${SCHEMA_VERSION}); upgrade convlens`, {
        file: this.location,
      });
    }
    if (this.readonly) {
      if (version < SCHEMA_VERSION) {
        throw new ConvlensError('E_DB', 'database made by an older convlens; run "convlens index" on it once to upgrade it', {
          file: this.location,
        });
      }
      return;
    }
    if (version === SCHEMA_VERSION && tables.has('meta')) {
      this.db.exec(SCHEMA); // indexes added since, if any
      return;
    }
    // legacy_alter_table: renaming the old tables must not rewrite the references other tables
    // (thumbnails) hold to "images": they are meant for the new table of that name
    this.db.pragma('foreign_keys = OFF');
    this.db.pragma('legacy_alter_table = ON');
    try {
      this.db.transaction(() => {
        if (tables.has('meta') && version < 2) {
          const cols = this.db.prepare(`SELECT name FROM pragma_table_info('thumbnails')`).all() as { name: string }[];
          if (cols.some((c) => c.name === 'webp')) this.db.exec('ALTER TABLE thumbnails RENAME COLUMN webp TO data');
        }
        if (tables.has('meta') && version < 3) {
          this.db.exec(UPGRADE_2_TO_3);
          this.dropNonFinite();
        }
        this.db.exec(SCHEMA);
        this.db
          .prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
          .run(String(SCHEMA_VERSION));
      })();
    } finally {
      this.db.pragma('legacy_alter_table = OFF');
      this.db.pragma('foreign_keys = ON');
    }
  }

  /**
   * Embeddings that are not finite (stored by an older convlens from a damaged model file) are
   * cleared, with an error that the next index does not treat as settled: it embeds them again.
   */
  private dropNonFinite(): void {
    const clear = this.db.prepare(
      `UPDATE images SET embedding = NULL, top5 = NULL, top1 = NULL, zero_fraction = NULL, hash = NULL,
         error_code = 'E_MODEL', error_message = 'its stored embedding was not finite; the next index embeds it again' WHERE id = ?`,
    );
    const bad: number[] = [];
    for (const r of this.db.prepare('SELECT id, embedding FROM images WHERE embedding IS NOT NULL').iterate() as Iterable<{
      id: number;
      embedding: Buffer;
    }>) {
      if (!allFinite(blobToFloat32(r.embedding))) bad.push(r.id);
    }
    for (const id of bad) clear.run(id);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private metaSync(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  async getMeta(key: string): Promise<string | null> {
    return this.run('reading the collection', () => this.metaSync(key));
  }

  async setMeta(key: string, value: string | null): Promise<void> {
    this.run('writing the collection', () => {
      if (value === null) this.st('DELETE FROM meta WHERE key = ?').run(key);
      else this.st('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
    });
  }

  async settings(): Promise<EmbeddingSettings | null> {
    const s = await this.getMeta('settings');
    return s ? (JSON.parse(s) as EmbeddingSettings) : null;
  }

  async lockSettings(s: EmbeddingSettings): Promise<void> {
    this.run('writing the collection', () =>
      this.db
        .transaction(() => {
          const current = this.metaSync('settings');
          if (current) checkSettings(JSON.parse(current) as EmbeddingSettings, s, this.location);
          else this.st(`INSERT INTO meta (key, value) VALUES ('settings', ?)`).run(settingsJson(s));
        })
        .immediate(),
    );
  }

  async acquireWriter(me: Omit<WriterInfo, 'since'>, options: { waitMs?: number } = {}): Promise<() => Promise<void>> {
    const token = `${me.host}:${me.pid}:${Math.random().toString(36).slice(2)}`;
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const holder = this.run('locking the collection', () =>
        this.db
          .transaction((): WriterInfo | null => {
            const raw = this.metaSync('writer');
            const current = raw ? (JSON.parse(raw) as WriterInfo & { token: string }) : null;
            if (current && writerHeld(current, hostname())) return current;
            this.st(`INSERT INTO meta (key, value) VALUES ('writer', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`).run(
              JSON.stringify({ ...me, since: Date.now(), token }),
            );
            return null;
          })
          .immediate(),
      );
      if (!holder) break;
      if (Date.now() >= deadline) {
        throw new ConvlensError(
          'E_DB_BUSY',
          `another convlens (${holder.command}, pid ${holder.pid} on ${holder.host}, since ${new Date(holder.since).toISOString()}) ` +
            'is writing this collection; wait for it to finish',
          { file: this.location },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return async () => {
      if (!this.db.open) return;
      this.run('unlocking the collection', () =>
        this.db
          .transaction(() => {
            const raw = this.metaSync('writer');
            if (raw && (JSON.parse(raw) as { token?: string }).token === token) this.st(`DELETE FROM meta WHERE key = 'writer'`).run();
          })
          .immediate(),
      );
    };
  }

  async rootId(root: string): Promise<number> {
    return this.run('writing the collection', () => {
      const key = encodePath(root);
      this.st('INSERT OR IGNORE INTO roots (path) VALUES (?)').run(key);
      return (this.st('SELECT id FROM roots WHERE path = ?').get(key) as { id: number }).id;
    });
  }

  async roots(): Promise<{ id: number; path: string }[]> {
    const rows = this.run('reading the collection', () => this.st('SELECT id, path FROM roots').all() as { id: number; path: Buffer }[]);
    return rows.map((r) => ({ id: r.id, path: decodePath(r.path) })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async fileStates(rootId: number, under: string): Promise<Map<string, FileState>> {
    const prefix = encodePath(under === '/' ? '/' : `${under}/`);
    const end = Buffer.from(prefix);
    end[end.length - 1] = end[end.length - 1]! + 1; // '/' + 1 = '0': every file under the folder sorts between
    const rows = this.run(
      'reading the collection',
      () =>
        this.st(
          `SELECT id, file, path, root_id, size, mtime_ms, hash, embedding IS NOT NULL AS ok, error_code, error_message FROM images
           WHERE root_id = ? OR (file >= ? AND file < ?)`,
        ).all(rootId, prefix, end) as {
          id: number;
          file: Buffer;
          path: string;
          root_id: number;
          size: number;
          mtime_ms: number;
          hash: string | null;
          ok: number;
          error_code: string | null;
          error_message: string | null;
        }[],
    );
    return new Map(
      rows.map((r) => [
        decodePath(r.file),
        {
          id: r.id,
          path: r.path,
          rootId: r.root_id,
          size: r.size,
          mtimeMs: r.mtime_ms,
          hash: r.hash,
          ok: r.ok === 1,
          errorCode: r.error_code,
          errorMessage: r.error_message,
        },
      ]),
    );
  }

  async reusable(hash: string): Promise<ReusableResult | null> {
    const r = this.run(
      'reading the collection',
      () =>
        this.st(
          `SELECT i.width, i.height, i.format, i.top5, i.embedding, i.zero_fraction, t.data AS thumb
           FROM images i LEFT JOIN thumbnails t ON t.image_id = i.id WHERE i.hash = ? AND i.embedding IS NOT NULL LIMIT 1`,
        ).get(hash) as
          | { width: number; height: number; format: string; top5: string; embedding: Buffer; zero_fraction: number; thumb: Buffer | null }
          | undefined,
    );
    if (!r) return null;
    return {
      width: r.width,
      height: r.height,
      format: r.format,
      top5: JSON.parse(r.top5) as StoredPrediction[],
      embedding: blobToFloat32(r.embedding),
      zeroFraction: r.zero_fraction,
      ...(r.thumb ? { thumbnail: r.thumb } : {}),
    };
  }

  async writeBatch(records: ImageRecord[]): Promise<void> {
    for (const r of records) {
      if (r.embedding && !allFinite(r.embedding)) {
        throw new ConvlensError('E_INTERNAL', `refusing to store a non-finite embedding for ${r.file}`, { file: this.location });
      }
    }
    const upsert = this.st(`
      INSERT INTO images (file, root_id, path, size, mtime_ms, hash, width, height, format, top5, top1, embedding, zero_fraction,
        error_code, error_message, indexed_at)
      VALUES (@file, @rootId, @path, @size, @mtimeMs, @hash, @width, @height, @format, @top5, @top1, @embedding, @zeroFraction,
        @errorCode, @errorMessage, @indexedAt)
      ON CONFLICT(file) DO UPDATE SET
        size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, width = excluded.width, height = excluded.height,
        format = excluded.format, top5 = excluded.top5, top1 = excluded.top1, embedding = excluded.embedding,
        zero_fraction = excluded.zero_fraction, error_code = excluded.error_code, error_message = excluded.error_message,
        indexed_at = excluded.indexed_at
      RETURNING id`);
    const thumb = this.st('INSERT INTO thumbnails (image_id, data) VALUES (?, ?) ON CONFLICT(image_id) DO UPDATE SET data = excluded.data');
    const dropThumb = this.st('DELETE FROM thumbnails WHERE image_id = ?');
    // a label waiting for this content (its file was pruned or renamed) comes back with it
    const restoreLabel = this.st(`
      UPDATE labels SET file = @file WHERE rowid = (
        SELECT l.rowid FROM labels l WHERE l.hash = @hash AND NOT EXISTS (SELECT 1 FROM images i WHERE i.file = l.file) LIMIT 1
      ) AND NOT EXISTS (SELECT 1 FROM labels WHERE file = @file)`);
    const followContent = this.st('UPDATE labels SET hash = @hash WHERE file = @file AND hash IS NOT @hash');
    const now = Date.now();
    this.run('writing the collection', () =>
      this.db.transaction(() => {
        for (const r of records) {
          const file = encodePath(r.file);
          const { id } = upsert.get({
            file,
            rootId: r.rootId,
            path: r.path,
            size: r.size,
            mtimeMs: r.mtimeMs,
            hash: r.hash,
            width: r.width ?? null,
            height: r.height ?? null,
            format: r.format ?? null,
            top5: r.top5 ? JSON.stringify(r.top5) : null,
            top1: r.top5?.[0]?.index ?? null,
            embedding: r.embedding ? float32ToBlob(r.embedding) : null,
            zeroFraction: r.zeroFraction ?? null,
            errorCode: r.error?.code ?? null,
            errorMessage: r.error?.message ?? null,
            indexedAt: now,
          }) as { id: number };
          if (r.thumbnail) thumb.run(id, r.thumbnail);
          else dropThumb.run(id);
          if (r.hash) {
            restoreLabel.run({ file, hash: r.hash });
            followContent.run({ file, hash: r.hash });
          }
        }
      })(),
    );
  }

  async touch(rows: { id: number; size: number; mtimeMs: number }[]): Promise<void> {
    const st = this.st('UPDATE images SET size = ?, mtime_ms = ? WHERE id = ?');
    this.run('writing the collection', () =>
      this.db.transaction(() => {
        for (const r of rows) st.run(r.size, r.mtimeMs, r.id);
      })(),
    );
  }

  async deleteImages(ids: number[]): Promise<number> {
    const st = this.st('DELETE FROM images WHERE id = ?');
    // a label left without its file moves to an unlabelled row with the same content (a renamed file)
    const orphans = this.st(
      'SELECT l.file, l.hash FROM labels l WHERE l.hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM images i WHERE i.file = l.file)',
    );
    const heir = this.st(
      'SELECT i.file FROM images i WHERE i.hash = ? AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.file = i.file) ORDER BY i.id LIMIT 1',
    );
    const move = this.st('UPDATE labels SET file = ? WHERE file = ?');
    return this.run('writing the collection', () =>
      this.db.transaction(() => {
        let n = 0;
        for (const id of ids) n += st.run(id).changes;
        for (const o of orphans.all() as { file: Buffer; hash: string }[]) {
          const h = heir.get(o.hash) as { file: Buffer } | undefined;
          if (h) move.run(h.file, o.file);
        }
        return n;
      })(),
    );
  }

  async count(): Promise<Counts> {
    return this.run(
      'reading the collection',
      () => this.st('SELECT count(*) AS images, count(embedding) AS embedded, count(error_code) AS failed FROM images').get() as Counts,
    );
  }

  async image(id: number): Promise<ImageRow | null> {
    const r = this.run(
      'reading the collection',
      () =>
        this.st(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.id = ?`).get(id) as RawImageRow | undefined,
    );
    return r ? toImageRow(r) : null;
  }

  async imageByFile(file: string): Promise<ImageRow | null> {
    const r = this.run(
      'reading the collection',
      () =>
        this.st(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.file = ?`).get(encodePath(file)) as
          RawImageRow | undefined,
    );
    return r ? toImageRow(r) : null;
  }

  async images(options: { offset?: number; limit?: number; embeddedOnly?: boolean; failedOnly?: boolean } = {}): Promise<ImageRow[]> {
    const where = options.embeddedOnly ? 'WHERE i.embedding IS NOT NULL' : options.failedOnly ? 'WHERE i.error_code IS NOT NULL' : '';
    const rows = this.run(
      'reading the collection',
      () =>
        this.st(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id ${where} ORDER BY i.id LIMIT ? OFFSET ?`).all(
          options.limit ?? -1,
          options.offset ?? 0,
        ) as RawImageRow[],
    );
    return rows.map(toImageRow);
  }

  async embedding(id: number): Promise<Float32Array | null> {
    const r = this.run(
      'reading the collection',
      () => this.st('SELECT embedding FROM images WHERE id = ?').get(id) as { embedding: Buffer | null } | undefined,
    );
    return r?.embedding ? blobToFloat32(r.embedding) : null;
  }

  async embeddings(): Promise<{ ids: Int32Array; matrix: Matrix }> {
    return this.run('reading the collection', () => {
      const dim = (JSON.parse(this.metaSync('settings') ?? '{"dim":0}') as { dim: number }).dim;
      const { embedded } = this.st('SELECT count(embedding) AS embedded FROM images').get() as { embedded: number };
      const ids = new Int32Array(embedded);
      const m = matrix(embedded, dim);
      const bytes = Buffer.from(m.data.buffer);
      let i = 0;
      for (const r of this.st('SELECT id, embedding FROM images WHERE embedding IS NOT NULL ORDER BY id').iterate() as Iterable<{
        id: number;
        embedding: Buffer;
      }>) {
        if (i >= embedded) break; // rows added since count(): picked up next time
        if (r.embedding.length !== dim * 4) {
          throw new ConvlensError('E_DB', `image ${r.id}: embedding of ${r.embedding.length / 4} values, expected ${dim}`, {
            file: this.location,
          });
        }
        bytes.set(r.embedding, i * dim * 4);
        ids[i] = r.id;
        i++;
      }
      return { ids: ids.subarray(0, i), matrix: i === embedded ? m : matrix(i, dim, m.data.subarray(0, i * dim)) };
    });
  }

  private dimSync(): number {
    return (JSON.parse(this.metaSync('settings') ?? '{"dim":0}') as { dim: number }).dim;
  }

  async embeddingPage(afterId: number, limit: number): Promise<{ ids: Int32Array; matrix: Matrix }> {
    return this.run('reading the collection', () =>
      embeddingRows(
        this.location,
        this.st('SELECT id, embedding FROM images WHERE embedding IS NOT NULL AND id > ? ORDER BY id LIMIT ?').all(afterId, limit) as {
          id: number;
          embedding: Buffer;
        }[],
        this.dimSync(),
      ),
    );
  }

  async embeddingsOf(ids: ArrayLike<number>): Promise<{ ids: Int32Array; matrix: Matrix }> {
    return this.run('reading the collection', () => {
      const st = this.st('SELECT id, embedding FROM images WHERE id = ? AND embedding IS NOT NULL');
      const rows: { id: number; embedding: Buffer }[] = [];
      for (let i = 0; i < ids.length; i++) {
        const r = st.get(ids[i]) as { id: number; embedding: Buffer } | undefined;
        if (r) rows.push(r);
      }
      return embeddingRows(this.location, rows, this.dimSync());
    });
  }

  async embeddedIds(): Promise<Int32Array> {
    return this.run('reading the collection', () =>
      Int32Array.from(this.st('SELECT id FROM images WHERE embedding IS NOT NULL ORDER BY id').pluck().all() as number[]),
    );
  }

  async embeddingsVersion(): Promise<string> {
    const r = this.run(
      'reading the collection',
      () =>
        this.st(
          `SELECT count(*) AS n, coalesce(max(id), 0) AS maxId, coalesce(total(id), 0) AS sumId, coalesce(max(indexed_at), 0) AS t
           FROM images WHERE embedding IS NOT NULL`,
        ).get() as { n: number; maxId: number; sumId: number; t: number },
    );
    return `${r.n}:${r.maxId}:${r.sumId}:${r.t}`;
  }

  async changeToken(): Promise<string> {
    return this.run('reading the collection', () => {
      const dv = this.db.pragma('data_version', { simple: true }) as number;
      const own = (this.st('SELECT total_changes() AS n').get() as { n: number }).n;
      return `${dv}:${own}`;
    });
  }

  async thumbnail(id: number): Promise<Buffer | null> {
    const r = this.run(
      'reading the collection',
      () => this.st('SELECT data FROM thumbnails WHERE image_id = ?').get(id) as { data: Buffer } | undefined,
    );
    return r?.data ?? null;
  }

  async top1Counts(): Promise<{ index: number; count: number }[]> {
    return this.run(
      'reading the collection',
      () =>
        this.st(
          'SELECT top1 AS "index", count(*) AS count FROM images WHERE top1 IS NOT NULL GROUP BY top1 ORDER BY count DESC, top1',
        ).all() as { index: number; count: number }[],
    );
  }

  async sameContent(): Promise<number[][]> {
    const rows = this.run(
      'reading the collection',
      () =>
        this.st(
          `SELECT json_group_array(id) AS ids FROM (SELECT id, hash FROM images WHERE hash IS NOT NULL ORDER BY id)
           GROUP BY hash HAVING count(*) > 1 ORDER BY min(id)`,
        ).all() as { ids: string }[],
    );
    return rows.map((r) => JSON.parse(r.ids) as number[]);
  }

  async zeroFractions(): Promise<Float64Array> {
    const rows = this.run(
      'reading the collection',
      () => this.st('SELECT zero_fraction AS z FROM images WHERE zero_fraction IS NOT NULL ORDER BY id').all() as { z: number }[],
    );
    return Float64Array.from(rows, (r) => r.z);
  }

  async setLabels(ids: number[], label: string | null): Promise<number> {
    const row = this.st('SELECT file, hash FROM images WHERE id = ?');
    const set = this.st(`INSERT INTO labels (file, hash, label, updated_at) VALUES (?, ?, ?, ?)
      ON CONFLICT(file) DO UPDATE SET label = excluded.label, hash = excluded.hash, updated_at = excluded.updated_at`);
    const del = this.st('DELETE FROM labels WHERE file = ?');
    const now = Date.now();
    return this.run('writing the collection', () =>
      this.db.transaction(() => {
        let changed = 0;
        for (const id of ids) {
          const r = row.get(id) as { file: Buffer; hash: string | null } | undefined;
          if (!r) throw new ConvlensError('E_USAGE', `no image with id ${id}`);
          changed += (label === null ? del.run(r.file) : set.run(r.file, r.hash, label, now)).changes;
        }
        return changed;
      })(),
    );
  }

  async labels(): Promise<Map<number, string>> {
    const rows = this.run(
      'reading the collection',
      () =>
        this.st('SELECT i.id, l.label FROM labels l JOIN images i ON i.file = l.file ORDER BY i.id').all() as {
          id: number;
          label: string;
        }[],
    );
    return new Map(rows.map((r) => [r.id, r.label]));
  }

  async labelCounts(): Promise<{ label: string; count: number }[]> {
    return this.run(
      'reading the collection',
      () =>
        this.st(
          'SELECT l.label, count(*) AS count FROM labels l JOIN images i ON i.file = l.file GROUP BY l.label ORDER BY count DESC, l.label',
        ).all() as { label: string; count: number }[],
    );
  }

  async projection(key: string): Promise<StoredMap | null> {
    const r = this.run(
      'reading the collection',
      () =>
        this.st('SELECT method, params, created_at, ids, coords, info FROM projections WHERE key = ?').get(key) as
          { method: string; params: string; created_at: number; ids: Buffer; coords: Buffer; info: string | null } | undefined,
    );
    if (!r) return null;
    const ids = new Int32Array(r.ids.length / 4);
    Buffer.from(ids.buffer).set(r.ids);
    return {
      method: r.method,
      params: JSON.parse(r.params),
      createdAt: r.created_at,
      ids,
      coords: blobToFloat32(r.coords),
      info: r.info ? JSON.parse(r.info) : {},
    };
  }

  async saveProjection(key: string, p: Omit<StoredMap, 'createdAt' | 'info'> & { info?: Record<string, unknown> }): Promise<void> {
    this.run('writing the collection', () =>
      this.st(
        `INSERT INTO projections (key, method, params, created_at, ids, coords, info) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET method = excluded.method, params = excluded.params, created_at = excluded.created_at,
           ids = excluded.ids, coords = excluded.coords, info = excluded.info`,
      ).run(
        key,
        p.method,
        JSON.stringify(p.params),
        Date.now(),
        Buffer.from(p.ids.buffer, p.ids.byteOffset, p.ids.byteLength),
        float32ToBlob(p.coords),
        JSON.stringify(p.info ?? {}),
      ),
    );
  }

  async projections(): Promise<MapSummary[]> {
    const rows = this.run(
      'reading the collection',
      () =>
        this.st('SELECT key, method, params, created_at, length(ids) / 4 AS count FROM projections ORDER BY created_at DESC').all() as {
          key: string;
          method: string;
          params: string;
          created_at: number;
          count: number;
        }[],
    );
    return rows.map((r) => ({ key: r.key, method: r.method, params: JSON.parse(r.params), createdAt: r.created_at, count: r.count }));
  }

  async integrityCheck(): Promise<string> {
    return this.run('checking the collection', () => (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown');
  }
}

/**
 * Open for reading. A database in WAL mode needs its -shm file; where that cannot be created (a
 * read-only folder or mount) the file is opened as immutable, which SQLite reads without it.
 */
function openReadonly(abs: string): Db {
  try {
    const db = new Database(abs, { readonly: true, fileMustExist: true });
    db.prepare('SELECT count(*) FROM sqlite_master').get(); // the first read is where WAL setup fails
    return db;
  } catch (e) {
    const code = String((e as { code?: unknown })?.code ?? '');
    if (!code.startsWith('SQLITE_READONLY') && !code.startsWith('SQLITE_CANTOPEN')) throw e;
    let writableDir = true;
    try {
      accessSync(dirname(abs), constants.W_OK);
    } catch {
      writableDir = false;
    }
    if (writableDir && !code.startsWith('SQLITE_READONLY')) throw e;
    const uri = `file:${abs.replace(/%/g, '%25').replace(/\?/g, '%3f').replace(/#/g, '%23')}?immutable=1`;
    return new Database(uri, { readonly: true, fileMustExist: true });
  }
}
