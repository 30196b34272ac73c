/**
 * The collection store: one SQLite file (better-sqlite3, WAL) holding, per image, where it is,
 * what it was when read (size, mtime, content hash, dimensions), its top-5 ImageNet classes, its
 * embedding (float32 blob) and thumbnail, or the error it failed with. The model, layer and
 * resize mode are recorded once per database: embeddings made with other settings are refused,
 * never mixed. Batches are written in transactions, so a killed process loses at most the batch
 * in flight and never leaves a half-written row.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import { matrix, type Matrix } from '../core/matrix.js';

export const SCHEMA_VERSION = 2;
export const DEFAULT_DB = 'convlens.db';

/** What makes embeddings comparable. */
export interface EmbeddingSettings {
  model: string;
  layer: string;
  resize: string;
  dim: number;
  /** augmentation view (e.g. "flip"), absent for the images themselves */
  variant?: string;
}

export interface StoredPrediction {
  index: number;
  probability: number;
}

export interface ImageRow {
  id: number;
  root: string;
  /** path relative to its root, with / separators */
  path: string;
  /** absolute path on disk */
  absPath: string;
  size: number;
  mtimeMs: number;
  hash: string | null;
  width: number | null;
  height: number | null;
  format: string | null;
  top5: StoredPrediction[] | null;
  zeroFraction: number | null;
  error: { code: string; message: string } | null;
  indexedAt: number;
}

/** One image's result, as the indexer writes it. */
export interface ImageRecord {
  rootId: number;
  path: string;
  size: number;
  mtimeMs: number;
  hash: string | null;
  width?: number;
  height?: number;
  format?: string;
  top5?: StoredPrediction[];
  embedding?: Float32Array;
  zeroFraction?: number;
  thumbnail?: Buffer;
  error?: { code: string; message: string };
}

/** Minimal per-file facts for incremental indexing. */
export interface FileState {
  id: number;
  size: number;
  mtimeMs: number;
  hash: string | null;
  ok: boolean;
  errorCode: string | null;
  errorMessage: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS images (
  id INTEGER PRIMARY KEY,
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
  indexed_at INTEGER NOT NULL,
  UNIQUE (root_id, path)
);
CREATE INDEX IF NOT EXISTS images_hash ON images(hash);
CREATE INDEX IF NOT EXISTS images_top1 ON images(top1);
CREATE TABLE IF NOT EXISTS thumbnails (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS labels (image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, label TEXT NOT NULL, updated_at INTEGER NOT NULL);
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
  root: string;
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

const IMAGE_COLUMNS = `i.id, r.path AS root, i.path, i.size, i.mtime_ms, i.hash, i.width, i.height, i.format, i.top5, i.zero_fraction, i.error_code, i.error_message, i.indexed_at`;

function toImageRow(r: RawImageRow): ImageRow {
  return {
    id: r.id,
    root: r.root,
    path: r.path,
    absPath: resolve(r.root, ...r.path.split('/')),
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

export interface OpenOptions {
  /** create the file when missing (default false: a missing database is an error) */
  create?: boolean;
  readonly?: boolean;
}

export class Store {
  readonly path: string;
  readonly db: Database.Database;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  static open(path: string, options: OpenOptions = {}): Store {
    const abs = resolve(path);
    if (!existsSync(abs) && !options.create) {
      throw new ConvlensError('E_DB', `no collection database here (run "convlens index <dir> --db ${path}" first)`, { file: path });
    }
    let db: Database.Database;
    try {
      db = new Database(abs, { readonly: options.readonly ?? false, fileMustExist: !options.create });
      db.pragma('busy_timeout = 10000');
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
      }
      db.pragma('foreign_keys = ON');
    } catch (e) {
      throw new ConvlensError('E_DB', `cannot open database (${(e as Error).message})`, { file: path, cause: e });
    }
    const store = new Store(abs, db);
    try {
      store.migrate(options.readonly ?? false);
    } catch (e) {
      db.close();
      if (e instanceof ConvlensError) throw e;
      throw new ConvlensError('E_DB', `not a convlens database or damaged (${(e as Error).message})`, { file: path, cause: e });
    }
    return store;
  }

  private migrate(readonly: boolean): void {
    const hasMeta = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get();
    if (!hasMeta) {
      const tables = this.db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
      if (tables.n > 0) throw new ConvlensError('E_DB', 'this SQLite file is not a convlens database', { file: this.path });
      if (readonly) throw new ConvlensError('E_DB', 'empty database', { file: this.path });
    }
    const version = hasMeta ? this.getMeta('schema_version') : null;
    if (version !== null && Number(version) > SCHEMA_VERSION) {
      throw new ConvlensError('E_DB', `database schema ${version} is newer than this convlens (${SCHEMA_VERSION}); upgrade convlens`, {
        file: this.path,
      });
    }
    const upgrades = hasMeta ? this.pendingUpgrades() : [];
    if (readonly) {
      if (upgrades.length > 0) {
        throw new ConvlensError('E_DB', 'database made by an older convlens; run "convlens index" on it once to upgrade it', {
          file: this.path,
        });
      }
      return;
    }
    this.db.transaction(() => {
      for (const sql of upgrades) this.db.exec(sql);
      this.db.exec(SCHEMA);
      if (version !== String(SCHEMA_VERSION)) this.setMeta('schema_version', String(SCHEMA_VERSION));
    })();
  }

  /** SQL that brings an older schema up to date (schema 1 named the thumbnail column `webp`). */
  private pendingUpgrades(): string[] {
    const thumbColumns = this.db.prepare(`SELECT name FROM pragma_table_info('thumbnails')`).all() as { name: string }[];
    return thumbColumns.some((c) => c.name === 'webp') ? ['ALTER TABLE thumbnails RENAME COLUMN webp TO data'] : [];
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  getMeta(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** The settings this database's embeddings were made with (null before the first index). */
  get settings(): EmbeddingSettings | null {
    const s = this.getMeta('settings');
    return s ? (JSON.parse(s) as EmbeddingSettings) : null;
  }

  /**
   * Record the settings on first use; afterwards refuse different ones, so vectors from another
   * model, layer or preprocessing are never mixed into the same collection.
   */
  ensureSettings(s: EmbeddingSettings): void {
    const current = this.settings;
    if (!current) {
      this.setMeta(
        'settings',
        JSON.stringify({ model: s.model, layer: s.layer, resize: s.resize, dim: s.dim, ...(s.variant ? { variant: s.variant } : {}) }),
      );
      return;
    }
    const diffs = (['model', 'layer', 'resize', 'dim', 'variant'] as const)
      .filter((k) => (current[k] ?? '') !== (s[k] ?? ''))
      .map((k) => `${k} ${current[k] ?? 'none'} (asked: ${s[k] ?? 'none'})`);
    if (diffs.length > 0) {
      throw new ConvlensError(
        'E_SETTINGS_MISMATCH',
        `this database holds embeddings made with ${diffs.join(', ')}; use the same settings or another --db`,
        { file: this.path },
      );
    }
  }

  /** Id of a root folder, added when new. */
  rootId(root: string): number {
    const abs = resolve(root);
    this.db.prepare('INSERT OR IGNORE INTO roots (path) VALUES (?)').run(abs);
    return (this.db.prepare('SELECT id FROM roots WHERE path = ?').get(abs) as { id: number }).id;
  }

  roots(): { id: number; path: string }[] {
    return this.db.prepare('SELECT id, path FROM roots ORDER BY path').all() as { id: number; path: string }[];
  }

  /** The root containing an absolute path, and the path relative to it (/-separated). */
  locate(file: string): { rootId: number; rel: string } | null {
    const abs = resolve(file);
    let best: { rootId: number; rel: string; len: number } | null = null;
    for (const r of this.roots()) {
      const rel = relative(r.path, abs);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue;
      if (!best || r.path.length > best.len) best = { rootId: r.id, rel: rel.split(sep).join('/'), len: r.path.length };
    }
    return best && { rootId: best.rootId, rel: best.rel };
  }

  /** Incremental-indexing facts for every row under a root, by relative path. */
  fileStates(rootId: number): Map<string, FileState> {
    const rows = this.db
      .prepare(
        'SELECT id, path, size, mtime_ms, hash, embedding IS NOT NULL AS ok, error_code, error_message FROM images WHERE root_id = ?',
      )
      .all(rootId) as {
      id: number;
      path: string;
      size: number;
      mtime_ms: number;
      hash: string | null;
      ok: number;
      error_code: string | null;
      error_message: string | null;
    }[];
    return new Map(
      rows.map((r) => [
        r.path,
        {
          id: r.id,
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

  /** An embedded row with this content hash (to reuse its results for an identical file). */
  findByHash(hash: string): { id: number } | null {
    return (
      (this.db.prepare('SELECT id FROM images WHERE hash = ? AND embedding IS NOT NULL LIMIT 1').get(hash) as { id: number } | undefined) ??
      null
    );
  }

  /** Write a batch of results in one transaction (insert or replace by root + path). */
  writeBatch(records: ImageRecord[]): void {
    const upsert = this.db.prepare(`
      INSERT INTO images (root_id, path, size, mtime_ms, hash, width, height, format, top5, top1, embedding, zero_fraction, error_code, error_message, indexed_at)
      VALUES (@rootId, @path, @size, @mtimeMs, @hash, @width, @height, @format, @top5, @top1, @embedding, @zeroFraction, @errorCode, @errorMessage, @indexedAt)
      ON CONFLICT(root_id, path) DO UPDATE SET
        size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, width = excluded.width, height = excluded.height,
        format = excluded.format, top5 = excluded.top5, top1 = excluded.top1, embedding = excluded.embedding,
        zero_fraction = excluded.zero_fraction, error_code = excluded.error_code, error_message = excluded.error_message,
        indexed_at = excluded.indexed_at
      RETURNING id`);
    const thumb = this.db.prepare(
      'INSERT INTO thumbnails (image_id, data) VALUES (?, ?) ON CONFLICT(image_id) DO UPDATE SET data = excluded.data',
    );
    const dropThumb = this.db.prepare('DELETE FROM thumbnails WHERE image_id = ?');
    const now = Date.now();
    this.db.transaction(() => {
      for (const r of records) {
        const { id } = upsert.get({
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
      }
    })();
  }

  /** Copy another row's results (same content, another path) into a record. */
  resultsOf(id: number): Pick<ImageRecord, 'width' | 'height' | 'format' | 'top5' | 'embedding' | 'zeroFraction' | 'thumbnail'> | null {
    const r = this.db
      .prepare(
        'SELECT i.width, i.height, i.format, i.top5, i.embedding, i.zero_fraction, t.data AS thumb FROM images i LEFT JOIN thumbnails t ON t.image_id = i.id WHERE i.id = ?',
      )
      .get(id) as
      | {
          width: number;
          height: number;
          format: string;
          top5: string;
          embedding: Buffer | null;
          zero_fraction: number;
          thumb: Buffer | null;
        }
      | undefined;
    if (!r || !r.embedding) return null;
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

  /** Update size/mtime of rows whose content hash proved unchanged. */
  touchRows(rows: { id: number; size: number; mtimeMs: number }[]): void {
    const st = this.db.prepare('UPDATE images SET size = ?, mtime_ms = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of rows) st.run(r.size, r.mtimeMs, r.id);
    })();
  }

  deleteRows(ids: number[]): void {
    const st = this.db.prepare('DELETE FROM images WHERE id = ?');
    this.db.transaction(() => {
      for (const id of ids) st.run(id);
    })();
  }

  count(): { images: number; embedded: number; failed: number } {
    return this.db.prepare('SELECT count(*) AS images, count(embedding) AS embedded, count(error_code) AS failed FROM images').get() as {
      images: number;
      embedded: number;
      failed: number;
    };
  }

  image(id: number): ImageRow | null {
    const r = this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.id = ?`).get(id) as
      RawImageRow | undefined;
    return r ? toImageRow(r) : null;
  }

  /** Images in id order, optionally only embedded ones, with paging. */
  images(options: { offset?: number; limit?: number; embeddedOnly?: boolean; failedOnly?: boolean } = {}): ImageRow[] {
    const where = options.embeddedOnly ? 'WHERE i.embedding IS NOT NULL' : options.failedOnly ? 'WHERE i.error_code IS NOT NULL' : '';
    const rows = this.db
      .prepare(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id ${where} ORDER BY i.id LIMIT ? OFFSET ?`)
      .all(options.limit ?? -1, options.offset ?? 0) as RawImageRow[];
    return rows.map(toImageRow);
  }

  /** The row for an absolute file path, if it is in the collection. */
  imageByPath(file: string): ImageRow | null {
    const loc = this.locate(file);
    if (!loc) return null;
    const r = this.db
      .prepare(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.root_id = ? AND i.path = ?`)
      .get(loc.rootId, loc.rel) as RawImageRow | undefined;
    return r ? toImageRow(r) : null;
  }

  embedding(id: number): Float32Array | null {
    const r = this.db.prepare('SELECT embedding FROM images WHERE id = ?').get(id) as { embedding: Buffer | null } | undefined;
    return r?.embedding ? blobToFloat32(r.embedding) : null;
  }

  /** Every embedding in id order, as one matrix (ids[i] is row i). */
  embeddings(): { ids: Int32Array; matrix: Matrix } {
    const settings = this.settings;
    const { embedded } = this.count();
    const dim = settings?.dim ?? 0;
    const ids = new Int32Array(embedded);
    const m = matrix(embedded, dim);
    const bytes = Buffer.from(m.data.buffer);
    let i = 0;
    for (const r of this.db.prepare('SELECT id, embedding FROM images WHERE embedding IS NOT NULL ORDER BY id').iterate() as Iterable<{
      id: number;
      embedding: Buffer;
    }>) {
      if (i >= embedded) break; // rows added since count(): picked up next time
      if (r.embedding.length !== dim * 4)
        throw new ConvlensError('E_DB', `image ${r.id}: embedding of ${r.embedding.length / 4} values, expected ${dim}`, {
          file: this.path,
        });
      ids[i] = r.id;
      bytes.set(r.embedding, i * dim * 4);
      i++;
    }
    return { ids: ids.subarray(0, i), matrix: i === embedded ? m : matrix(i, dim, m.data.subarray(0, i * dim)) };
  }

  /** Changes whenever embedded rows are added, replaced or removed (to tell cached indexes are stale). */
  embeddingsVersion(): string {
    const r = this.db
      .prepare(
        'SELECT count(*) AS n, coalesce(max(id), 0) AS maxId, coalesce(total(id), 0) AS sumId, coalesce(max(indexed_at), 0) AS t FROM images WHERE embedding IS NOT NULL',
      )
      .get() as { n: number; maxId: number; sumId: number; t: number };
    return `${r.n}:${r.maxId}:${r.sumId}:${r.t}`;
  }

  /** The thumbnail stored at index time (JPEG; see imageMimeType for its type). */
  thumbnail(id: number): Buffer | null {
    const r = this.db.prepare('SELECT data FROM thumbnails WHERE image_id = ?').get(id) as { data: Buffer } | undefined;
    return r?.data ?? null;
  }

  /** Top-1 class index -> count, most frequent first. */
  top1Counts(): { index: number; count: number }[] {
    return this.db
      .prepare('SELECT top1 AS "index", count(*) AS count FROM images WHERE top1 IS NOT NULL GROUP BY top1 ORDER BY count DESC, top1')
      .all() as { index: number; count: number }[];
  }

  zeroFractions(): Float64Array {
    const rows = this.db.prepare('SELECT zero_fraction AS z FROM images WHERE zero_fraction IS NOT NULL ORDER BY id').all() as {
      z: number;
    }[];
    return Float64Array.from(rows, (r) => r.z);
  }

  /** Attach a label to images (replacing theirs); `null` removes it. Returns rows changed. */
  setLabels(ids: number[], label: string | null): number {
    const set = this.db.prepare(
      'INSERT INTO labels (image_id, label, updated_at) VALUES (?, ?, ?) ON CONFLICT(image_id) DO UPDATE SET label = excluded.label, updated_at = excluded.updated_at',
    );
    const del = this.db.prepare('DELETE FROM labels WHERE image_id = ?');
    const exists = this.db.prepare('SELECT 1 FROM images WHERE id = ?');
    const now = Date.now();
    let changed = 0;
    this.db.transaction(() => {
      for (const id of ids) {
        if (!exists.get(id)) throw new ConvlensError('E_USAGE', `no image with id ${id}`);
        changed += (label === null ? del.run(id) : set.run(id, label, now)).changes;
      }
    })();
    return changed;
  }

  /** image id -> label, for every labelled image. */
  labels(): Map<number, string> {
    const rows = this.db.prepare('SELECT image_id AS id, label FROM labels ORDER BY image_id').all() as { id: number; label: string }[];
    return new Map(rows.map((r) => [r.id, r.label]));
  }

  /** Label -> count, most frequent first. */
  labelCounts(): { label: string; count: number }[] {
    return this.db.prepare('SELECT label, count(*) AS count FROM labels GROUP BY label ORDER BY count DESC, label').all() as {
      label: string;
      count: number;
    }[];
  }

  /** A cached 2-D map by key (see collection/maps.ts). */
  projection(key: string): {
    method: string;
    params: Record<string, unknown>;
    createdAt: number;
    ids: Int32Array;
    coords: Float32Array;
    info: Record<string, unknown>;
  } | null {
    const r = this.db.prepare('SELECT method, params, created_at, ids, coords, info FROM projections WHERE key = ?').get(key) as
      { method: string; params: string; created_at: number; ids: Buffer; coords: Buffer; info: string | null } | undefined;
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

  saveProjection(
    key: string,
    p: { method: string; params: Record<string, unknown>; ids: Int32Array; coords: Float32Array; info?: Record<string, unknown> },
  ): void {
    this.db
      .prepare(
        `INSERT INTO projections (key, method, params, created_at, ids, coords, info) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET method = excluded.method, params = excluded.params, created_at = excluded.created_at,
           ids = excluded.ids, coords = excluded.coords, info = excluded.info`,
      )
      .run(
        key,
        p.method,
        JSON.stringify(p.params),
        Date.now(),
        Buffer.from(p.ids.buffer, p.ids.byteOffset, p.ids.byteLength),
        float32ToBlob(p.coords),
        JSON.stringify(p.info ?? {}),
      );
  }

  /** Cached maps, newest first (without their coordinates). */
  projections(): { key: string; method: string; params: Record<string, unknown>; createdAt: number; count: number }[] {
    const rows = this.db
      .prepare('SELECT key, method, params, created_at, length(ids) / 4 AS count FROM projections ORDER BY created_at DESC')
      .all() as {
      key: string;
      method: string;
      params: string;
      created_at: number;
      count: number;
    }[];
    return rows.map((r) => ({ key: r.key, method: r.method, params: JSON.parse(r.params), createdAt: r.created_at, count: r.count }));
  }

  integrityCheck(): string {
    return (this.db.pragma('integrity_check', { simple: true }) as string) ?? 'unknown';
  }
}
