/**
 * The shared collection store: PostgreSQL (node-postgres), for a collection that several machines
 * index into and serve from. Same promises as the SQLite store (types.ts), plus what many writers
 * need:
 *
 * - a collection is a PostgreSQL schema: `postgres://user@host:5432/db?schema=photos` (default
 *   schema `convlens`), so one database can hold several;
 * - a batch is one multi-row upsert in one transaction, keyed by the file; a row is only replaced
 *   by a result read from the file no earlier than the stored one (`read_at`), so a worker that
 *   wakes up late with an old batch cannot overwrite newer data;
 * - every change records the transaction that made it (`xid`), so a reader can follow the
 *   collection incrementally (`changesSince`) without missing a transaction that committed late;
 * - the writer lock is a PostgreSQL advisory lock held by a connection: it is released when that
 *   process dies, on whatever machine;
 * - schema creation and migrations take a transaction-level advisory lock, so workers opening a
 *   new collection at once do not race.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { ConvlensError } from '../core/errors.js';
import { decodePath, encodePath } from '../core/fspath.js';
import { allFinite, matrix, type Matrix } from '../core/matrix.js';
import { checkSettings, embeddingRows, settingsJson } from './common.js';
import type {
  CollectionChanges,
  CollectionStore,
  Counts,
  EmbeddingSettings,
  FileState,
  ImageRecord,
  ImageRow,
  MapSummary,
  OpenOptions,
  ReusableResult,
  StoredMap,
  StoredPrediction,
  WriterInfo,
} from './types.js';

/** Bump with a new entry in MIGRATIONS. */
const PG_SCHEMA_VERSION = 1;

const MIGRATIONS: Record<number, string> = {
  1: `
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE roots (id serial PRIMARY KEY, path bytea NOT NULL UNIQUE);
CREATE TABLE images (
  id serial PRIMARY KEY,
  file bytea NOT NULL UNIQUE,
  root_id integer NOT NULL REFERENCES roots(id),
  path text NOT NULL,
  size double precision NOT NULL,
  mtime_ms double precision NOT NULL,
  hash text,
  width integer,
  height integer,
  format text,
  top5 text,
  top1 integer,
  embedding bytea,
  zero_fraction double precision,
  error_code text,
  error_message text,
  indexed_at double precision NOT NULL,
  read_at double precision NOT NULL,
  xid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX images_hash ON images(hash);
CREATE INDEX images_top1 ON images(top1);
CREATE INDEX images_root ON images(root_id);
CREATE INDEX images_xid ON images(xid);
CREATE TABLE removed (id integer PRIMARY KEY, xid xid8 NOT NULL DEFAULT pg_current_xact_id());
CREATE INDEX removed_xid ON removed(xid);
CREATE TABLE thumbnails (image_id integer PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, data bytea NOT NULL);
CREATE TABLE labels (file bytea PRIMARY KEY, hash text, label text NOT NULL, updated_at double precision NOT NULL);
CREATE INDEX labels_hash ON labels(hash);
CREATE TABLE projections (
  key text PRIMARY KEY, method text NOT NULL, params text NOT NULL, created_at double precision NOT NULL,
  ids bytea NOT NULL, coords bytea NOT NULL, info text
);
CREATE SEQUENCE changes;
INSERT INTO meta (key, value) VALUES ('collection_id', replace(gen_random_uuid()::text, '-', ''));
`,
};

const IMAGE_COLUMNS = `i.id, i.file, r.path AS root, i.path, i.size, i.mtime_ms, i.hash, i.width, i.height, i.format, i.top5,
  i.zero_fraction, i.error_code, i.error_message, i.indexed_at`;

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

function toFloat32(b: Buffer): Float32Array {
  const out = new Float32Array(b.length / 4);
  Buffer.from(out.buffer).set(b);
  return out;
}

const toBytes = (v: Float32Array | Int32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** The connection string without the `schema` parameter, the schema, and the URL to show (no password). */
export function parsePostgresUrl(location: string): { connectionString: string; schema: string; shown: string } {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new ConvlensError('E_USAGE', `not a PostgreSQL URL: ${location.replace(/:[^:@/]*@/, ':***@')}`);
  }
  const schema = url.searchParams.get('schema') ?? 'convlens';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConvlensError('E_USAGE', `schema must be a lower-case SQL name (letters, digits, _), got "${schema}"`);
  }
  url.searchParams.delete('schema');
  const connectionString = url.toString();
  if (url.password) url.password = '***';
  url.searchParams.set('schema', schema);
  return { connectionString, schema, shown: url.toString() };
}

/** PostgreSQL's and the network's failures as coded one-line errors. */
export function postgresError(e: unknown, location: string, doing: string): ConvlensError {
  if (e instanceof ConvlensError) return e;
  const code = String((e as { code?: unknown })?.code ?? '');
  const message = (e as Error)?.message ?? String(e);
  const say = (c: ConvlensError['code'], what: string): ConvlensError =>
    new ConvlensError(c, `${doing}: ${what}`, { file: location, cause: e });
  if (code === '53100') return say('E_DISK_FULL', 'PostgreSQL has no space left on its device');
  if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|EAI_AGAIN)$/.test(code) || /^(08|57P0)/.test(code)) {
    return say('E_UNAVAILABLE', `cannot reach PostgreSQL (${code}: ${message})`);
  }
  if (/Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) {
    return say('E_UNAVAILABLE', `lost the connection to PostgreSQL (${message})`);
  }
  if (code === '55P03' || code === '40P01' || code === '40001') return say('E_DB_BUSY', `PostgreSQL: ${message}`);
  if (code === '25006') return say('E_PERMISSION', 'the collection is open read-only here');
  if (code === '3D000') return say('E_DB', `no such PostgreSQL database (${message})`);
  if (code === '28000' || code === '28P01') return say('E_PERMISSION', `PostgreSQL refused the login (${message})`);
  if (/^[0-9A-Z]{5}$/.test(code)) return say('E_DB', `PostgreSQL ${code}: ${message}`);
  return new ConvlensError('E_INTERNAL', `${doing}: ${message}`, { file: location, cause: e });
}

/** Transient failures worth one more try inside a transaction (a deadlock between two workers' upserts). */
const retryable = (e: unknown): boolean => ['40P01', '40001'].includes(String((e as { code?: unknown })?.code ?? ''));

export class PostgresStore implements CollectionStore {
  readonly kind = 'postgres';
  readonly location: string;
  readonly connection: string;
  readonly readonly: boolean;
  private readonly pool: pg.Pool;
  private readonly schema: string;

  private constructor(location: string, shown: string, schema: string, pool: pg.Pool, readonly: boolean) {
    this.connection = location;
    this.location = shown;
    this.schema = schema;
    this.pool = pool;
    this.readonly = readonly;
  }

  static async open(location: string, options: OpenOptions = {}): Promise<PostgresStore> {
    const { connectionString, schema, shown } = parsePostgresUrl(location);
    const readonly = options.readonly ?? false;
    const pool = new pg.Pool({
      connectionString,
      max: 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 10_000,
      // every connection works in the collection's schema; a read-only store cannot write by mistake
      options: `-c search_path=${schema}${readonly ? ' -c default_transaction_read_only=on' : ''}`,
      application_name: 'convlens',
    });
    // an idle connection that breaks (a PostgreSQL restart) is dropped from the pool; the next query reconnects
    pool.on('error', () => undefined);
    const store = new PostgresStore(location, shown, schema, pool, readonly);
    try {
      await store.migrate(options.create ?? false);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw postgresError(e, shown, 'cannot open the collection');
    }
    return store;
  }

  private async migrate(create: boolean): Promise<void> {
    const exists = await this.pool.query<{ ok: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'meta') AS ok`,
      [this.schema],
    );
    if (!exists.rows[0]!.ok && (!create || this.readonly)) {
      throw new ConvlensError('E_DB', `no collection in this PostgreSQL schema (run "convlens index <dir> --db ${this.location}" first)`, {
        file: this.location,
      });
    }
    const version = async (c: pg.PoolClient): Promise<number> => {
      const r = await c.query<{ v: string }>(`SELECT value AS v FROM meta WHERE key = 'schema_version'`);
      return Number(r.rows[0]?.v ?? 0);
    };
    if (exists.rows[0]!.ok) {
      const c = await this.pool.connect();
      try {
        const v = await version(c);
        if (v > PG_SCHEMA_VERSION) {
          throw new ConvlensError('E_DB', `collection schema ${v} is newer than this convlens (${PG_SCHEMA_VERSION}); upgrade convlens`, {
            file: this.location,
          });
        }
        if (v === PG_SCHEMA_VERSION) return;
        if (this.readonly) {
          throw new ConvlensError('E_DB', 'collection made by an older convlens; run "convlens index" on it once to upgrade it', {
            file: this.location,
          });
        }
      } finally {
        c.release();
      }
    }
    await this.transaction(async (c) => {
      // one process creates or upgrades the schema; the others wait here and then find it done
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`convlens-migrate:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      const has = await c.query<{ ok: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'meta') AS ok`,
        [this.schema],
      );
      let v = has.rows[0]!.ok ? await version(c) : 0;
      while (v < PG_SCHEMA_VERSION) {
        v++;
        await c.query(MIGRATIONS[v]!);
      }
      await c.query(`INSERT INTO meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [
        String(PG_SCHEMA_VERSION),
      ]);
    }, 'creating the collection');
  }

  /** Run fn in one transaction (retried on a deadlock), then mark the collection changed. */
  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>, doing: string, options: { changes?: boolean } = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let c: pg.PoolClient;
      try {
        c = await this.pool.connect();
      } catch (e) {
        throw postgresError(e, this.location, doing);
      }
      try {
        await c.query('BEGIN');
        const r = await fn(c);
        await c.query('COMMIT');
        // after the commit: a reader who sees the new token also sees the data
        if (options.changes !== false) await c.query(`SELECT nextval('changes')`).catch(() => undefined);
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (retryable(e) && attempt < 5) continue;
        throw postgresError(e, this.location, doing);
      } finally {
        c.release();
      }
    }
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[], doing = 'reading the collection'): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw postgresError(e, this.location, doing);
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  async getMeta(key: string): Promise<string | null> {
    return (await this.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key]))[0]?.value ?? null;
  }

  async setMeta(key: string, value: string | null): Promise<void> {
    await this.transaction(async (c) => {
      if (value === null) await c.query('DELETE FROM meta WHERE key = $1', [key]);
      else
        await c.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    }, 'writing the collection');
  }

  async settings(): Promise<EmbeddingSettings | null> {
    const s = await this.getMeta('settings');
    return s ? (JSON.parse(s) as EmbeddingSettings) : null;
  }

  async lockSettings(s: EmbeddingSettings): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(`INSERT INTO meta (key, value) VALUES ('settings', $1) ON CONFLICT (key) DO NOTHING`, [settingsJson(s)]);
      const r = await c.query<{ value: string }>(`SELECT value FROM meta WHERE key = 'settings'`);
      checkSettings(JSON.parse(r.rows[0]!.value) as EmbeddingSettings, s, this.location);
    }, 'writing the collection');
  }

  async acquireWriter(me: Omit<WriterInfo, 'since'>, options: { waitMs?: number } = {}): Promise<() => Promise<void>> {
    const key = `convlens-writer:${this.schema}`;
    const deadline = Date.now() + (options.waitMs ?? 0);
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw postgresError(e, this.location, 'locking the collection');
    }
    try {
      // the lock lives as long as this connection: a writer that dies, anywhere, releases it
      for (;;) {
        const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key]);
        if (r.rows[0]!.ok) break;
        if (Date.now() >= deadline) {
          const raw = await this.getMeta('writer');
          const holder = raw ? (JSON.parse(raw) as WriterInfo) : null;
          throw new ConvlensError(
            'E_DB_BUSY',
            holder
              ? `another convlens (${holder.command}, pid ${holder.pid} on ${holder.host}, ` +
                  `since ${new Date(holder.since).toISOString()}) is writing this collection; wait for it to finish`
              : 'another convlens is writing this collection; wait for it to finish',
            { file: this.location },
          );
        }
        await new Promise((res) => setTimeout(res, 250));
      }
      await this.setMeta('writer', JSON.stringify({ ...me, host: me.host || hostname(), since: Date.now() }));
    } catch (e) {
      c.release();
      throw postgresError(e, this.location, 'locking the collection');
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        await c.query(`DELETE FROM meta WHERE key = 'writer'`);
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [key]);
        c.release();
      } catch {
        c.release(true); // a broken connection: dropping it releases the lock too
      }
    };
  }

  async rootId(root: string): Promise<number> {
    const key = encodePath(root);
    return this.transaction(async (c) => {
      await c.query('INSERT INTO roots (path) VALUES ($1) ON CONFLICT (path) DO NOTHING', [key]);
      return (await c.query<{ id: number }>('SELECT id FROM roots WHERE path = $1', [key])).rows[0]!.id;
    }, 'writing the collection');
  }

  async roots(): Promise<{ id: number; path: string }[]> {
    const rows = await this.query<{ id: number; path: Buffer }>('SELECT id, path FROM roots', []);
    return rows.map((r) => ({ id: r.id, path: decodePath(r.path) })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async fileStates(rootId: number, under: string): Promise<Map<string, FileState>> {
    const prefix = encodePath(under === '/' ? '/' : `${under}/`);
    const end = Buffer.from(prefix);
    end[end.length - 1] = end[end.length - 1]! + 1;
    const rows = await this.query<{
      id: number;
      file: Buffer;
      path: string;
      root_id: number;
      size: number;
      mtime_ms: number;
      hash: string | null;
      ok: boolean;
      error_code: string | null;
      error_message: string | null;
    }>(
      `SELECT id, file, path, root_id, size, mtime_ms, hash, embedding IS NOT NULL AS ok, error_code, error_message FROM images
       WHERE root_id = $1 OR (file >= $2 AND file < $3)`,
      [rootId, prefix, end],
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
          ok: r.ok,
          errorCode: r.error_code,
          errorMessage: r.error_message,
        },
      ]),
    );
  }

  async reusable(hash: string): Promise<ReusableResult | null> {
    const r = (
      await this.query<{
        width: number;
        height: number;
        format: string;
        top5: string;
        embedding: Buffer;
        zero_fraction: number;
        thumb: Buffer | null;
      }>(
        `SELECT i.width, i.height, i.format, i.top5, i.embedding, i.zero_fraction, t.data AS thumb
         FROM images i LEFT JOIN thumbnails t ON t.image_id = i.id WHERE i.hash = $1 AND i.embedding IS NOT NULL LIMIT 1`,
        [hash],
      )
    )[0];
    if (!r) return null;
    return {
      width: r.width,
      height: r.height,
      format: r.format,
      top5: JSON.parse(r.top5) as StoredPrediction[],
      embedding: toFloat32(r.embedding),
      zeroFraction: r.zero_fraction,
      ...(r.thumb ? { thumbnail: r.thumb } : {}),
    };
  }

  async writeBatch(records: ImageRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const r of records) {
      if (r.embedding && !allFinite(r.embedding)) {
        throw new ConvlensError('E_INTERNAL', `refusing to store a non-finite embedding for ${r.file}`, { file: this.location });
      }
    }
    // one file once per statement (ON CONFLICT cannot touch a row twice): the last record wins
    const byFile = new Map<string, ImageRecord>();
    for (const r of records) byFile.set(r.file, r);
    const rows = [...byFile.values()];
    const now = Date.now();
    const col = <T>(f: (r: ImageRecord) => T): T[] => rows.map(f);
    await this.transaction(async (c) => {
      const written = await c.query<{ id: number; file: Buffer }>(
        `INSERT INTO images (file, root_id, path, size, mtime_ms, hash, width, height, format, top5, top1, embedding, zero_fraction,
           error_code, error_message, indexed_at, read_at)
         SELECT * FROM unnest($1::bytea[], $2::int[], $3::text[], $4::float8[], $5::float8[], $6::text[], $7::int[], $8::int[],
           $9::text[], $10::text[], $11::int[], $12::bytea[], $13::float8[], $14::text[], $15::text[], $16::float8[], $17::float8[])
         ON CONFLICT (file) DO UPDATE SET
           size = excluded.size, mtime_ms = excluded.mtime_ms, hash = excluded.hash, width = excluded.width,
           height = excluded.height, format = excluded.format, top5 = excluded.top5, top1 = excluded.top1,
           embedding = excluded.embedding, zero_fraction = excluded.zero_fraction, error_code = excluded.error_code,
           error_message = excluded.error_message, indexed_at = excluded.indexed_at, read_at = excluded.read_at,
           xid = pg_current_xact_id()
         WHERE images.read_at <= excluded.read_at
         RETURNING id, file`,
        [
          col((r) => encodePath(r.file)),
          col((r) => r.rootId),
          col((r) => r.path),
          col((r) => r.size),
          col((r) => r.mtimeMs),
          col((r) => r.hash),
          col((r) => r.width ?? null),
          col((r) => r.height ?? null),
          col((r) => r.format ?? null),
          col((r) => (r.top5 ? JSON.stringify(r.top5) : null)),
          col((r) => r.top5?.[0]?.index ?? null),
          col((r) => (r.embedding ? toBytes(r.embedding) : null)),
          col((r) => r.zeroFraction ?? null),
          col((r) => r.error?.code ?? null),
          col((r) => r.error?.message ?? null),
          col(() => now),
          col((r) => r.readAt ?? now),
        ],
      );
      const idOf = new Map(written.rows.map((w) => [decodePath(w.file), w.id]));
      const kept = rows.filter((r) => idOf.has(r.file));
      const withThumb = kept.filter((r) => r.thumbnail);
      if (withThumb.length > 0) {
        await c.query(
          `INSERT INTO thumbnails (image_id, data) SELECT * FROM unnest($1::int[], $2::bytea[])
           ON CONFLICT (image_id) DO UPDATE SET data = excluded.data`,
          [withThumb.map((r) => idOf.get(r.file)), withThumb.map((r) => r.thumbnail)],
        );
      }
      const noThumb = kept.filter((r) => !r.thumbnail).map((r) => idOf.get(r.file));
      if (noThumb.length > 0) await c.query('DELETE FROM thumbnails WHERE image_id = ANY($1::int[])', [noThumb]);
      await c.query('DELETE FROM removed WHERE id = ANY($1::int[])', [[...idOf.values()]]);
      const anyLabels = (await c.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM labels) AS ok')).rows[0]!.ok;
      if (!anyLabels) return;
      for (const r of kept) {
        if (!r.hash) continue;
        const file = encodePath(r.file);
        // a label waiting for this content (its file was pruned or renamed) comes back with it
        await c.query(
          `UPDATE labels SET file = $1 WHERE file = (
             SELECT l.file FROM labels l WHERE l.hash = $2 AND NOT EXISTS (SELECT 1 FROM images i WHERE i.file = l.file) LIMIT 1
           ) AND NOT EXISTS (SELECT 1 FROM labels WHERE file = $1)`,
          [file, r.hash],
        );
        await c.query('UPDATE labels SET hash = $2 WHERE file = $1 AND hash IS DISTINCT FROM $2', [file, r.hash]);
      }
    }, 'writing the collection');
  }

  async touch(rows: { id: number; size: number; mtimeMs: number }[]): Promise<void> {
    if (rows.length === 0) return;
    await this.transaction(
      (c) =>
        c.query(
          `UPDATE images i SET size = u.size, mtime_ms = u.mtime FROM unnest($1::int[], $2::float8[], $3::float8[]) AS u(id, size, mtime)
           WHERE i.id = u.id`,
          [rows.map((r) => r.id), rows.map((r) => r.size), rows.map((r) => r.mtimeMs)],
        ),
      'writing the collection',
    );
  }

  async deleteImages(ids: number[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.transaction(async (c) => {
      const gone = await c.query<{ id: number }>('DELETE FROM images WHERE id = ANY($1::int[]) RETURNING id', [ids]);
      await c.query('INSERT INTO removed (id) SELECT unnest($1::int[]) ON CONFLICT (id) DO UPDATE SET xid = pg_current_xact_id()', [
        gone.rows.map((r) => r.id),
      ]);
      // a label left without its file moves to an unlabelled row with the same content (a renamed file)
      const orphans = await c.query<{ file: Buffer; hash: string }>(
        'SELECT l.file, l.hash FROM labels l WHERE l.hash IS NOT NULL AND NOT EXISTS (SELECT 1 FROM images i WHERE i.file = l.file)',
      );
      for (const o of orphans.rows) {
        const heir = await c.query<{ file: Buffer }>(
          `SELECT i.file FROM images i WHERE i.hash = $1 AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.file = i.file)
           ORDER BY i.id LIMIT 1`,
          [o.hash],
        );
        if (heir.rows[0]) await c.query('UPDATE labels SET file = $1 WHERE file = $2', [heir.rows[0].file, o.file]);
      }
      return gone.rowCount ?? 0;
    }, 'writing the collection');
  }

  async count(): Promise<Counts> {
    const r = await this.query<Counts>(
      'SELECT count(*)::int AS images, count(embedding)::int AS embedded, count(error_code)::int AS failed FROM images',
      [],
    );
    return r[0]!;
  }

  async image(id: number): Promise<ImageRow | null> {
    const r = await this.query<RawImageRow>(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.id = $1`, [id]);
    return r[0] ? toImageRow(r[0]) : null;
  }

  async imageByFile(file: string): Promise<ImageRow | null> {
    const r = await this.query<RawImageRow>(`SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id WHERE i.file = $1`, [
      encodePath(file),
    ]);
    return r[0] ? toImageRow(r[0]) : null;
  }

  async images(options: { offset?: number; limit?: number; embeddedOnly?: boolean; failedOnly?: boolean } = {}): Promise<ImageRow[]> {
    const where = options.embeddedOnly ? 'WHERE i.embedding IS NOT NULL' : options.failedOnly ? 'WHERE i.error_code IS NOT NULL' : '';
    const rows = await this.query<RawImageRow>(
      `SELECT ${IMAGE_COLUMNS} FROM images i JOIN roots r ON r.id = i.root_id ${where} ORDER BY i.id LIMIT $1 OFFSET $2`,
      [options.limit ?? null, options.offset ?? 0],
    );
    return rows.map(toImageRow);
  }

  async embedding(id: number): Promise<Float32Array | null> {
    const r = await this.query<{ embedding: Buffer | null }>('SELECT embedding FROM images WHERE id = $1', [id]);
    return r[0]?.embedding ? toFloat32(r[0].embedding) : null;
  }

  private async dim(): Promise<number> {
    return (await this.settings())?.dim ?? 0;
  }

  async embeddings(): Promise<{ ids: Int32Array; matrix: Matrix }> {
    const dim = await this.dim();
    const c = await this.pool.connect().catch((e: unknown) => {
      throw postgresError(e, this.location, 'reading the collection');
    });
    try {
      // one snapshot for the count and the pages
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { n } = (await c.query<{ n: number }>('SELECT count(embedding)::int AS n FROM images')).rows[0]!;
      const ids = new Int32Array(n);
      const m = matrix(n, dim);
      const bytes = Buffer.from(m.data.buffer);
      let i = 0;
      let after = 0;
      for (;;) {
        const page = await c.query<{ id: number; embedding: Buffer }>(
          'SELECT id, embedding FROM images WHERE embedding IS NOT NULL AND id > $1 ORDER BY id LIMIT 4096',
          [after],
        );
        for (const r of page.rows) {
          if (r.embedding.length !== dim * 4) {
            throw new ConvlensError('E_DB', `image ${r.id}: embedding of ${r.embedding.length / 4} values, expected ${dim}`, {
              file: this.location,
            });
          }
          bytes.set(r.embedding, i * dim * 4);
          ids[i++] = r.id;
        }
        if (page.rows.length < 4096) break;
        after = page.rows.at(-1)!.id;
      }
      await c.query('COMMIT');
      return { ids, matrix: m };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw postgresError(e, this.location, 'reading the collection');
    } finally {
      c.release();
    }
  }

  async changesSince(watermark: string | null): Promise<CollectionChanges> {
    const dim = await this.dim();
    const c = await this.pool.connect().catch((e: unknown) => {
      throw postgresError(e, this.location, 'reading the collection');
    });
    try {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // every transaction older than this snapshot's xmin has ended: the next call starts there,
      // and a change committed late by an older transaction is still ahead of it
      const next = (await c.query<{ x: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x')).rows[0]!.x;
      const since = watermark ?? '0';
      const rows = await c.query<{ id: number; embedding: Buffer | null }>(
        'SELECT id, embedding FROM images WHERE xid >= $1::xid8 ORDER BY id',
        [since],
      );
      const removed = await c.query<{ id: number }>('SELECT id FROM removed WHERE xid >= $1::xid8', [since]);
      await c.query('COMMIT');
      const added = rows.rows.filter((r) => r.embedding !== null);
      const m = matrix(added.length, dim);
      added.forEach((r, i) => Buffer.from(m.data.buffer).set(r.embedding!, i * dim * 4));
      return {
        watermark: next,
        ids: Int32Array.from(added, (r) => r.id),
        matrix: m,
        removed: Int32Array.from([...removed.rows.map((r) => r.id), ...rows.rows.filter((r) => r.embedding === null).map((r) => r.id)]),
      };
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw postgresError(e, this.location, 'reading the collection');
    } finally {
      c.release();
    }
  }

  async embeddingPage(afterId: number, limit: number): Promise<{ ids: Int32Array; matrix: Matrix }> {
    const dim = await this.dim();
    const rows = await this.query<{ id: number; embedding: Buffer }>(
      'SELECT id, embedding FROM images WHERE embedding IS NOT NULL AND id > $1 ORDER BY id LIMIT $2',
      [afterId, limit],
    );
    return embeddingRows(this.location, rows, dim);
  }

  async embeddingsOf(ids: ArrayLike<number>): Promise<{ ids: Int32Array; matrix: Matrix }> {
    const dim = await this.dim();
    const want = Array.from(ids);
    const rows = await this.query<{ id: number; embedding: Buffer }>(
      'SELECT id, embedding FROM images WHERE id = ANY($1::int[]) AND embedding IS NOT NULL',
      [want],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return embeddingRows(
      this.location,
      want.map((id) => byId.get(id)).filter((r): r is { id: number; embedding: Buffer } => r !== undefined),
      dim,
    );
  }

  async embeddedIds(): Promise<Int32Array> {
    const rows = await this.query<{ id: number }>('SELECT id FROM images WHERE embedding IS NOT NULL ORDER BY id', []);
    return Int32Array.from(rows, (r) => r.id);
  }

  async embeddingsVersion(): Promise<string> {
    const r = await this.query<{ n: number; max_id: number; sum_id: string; t: number }>(
      `SELECT count(*)::int AS n, coalesce(max(id), 0) AS max_id, coalesce(sum(id), 0)::text AS sum_id, coalesce(max(indexed_at), 0) AS t
       FROM images WHERE embedding IS NOT NULL`,
      [],
    );
    const v = r[0]!;
    return `${v.n}:${v.max_id}:${v.sum_id}:${v.t}`;
  }

  async changeToken(): Promise<string> {
    const r = await this.query<{ v: string; called: boolean }>('SELECT last_value::text AS v, is_called AS called FROM changes', []);
    return `${r[0]!.v}:${r[0]!.called}`;
  }

  async thumbnail(id: number): Promise<Buffer | null> {
    return (await this.query<{ data: Buffer }>('SELECT data FROM thumbnails WHERE image_id = $1', [id]))[0]?.data ?? null;
  }

  async top1Counts(): Promise<{ index: number; count: number }[]> {
    return this.query(
      'SELECT top1 AS "index", count(*)::int AS count FROM images WHERE top1 IS NOT NULL GROUP BY top1 ORDER BY count DESC, top1',
      [],
    );
  }

  async sameContent(): Promise<number[][]> {
    const rows = await this.query<{ ids: number[] }>(
      'SELECT array_agg(id ORDER BY id) AS ids FROM images WHERE hash IS NOT NULL GROUP BY hash HAVING count(*) > 1 ORDER BY min(id)',
      [],
    );
    return rows.map((r) => r.ids);
  }

  async zeroFractions(): Promise<Float64Array> {
    const rows = await this.query<{ z: number }>('SELECT zero_fraction AS z FROM images WHERE zero_fraction IS NOT NULL ORDER BY id', []);
    return Float64Array.from(rows, (r) => r.z);
  }

  async setLabels(ids: number[], label: string | null): Promise<number> {
    const now = Date.now();
    return this.transaction(async (c) => {
      let changed = 0;
      for (const id of ids) {
        const r = (await c.query<{ file: Buffer; hash: string | null }>('SELECT file, hash FROM images WHERE id = $1', [id])).rows[0];
        if (!r) throw new ConvlensError('E_USAGE', `no image with id ${id}`);
        const res =
          label === null
            ? await c.query('DELETE FROM labels WHERE file = $1', [r.file])
            : await c.query(
                `INSERT INTO labels (file, hash, label, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (file) DO UPDATE SET label = excluded.label, hash = excluded.hash, updated_at = excluded.updated_at`,
                [r.file, r.hash, label, now],
              );
        changed += res.rowCount ?? 0;
      }
      return changed;
    }, 'writing the collection');
  }

  async labels(): Promise<Map<number, string>> {
    const rows = await this.query<{ id: number; label: string }>(
      'SELECT i.id, l.label FROM labels l JOIN images i ON i.file = l.file ORDER BY i.id',
      [],
    );
    return new Map(rows.map((r) => [r.id, r.label]));
  }

  async labelCounts(): Promise<{ label: string; count: number }[]> {
    return this.query(
      `SELECT l.label, count(*)::int AS count FROM labels l JOIN images i ON i.file = l.file GROUP BY l.label
       ORDER BY count DESC, l.label COLLATE "C"`,
      [],
    );
  }

  async projection(key: string): Promise<StoredMap | null> {
    const r = (
      await this.query<{ method: string; params: string; created_at: number; ids: Buffer; coords: Buffer; info: string | null }>(
        'SELECT method, params, created_at, ids, coords, info FROM projections WHERE key = $1',
        [key],
      )
    )[0];
    if (!r) return null;
    const ids = new Int32Array(r.ids.length / 4);
    Buffer.from(ids.buffer).set(r.ids);
    return {
      method: r.method,
      params: JSON.parse(r.params),
      createdAt: r.created_at,
      ids,
      coords: toFloat32(r.coords),
      info: r.info ? JSON.parse(r.info) : {},
    };
  }

  async saveProjection(key: string, p: Omit<StoredMap, 'createdAt' | 'info'> & { info?: Record<string, unknown> }): Promise<void> {
    await this.transaction(
      (c) =>
        c.query(
          `INSERT INTO projections (key, method, params, created_at, ids, coords, info) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (key) DO UPDATE SET method = excluded.method, params = excluded.params, created_at = excluded.created_at,
             ids = excluded.ids, coords = excluded.coords, info = excluded.info`,
          [key, p.method, JSON.stringify(p.params), Date.now(), toBytes(p.ids), toBytes(p.coords), JSON.stringify(p.info ?? {})],
        ),
      'writing the collection',
    );
  }

  async projections(): Promise<MapSummary[]> {
    const rows = await this.query<{ key: string; method: string; params: string; created_at: number; count: number }>(
      'SELECT key, method, params, created_at, (length(ids) / 4)::int AS count FROM projections ORDER BY created_at DESC',
      [],
    );
    return rows.map((r) => ({ key: r.key, method: r.method, params: JSON.parse(r.params), createdAt: r.created_at, count: r.count }));
  }

  async integrityCheck(): Promise<string> {
    const dim = await this.dim();
    const r = await this.query<{ bad: number; orphans: number }>(
      `SELECT (SELECT count(*)::int FROM images WHERE embedding IS NOT NULL AND length(embedding) <> $1) AS bad,
              (SELECT count(*)::int FROM images i WHERE NOT EXISTS (SELECT 1 FROM roots r WHERE r.id = i.root_id)) AS orphans`,
      [dim * 4],
    );
    const problems = [
      r[0]!.bad ? `${r[0]!.bad} embeddings of the wrong size` : '',
      r[0]!.orphans ? `${r[0]!.orphans} rows without their root` : '',
    ].filter(Boolean);
    return problems.length === 0 ? 'ok' : problems.join('; ');
  }
}
