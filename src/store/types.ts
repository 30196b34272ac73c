/**
 * The collection store: what a collection remembers, behind one interface with two
 * implementations (SQLite, embedded, the default; PostgreSQL, shared by many machines).
 *
 * What every implementation promises:
 * - one row per file, keyed by the file's real path, whatever folder it was reached through;
 * - a batch of results is written in one transaction, as an idempotent upsert: a batch written
 *   twice (a retry, a late worker) leaves the same rows, never two;
 * - embeddings and probabilities are finite: a non-finite vector is refused, never stored;
 * - embeddings made with other settings are refused (`E_SETTINGS_MISMATCH`), never mixed;
 * - labels belong to a file and its content: they outlive the row being pruned or re-embedded, and
 *   come back when the same content is indexed again under another name;
 * - one writer indexes at a time (`acquireWriter`); readers never wait for it.
 */
import type { Matrix } from '../core/matrix.js';
import type { ResizeMode } from '../image/decode.js';

export const SCHEMA_VERSION = 3;

/** What makes embeddings comparable; recorded once per collection. */
export interface EmbeddingSettings {
  model: string;
  layer: string;
  resize: ResizeMode;
  dim: number;
  /** "int8" for the quantized network; absent for float32 (what every collection before it holds) */
  precision?: 'int8';
  /** int8: the calibration id its ranges come from */
  calibration?: string;
  /** augmentation view (e.g. "flip"), absent for the images themselves */
  variant?: string;
}

export interface StoredPrediction {
  index: number;
  probability: number;
}

export interface ImageRow {
  id: number;
  /** the file's real path on disk: what is opened */
  file: string;
  /** the folder it was indexed through (real path) */
  root: string;
  /** path relative to `root`, with / separators: what people see */
  path: string;
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

/** The path of a row as it was indexed: its root folder joined with its relative path. */
export function displayPath(row: Pick<ImageRow, 'root' | 'path'>): string {
  return row.root === '/' ? `/${row.path}` : `${row.root}/${row.path}`;
}

/** One image's result, as the indexer writes it. */
export interface ImageRecord {
  /** real path: the row's key */
  file: string;
  rootId: number;
  /** relative to the root, / separated */
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
  /**
   * when the file's bytes were read (ms since the epoch; default: when written). A store that
   * many processes write (PostgreSQL) keeps the result read last: a late write of an older read
   * never replaces it
   */
  readAt?: number;
}

/** What changed since a watermark (see CollectionStore.changesSince). */
export interface CollectionChanges {
  /** pass it to the next call */
  watermark: string;
  /** rows whose embedding was added or replaced, and their vectors (row i of matrix) */
  ids: Int32Array;
  matrix: Matrix;
  /** rows deleted, or whose embedding is gone */
  removed: Int32Array;
}

/** The results of an embedded row, to copy into a file with the same content. */
export type ReusableResult = Required<Pick<ImageRecord, 'width' | 'height' | 'format' | 'top5' | 'embedding' | 'zeroFraction'>> &
  Pick<ImageRecord, 'thumbnail'>;

/** Per-file facts for incremental indexing. */
export interface FileState {
  id: number;
  path: string;
  rootId: number;
  size: number;
  mtimeMs: number;
  hash: string | null;
  /** has a stored embedding */
  ok: boolean;
  errorCode: string | null;
  errorMessage: string | null;
}

export interface Counts {
  images: number;
  embedded: number;
  failed: number;
}

export interface StoredMap {
  method: string;
  params: Record<string, unknown>;
  createdAt: number;
  ids: Int32Array;
  coords: Float32Array;
  info: Record<string, unknown>;
}

export interface MapSummary {
  key: string;
  method: string;
  params: Record<string, unknown>;
  createdAt: number;
  count: number;
}

/** Who holds the writer lock (shown to a second writer). */
export interface WriterInfo {
  pid: number;
  /** when that process started (to tell a reused pid), where the system says */
  started?: string | null;
  host: string;
  command: string;
  since: number;
}

export interface OpenOptions {
  /** create the collection when missing (default false: a missing one is an error) */
  create?: boolean;
  /** open for reading only (read-only commands; works on read-only files and mounts) */
  readonly?: boolean;
}

export interface CollectionStore {
  readonly kind: 'sqlite' | 'postgres';
  /** where it is, for messages: a file path, or a URL without its password */
  readonly location: string;
  /** what opens it again (openStore), e.g. on a worker thread: the path, or the full URL */
  readonly connection: string;
  readonly readonly: boolean;
  close(): Promise<void>;

  // ---- settings and metadata ----
  /** The settings the embeddings were made with (null before the first index). */
  settings(): Promise<EmbeddingSettings | null>;
  /** Record the settings on first use, else refuse different ones (one transaction). */
  lockSettings(s: EmbeddingSettings): Promise<void>;
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string | null): Promise<void>;
  /**
   * The writer lock: one index run at a time. Resolves to the release function, or throws
   * `E_DB_BUSY` naming the holder. A holder that died (its process is gone) loses the lock.
   */
  acquireWriter(me: Omit<WriterInfo, 'since'>, options?: { waitMs?: number }): Promise<() => Promise<void>>;

  // ---- rows ----
  /** Id of a root folder (real path), added when new. */
  rootId(root: string): Promise<number>;
  roots(): Promise<{ id: number; path: string }[]>;
  /** Rows indexed through this root or whose file lies under `under` (a real folder path), by file. */
  fileStates(rootId: number, under: string): Promise<Map<string, FileState>>;
  /** The results of an embedded row with this content hash (to copy instead of re-embedding). */
  reusable(hash: string): Promise<ReusableResult | null>;
  /** Upsert a batch by file, in one transaction. Refuses non-finite embeddings. */
  writeBatch(records: ImageRecord[]): Promise<void>;
  /** New size/mtime for rows whose content hash proved unchanged. */
  touch(rows: { id: number; size: number; mtimeMs: number }[]): Promise<void>;
  /** Delete rows (their labels stay, waiting for the same file or content to return). */
  deleteImages(ids: number[]): Promise<number>;
  count(): Promise<Counts>;
  image(id: number): Promise<ImageRow | null>;
  imageByFile(file: string): Promise<ImageRow | null>;
  /** Rows in id order, with paging. */
  images(options?: { offset?: number; limit?: number; embeddedOnly?: boolean; failedOnly?: boolean }): Promise<ImageRow[]>;
  embedding(id: number): Promise<Float32Array | null>;
  /** Every embedding in id order, as one matrix (ids[i] is row i). */
  embeddings(): Promise<{ ids: Int32Array; matrix: Matrix }>;
  /** Embeddings in id order a page at a time: the first `limit` rows with an id above `afterId`. */
  embeddingPage(afterId: number, limit: number): Promise<{ ids: Int32Array; matrix: Matrix }>;
  /** The embeddings of these images, in the order given (ids without one are left out). */
  embeddingsOf(ids: ArrayLike<number>): Promise<{ ids: Int32Array; matrix: Matrix }>;
  /** Ids of the embedded images, ascending (4 bytes each: a million is 4 MB). */
  embeddedIds(): Promise<Int32Array>;
  /**
   * Embeddings added, replaced or removed since a watermark (null: everything), to keep a
   * search index up to date without reading the whole collection again. Stores that many
   * processes write implement it (PostgreSQL); a row may come again in a later call.
   */
  changesSince?(watermark: string | null): Promise<CollectionChanges>;
  /** Changes whenever embedded rows are added, replaced or removed. */
  embeddingsVersion(): Promise<string>;
  /** Changes whenever anything is committed (cheap; to know when to look again). */
  changeToken(): Promise<string>;
  thumbnail(id: number): Promise<Buffer | null>;
  top1Counts(): Promise<{ index: number; count: number }[]>;
  /** Ids of rows whose files have identical bytes (same content hash), in groups of two or more. */
  sameContent(): Promise<number[][]>;
  zeroFractions(): Promise<Float64Array>;

  // ---- labels ----
  /** Attach a label to images (replacing theirs); null removes it. Returns rows changed. */
  setLabels(ids: number[], label: string | null): Promise<number>;
  /** image id -> label, for every labelled image of the collection. */
  labels(): Promise<Map<number, string>>;
  labelCounts(): Promise<{ label: string; count: number }[]>;

  // ---- maps ----
  projection(key: string): Promise<StoredMap | null>;
  saveProjection(key: string, p: Omit<StoredMap, 'createdAt' | 'info'> & { info?: Record<string, unknown> }): Promise<void>;
  projections(): Promise<MapSummary[]>;

  /** 'ok', or what is wrong. */
  integrityCheck(): Promise<string>;
}
