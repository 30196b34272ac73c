/**
 * What the routes share: the collection (the library does every search, map and training), its
 * live catalogue, the jobs, cached atlases, the last trained predictions, and the HTTP-side steps
 * several routes take (reading an upload, storing one, what a client may see of a path).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { FastifyRequest } from 'fastify';
import sharp, { type Metadata } from 'sharp';
import {
  autoTileSize,
  buildAtlas,
  CELL_MAX_IMAGES,
  MapCells,
  sizedThumbnail,
  thumbnailLevel,
  ThumbnailCache,
  type Atlas,
} from '../atlas/index.js';
import { indexOnThread, type Collection, type IndexTaskInput, type LensChoice, type RuntimeOptions } from '../collection/index.js';
import { DEFAULT_MAX_PIXELS, imageMimeType, looksTruncated } from '../image/decode.js';
import { imagenetClasses } from '../imagenet/classes.js';
import { LiveCatalogue, type Snapshot } from './catalogue.js';
import { HttpError } from './http.js';
import { openCollectionFile, realRoots } from './paths.js';
import { PredictionLookup } from './predictions.js';
import { JobManager, type JobContext } from './jobs.js';
import type { JobInfo, NeighbourImage, Predictions, UploadInfo } from './schemas.js';
import type { ImageRow, StoredMap } from '../store/index.js';

export interface ContextOptions {
  allowedRoots: string[];
  maxUploadBytes: number;
  uploadsDir: string | null;
  /** stored uploads at most (count and bytes) */
  maxStoredUploads: number;
  maxStoredUploadBytes: number;
  thumbnailSize: number;
  runtime: RuntimeOptions;
  /** the lens of a new collection */
  lens: LensChoice;
}

/** Originals larger than this are not read for a sharper thumbnail (the stored one answers). */
const MAX_ORIGINAL_BYTES = 256 * 2 ** 20;

/** Formats a browser shows in an <img>. */
const DISPLAYABLE = new Set(['jpeg', 'png', 'webp', 'gif', 'avif']);

export class ServerContext {
  readonly jobs = new JobManager();
  /** whether API requests need the server's token */
  authRequired = false;
  private lookup = new PredictionLookup(null);
  private readonly atlases = new Map<string, Atlas>();
  /** the job that built each atlas (a map job or an atlas job) */
  private readonly atlasJobs = new Map<string, string>();
  /** sharper thumbnails made from the originals (levels of detail of the map) */
  readonly thumbnails = new ThumbnailCache();
  /** maps read from the store (a million points is 12 MB to read), by key and save time: the last two */
  private readonly maps = new Map<string, Promise<StoredMap | null>>();
  /** each point's top-1 class and the class names, of the last maps sent, by snapshot version and map */
  private readonly mapClasses = new Map<string, { top1: Int16Array; classes: Record<string, string> }>();
  /** the newest map of exactly a snapshot's images, by snapshot version and the maps saved */
  private currentMap: { version: string; key: string | null } | null = null;
  /** the cells of the last maps asked for by cell (see cellAtlas) */
  private readonly cellIndexes = new Map<string, { cells: MapCells; ids: Int32Array }>();
  /** atlases of map cells, encoded for the wire (a million-image map is fetched cell by cell) */
  readonly cellAtlases = new ThumbnailCache({ maxBytes: 128 * 2 ** 20, concurrency: 2 });

  private constructor(
    readonly collection: Collection,
    readonly live: LiveCatalogue,
    readonly options: ContextOptions,
  ) {}

  static async create(collection: Collection, options: ContextOptions): Promise<ServerContext> {
    return new ServerContext(collection, await LiveCatalogue.open(collection), options);
  }

  get store(): Collection['store'] {
    return this.collection.store;
  }

  /** The last trained head's predictions over the collection. */
  get predictions(): Predictions | null {
    return this.lookup.predictions;
  }

  set predictions(p: Predictions | null) {
    this.lookup = new PredictionLookup(p);
  }

  predictionOf(id: number): { label: string; probability: number } | null {
    return this.lookup.of(id);
  }

  get maxPixels(): number {
    return this.options.runtime.maxPixels ?? DEFAULT_MAX_PIXELS;
  }

  isDisplayable(format: string | null): boolean {
    return format !== null && DISPLAYABLE.has(format);
  }

  neighbours(snap: Snapshot, found: { id: number; score: number }[]): NeighbourImage[] {
    return found.map((n) => {
      const e = snap.rows.get(n.id);
      return { id: n.id, score: n.score, path: e?.path ?? '', top1: e && e.top1 >= 0 ? imagenetClasses()[e.top1]!.label : null };
    });
  }

  /** What a client sees of an allowed root: its index and its folder's name. */
  allowedRootNames(): { index: number; name: string }[] {
    return this.options.allowedRoots.map((r, index) => ({ index, name: basename(r) || r }));
  }

  /** A server path as a client may see it: relative to an allowed root (with its name), or just its name. */
  clientPath(path: string): string {
    for (const r of this.options.allowedRoots) {
      const rel = relative(r, path);
      if (!rel.startsWith('..') && !rel.startsWith('/')) return rel === '' ? basename(r) : `${basename(r)}/${rel}`;
    }
    return basename(path);
  }

  /**
   * The uploaded image of a multipart request (field name free, one file), checked by content:
   * sharp must recognise a raster format, within the pixel limit, before the network sees it.
   */
  async readUpload(req: FastifyRequest): Promise<{ bytes: Buffer; info: UploadInfo }> {
    if (!req.isMultipart()) throw new HttpError(415, 'E_USAGE', 'send the image as multipart/form-data');
    let bytes: Buffer;
    try {
      const part = await req.file({
        limits: { fileSize: this.options.maxUploadBytes, files: 1, fields: 10, parts: 20, fieldSize: 10_000 },
      });
      if (!part) throw new HttpError(400, 'E_USAGE', 'no file in the upload');
      bytes = await part.toBuffer();
    } catch (e) {
      // limits come as coded fastify errors (413); the parser's own errors mean a malformed body
      if (e instanceof HttpError || typeof (e as { code?: unknown }).code === 'string') throw e;
      throw new HttpError(400, 'E_USAGE', `malformed multipart upload (${String((e as Error).message).slice(0, 100)})`);
    }
    if (bytes.length === 0) throw new HttpError(400, 'E_EMPTY', 'the uploaded file is empty');
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: this.maxPixels }).metadata();
    } catch (e) {
      if (/pixel limit/i.test((e as Error).message))
        throw new HttpError(413, 'E_TOO_LARGE', `the upload has more pixels than the ${this.maxPixels}-pixel limit`);
      // a known signature with more than a bare header, whose data stops short, is a cut-off upload
      const mime = imageMimeType(bytes);
      if (mime && bytes.length >= 64 && looksTruncated(bytes, mime.slice('image/'.length))) {
        throw new HttpError(422, 'E_TRUNCATED', 'the upload ends early (cut off)');
      }
      throw new HttpError(415, 'E_NOT_IMAGE', 'the upload is not an image in a format convlens reads');
    }
    if (!meta.format || meta.format === 'svg' || !meta.width || !meta.height) {
      throw new HttpError(415, 'E_NOT_IMAGE', `the upload is not a raster image${meta.format ? ` (${meta.format})` : ''}`);
    }
    if (meta.width * meta.height > this.maxPixels) {
      throw new HttpError(413, 'E_TOO_LARGE', `${meta.width}×${meta.height} exceeds the ${this.maxPixels}-pixel limit`);
    }
    if (looksTruncated(bytes, meta.format))
      throw new HttpError(422, 'E_TRUNCATED', `the upload's ${meta.format} data ends early (cut off)`);
    return { bytes, info: { bytes: bytes.length, width: meta.width, height: meta.height, format: meta.format } };
  }

  /** Probabilities and embedding of an uploaded image, with the collection's settings. */
  async embedUpload(bytes: Buffer): Promise<{ probabilities: Float32Array; embedding: Float32Array }> {
    const q = await this.collection.query({ bytes });
    return { probabilities: q.probabilities!, embedding: q.vector };
  }

  /**
   * Save an upload under the uploads folder (named by content, never by the client) and queue the
   * job that indexes it. Refused when the folder holds the most uploads or bytes allowed.
   */
  async storeUpload(bytes: Buffer, format: string): Promise<{ name: string; job: JobInfo }> {
    const dir = this.options.uploadsDir;
    if (!dir) throw new HttpError(403, 'E_PERMISSION', 'this server does not store uploads');
    await mkdir(dir, { recursive: true });
    const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 24)}.${format === 'jpeg' ? 'jpg' : format}`;
    const path = join(dir, name);
    const existing = await stat(path).catch(() => null);
    if (!existing) {
      const { count, bytes: used } = await this.storedUploads();
      if (count + 1 > this.options.maxStoredUploads || used + bytes.length > this.options.maxStoredUploadBytes) {
        throw new HttpError(
          507,
          'E_DISK_FULL',
          `the uploads folder is full (${count} uploads, ${(used / 2 ** 20).toFixed(1)} MB; limits ${this.options.maxStoredUploads} and ` +
            `${(this.options.maxStoredUploadBytes / 2 ** 20).toFixed(0)} MB)`,
        );
      }
      await writeFile(path, bytes, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
    return { name, job: this.submitIndex(dir, false, await realRoots([dir])) };
  }

  /** How many uploads the folder holds, and their bytes. */
  async storedUploads(): Promise<{ count: number; bytes: number }> {
    const dir = this.options.uploadsDir;
    if (!dir) return { count: 0, bytes: 0 };
    let count = 0;
    let bytes = 0;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const s = await stat(join(dir, name)).catch(() => null);
      if (s?.isFile()) {
        count++;
        bytes += s.size;
      }
    }
    return { count, bytes };
  }

  /**
   * Queue a job indexing a folder (already checked by the caller) into the collection. Every file
   * it reads must resolve inside `confine` (the allowed roots): a symlink inside the folder that
   * leads out is refused, not followed.
   */
  submitIndex(folder: string, prune: boolean, confine: string[]): JobInfo {
    return this.jobs.submit(
      'index',
      { folder: this.clientPath(folder), prune },
      (ctx) => this.runIndex(folder, prune, confine, ctx),
      `index:${folder}`,
    );
  }

  /** Index on a worker thread (inference there stalls no request); the catalogue reloads once, at the end. */
  private async runIndex(folder: string, prune: boolean, confine: string[], ctx: JobContext): Promise<unknown> {
    const release = this.live.hold();
    try {
      const input: IndexTaskInput = {
        location: this.collection.store.connection,
        folders: [folder],
        prune,
        thumbnailSize: this.options.thumbnailSize,
        runtime: this.options.runtime,
        lens: this.options.lens,
        confine,
      };
      const summary = await indexOnThread(input, {
        signal: ctx.signal,
        graceMs: 30_000,
        onProgress: (p) =>
          ctx.progress(
            'loading' in p
              ? { stage: 'loading the network', done: 0, total: 0 }
              : {
                  stage: 'indexing',
                  done: p.done,
                  total: p.total,
                  imagesPerSecond: p.imagesPerSecond,
                  etaSeconds: p.etaSeconds,
                  failed: p.failed,
                },
          ),
      });
      if (summary.error && summary.indexed === 0) throw new HttpError(409, summary.error.code, summary.error.message);
      const failed = summary.failed.map((f) => ({ ...f, path: this.clientPath(f.path) }));
      return { ...summary, failed: failed.slice(0, 100), failedCount: failed.length };
    } finally {
      release();
      await this.live.reload();
    }
  }

  /**
   * A thumbnail of about `size` px made from an image's original file, under the file route's
   * rules (the path from the database, still inside its root, a regular file); when the file is
   * gone, refused or unreadable, the thumbnail stored at index time (null: none either).
   */
  async sizedThumbnail(row: ImageRow, size: number): Promise<{ data: Buffer; mime: string; source: 'original' | 'stored' } | null> {
    const level = thumbnailLevel(size);
    try {
      const data = await this.thumbnails.get(`${row.id}|${row.hash ?? row.mtimeMs}|${level}`, async () => {
        const { handle, size: bytes } = await openCollectionFile(row.file, row.root);
        let original: Buffer;
        try {
          if (bytes > MAX_ORIGINAL_BYTES) throw new HttpError(413, 'E_TOO_LARGE', 'the original is too large to resize here');
          original = await handle.readFile();
        } finally {
          await handle.close();
        }
        return sizedThumbnail(original, level, { maxPixels: this.maxPixels });
      });
      return { data, mime: 'image/webp', source: 'original' };
    } catch {
      const stored = await this.store.thumbnail(row.id);
      return stored ? { data: stored, mime: imageMimeType(stored) ?? 'application/octet-stream', source: 'stored' } : null;
    }
  }

  /** Key of the newest cached map of exactly the current embedded images, if any. */
  async currentMapKey(snap: Snapshot): Promise<string | null> {
    const saved = await this.store.projections();
    const version = `${snap.version}|${saved.map((p) => `${p.key}@${p.createdAt}`).join(',')}`;
    if (this.currentMap?.version === version) return this.currentMap.key;
    let key: string | null = null;
    for (const p of saved) {
      if (p.count !== snap.embeddedIds.length) continue;
      const ids = (await this.readMap(p.key, p.createdAt))?.ids;
      if (ids && ids.every((id, i) => id === snap.embeddedIds[i])) {
        key = p.key;
        break;
      }
    }
    this.currentMap = { version, key };
    return key;
  }

  /** A map as stored (read once while it is among the last two asked for; a recomputed one is read again). */
  async storedMap(key: string): Promise<StoredMap | null> {
    const saved = (await this.store.projections()).find((p) => p.key === key);
    return saved ? this.readMap(key, saved.createdAt) : null;
  }

  private readMap(key: string, createdAt: number): Promise<StoredMap | null> {
    const id = `${key}@${createdAt}`;
    let p = this.maps.get(id);
    if (!p) {
      p = this.store.projection(key);
      this.maps.set(id, p);
      while (this.maps.size > 2) this.maps.delete(this.maps.keys().next().value!);
      void p.then(
        (m) => m === null && this.maps.delete(id),
        () => this.maps.delete(id),
      );
    }
    return p;
  }

  /** Each point's top-1 class (-1: none) and the names of those classes, as of a snapshot. */
  mapClassesOf(snap: Snapshot, key: string, m: StoredMap): { top1: Int16Array; classes: Record<string, string> } {
    const id = `${snap.version}|${key}@${m.createdAt}`;
    let hit = this.mapClasses.get(id);
    if (!hit) {
      const classes: Record<string, string> = {};
      const top1 = new Int16Array(m.ids.length);
      for (let i = 0; i < m.ids.length; i++) {
        const t = snap.rows.get(m.ids[i]!)?.top1 ?? -1;
        top1[i] = t;
        if (t >= 0 && classes[t] === undefined) classes[t] = imagenetClasses()[t]!.label;
      }
      hit = { top1, classes };
      this.mapClasses.set(id, hit);
      while (this.mapClasses.size > 2) this.mapClasses.delete(this.mapClasses.keys().next().value!);
    }
    return hit;
  }

  /** The atlas for the current collection and tile size, if built. */
  atlas(snap: Snapshot, tile?: number): Atlas | null {
    return this.atlases.get(`${snap.version}|${tile ?? autoTileSize(snap.embeddedIds.length)}`) ?? null;
  }

  /** The job that built that atlas, while the job list keeps it. */
  atlasJob(snap: Snapshot, tile?: number): JobInfo | null {
    const id = this.atlasJobs.get(`${snap.version}|${tile ?? autoTileSize(snap.embeddedIds.length)}`);
    return id !== undefined ? this.jobs.get(id) : null;
  }

  /** Build (or reuse) the atlas of every embedded image of a snapshot. */
  async ensureAtlas(snap: Snapshot, tile: number | undefined, ctx: JobContext): Promise<Atlas> {
    const t = tile ?? autoTileSize(snap.embeddedIds.length);
    const key = `${snap.version}|${t}`;
    const hit = this.atlases.get(key);
    if (hit) return hit;
    const atlas = await buildAtlas(snap.embeddedIds, (id) => this.store.thumbnail(id), {
      tile: t,
      signal: ctx.signal,
      onProgress: (done, total) => ctx.progress({ stage: 'atlas', done, total }),
    });
    // keep the two newest (another tile size, or the previous version while clients move over)
    this.atlases.set(key, atlas);
    this.atlasJobs.set(key, ctx.id);
    while (this.atlases.size > 2) {
      const oldest = this.atlases.keys().next().value!;
      this.atlases.delete(oldest);
      this.atlasJobs.delete(oldest);
    }
    return atlas;
  }

  /**
   * The atlas of one cell of a map (see atlas/cells.ts), for the wire: a little-endian header
   * (count, total, tile, columns as uint32), the image ids (int32) and mean colours (uint32) of
   * its tiles, then the WebP page; and the map's version (when it was saved). Null when there is
   * no such map.
   */
  async cellAtlas(key: string, level: number, x: number, y: number): Promise<{ data: Buffer; version: number } | null> {
    const m = await this.storedMap(key);
    if (!m) return null;
    const id = `${key}@${m.createdAt}`;
    let found = this.cellIndexes.get(id);
    if (!found) {
      found = { cells: new MapCells(m.coords), ids: m.ids };
      this.cellIndexes.set(id, found);
      // the last two maps (a new layout, a placed one): 1M points cost 8 MB each
      while (this.cellIndexes.size > 2) this.cellIndexes.delete(this.cellIndexes.keys().next().value!);
    }
    const cells = found;
    const data = await this.cellAtlases.get(`${id}|${level}/${x}/${y}`, async () => {
      const { indices, total } = cells.cells.cell(level, x, y, CELL_MAX_IMAGES);
      const ids = Int32Array.from(indices, (i) => cells.ids[i]!);
      const tile = 32;
      const atlas = await buildAtlas(ids, (id) => this.store.thumbnail(id), { tile, maxSize: 1024 });
      const head = Buffer.alloc(16);
      head.writeUInt32LE(ids.length, 0);
      head.writeUInt32LE(total, 4);
      head.writeUInt32LE(tile, 8);
      head.writeUInt32LE(atlas.columns, 12);
      const page = atlas.pages[0]?.data ?? Buffer.alloc(0);
      return Buffer.concat([head, Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength), Buffer.from(atlas.colors.buffer), page]);
    });
    return { data, version: m.createdAt };
  }

  async close(): Promise<void> {
    await this.jobs.close();
    await this.collection.close();
  }
}
