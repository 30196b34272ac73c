/**
 * What the routes share: the store and its live in-memory view, the jobs, the network (loaded on
 * first use, with the collection's settings), cached atlases, the last trained predictions, and the
 * steps that several routes take (reading an upload, running a job that indexes a folder).
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyRequest } from 'fastify';
import sharp, { type Metadata } from 'sharp';
import type { IndexProgress, IndexSummary } from '../collection/indexer.js';
import { Store } from '../collection/store.js';
import { ConvlensError } from '../core/errors.js';
import { DEFAULT_MAX_PIXELS, type ResizeMode } from '../image/decode.js';
import { imagenetClasses } from '../imagenet/classes.js';
import { ConvLens, type LensOptions } from '../pipeline/lens.js';
import type { JobInfo, Neighbour, Predictions, UploadInfo } from './api-types.js';
import { autoTileSize, buildAtlas, type Atlas } from './atlas.js';
import { LiveCollection, type Snapshot } from './collection.js';
import { HttpError } from './http.js';
import type { IndexRequest } from './index-worker.js';
import { JobManager, type JobContext } from './jobs.js';
import { runWorker } from './worker.js';

export type ServerLensOptions = Omit<LensOptions, 'resize' | 'layer' | 'model'> & {
  /** resize mode of a new (empty) collection; an existing one keeps its own (default crop) */
  resize?: ResizeMode;
};

export interface ContextOptions {
  db: string;
  allowedRoots: string[];
  maxUploadBytes: number;
  uploadsDir: string | null;
  thumbnailSize: number;
  lens: ServerLensOptions;
}

/** Formats a browser shows in an <img>. */
const DISPLAYABLE = new Set(['jpeg', 'png', 'webp', 'gif', 'avif']);

export class ServerContext {
  readonly store: Store;
  readonly live: LiveCollection;
  readonly jobs = new JobManager();
  private lastPredictions: Predictions | null = null;
  private predictionRows = new Map<number, number>();
  private lensPromise: Promise<ConvLens> | null = null;
  private readonly atlases = new Map<string, Atlas>();

  constructor(readonly options: ContextOptions) {
    this.store = Store.open(options.db, { create: true });
    this.live = new LiveCollection(this.store);
  }

  /** The last trained head's predictions over the collection. */
  get predictions(): Predictions | null {
    return this.lastPredictions;
  }

  set predictions(p: Predictions | null) {
    this.lastPredictions = p;
    this.predictionRows = new Map(p ? p.ids.map((id, i) => [id, i]) : []);
  }

  predictionOf(id: number): { label: string; probability: number } | null {
    const p = this.lastPredictions;
    const row = this.predictionRows.get(id);
    return p && row !== undefined ? { label: p.classes[p.predicted[row]!]!, probability: p.probability[row]! } : null;
  }

  get maxPixels(): number {
    return this.options.lens.maxPixels ?? DEFAULT_MAX_PIXELS;
  }

  /** Network options with the collection's settings (the defaults for a new collection). */
  private lensOptions(): LensOptions {
    const s = this.store.settings;
    const { resize, ...rest } = this.options.lens;
    return { ...rest, ...(s ? { model: s.model, layer: s.layer } : {}), resize: (s?.resize as ResizeMode | undefined) ?? resize ?? 'crop' };
  }

  /** The network for uploads, loaded once. */
  lens(): Promise<ConvLens> {
    if (!this.lensPromise) {
      this.lensPromise = ConvLens.load(this.lensOptions());
      this.lensPromise.catch(() => (this.lensPromise = null));
    }
    return this.lensPromise;
  }

  isDisplayable(format: string | null): boolean {
    return format !== null && DISPLAYABLE.has(format);
  }

  neighbours(snap: Snapshot, found: { id: number; score: number }[]): Neighbour[] {
    return found.map((n) => {
      const e = snap.rows.get(n.id);
      return { id: n.id, score: n.score, path: e?.path ?? '', top1: e && e.top1 >= 0 ? imagenetClasses()[e.top1]!.label : null };
    });
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
      throw new HttpError(415, 'E_NOT_IMAGE', 'the upload is not an image in a format convlens reads');
    }
    if (!meta.format || meta.format === 'svg' || !meta.width || !meta.height) {
      throw new HttpError(415, 'E_NOT_IMAGE', `the upload is not a raster image${meta.format ? ` (${meta.format})` : ''}`);
    }
    if (meta.width * meta.height > this.maxPixels) {
      throw new HttpError(413, 'E_TOO_LARGE', `${meta.width}×${meta.height} exceeds the ${this.maxPixels}-pixel limit`);
    }
    return { bytes, info: { bytes: bytes.length, width: meta.width, height: meta.height, format: meta.format } };
  }

  /** Probabilities and embedding of an uploaded image, with the collection's settings. */
  async embedUpload(bytes: Buffer): Promise<{ probabilities: Float32Array; embedding: Float32Array }> {
    const lens = await this.lens();
    for await (const { outcome } of lens.process([bytes])) {
      if (!outcome.ok) throw outcome.error;
      return outcome;
    }
    throw new ConvlensError('E_INTERNAL', 'no result for the upload');
  }

  /** Save an upload under the uploads folder (named by content) and queue the job that indexes it. */
  async storeUpload(bytes: Buffer, format: string): Promise<{ path: string; job: JobInfo }> {
    const dir = this.options.uploadsDir;
    if (!dir) throw new HttpError(403, 'E_PERMISSION', 'this server does not store uploads');
    await mkdir(dir, { recursive: true });
    const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 24)}.${format === 'jpeg' ? 'jpg' : format}`;
    const path = join(dir, name);
    await writeFile(path, bytes, { flag: 'w' });
    return { path, job: this.submitIndex(dir) };
  }

  /** Queue a job indexing a folder (already checked by the caller) into the collection. */
  submitIndex(folder: string, prune = false): JobInfo {
    return this.jobs.submit('index', { folder, prune }, (ctx) => this.runIndex(folder, prune, ctx), `index:${folder}`);
  }

  /** Index on a worker thread (inference there stalls no request); the live view reloads once, at the end. */
  private async runIndex(folder: string, prune: boolean, ctx: JobContext): Promise<unknown> {
    const release = this.live.hold();
    try {
      const req: IndexRequest = { db: this.options.db, folder, prune, thumbnailSize: this.options.thumbnailSize, lens: this.lensOptions() };
      const summary = await runWorker<IndexProgress | { loading: true }, IndexSummary>(
        'index-worker',
        req,
        (p) =>
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
        ctx.signal,
      );
      return { ...summary, failed: summary.failed.slice(0, 100), failedCount: summary.failed.length };
    } finally {
      release();
      this.live.reload();
    }
  }

  /** Key of the newest cached map of exactly the current embedded images, if any. */
  currentMapKey(snap: Snapshot): string | null {
    for (const p of this.store.projections()) {
      if (p.count !== snap.search.size) continue;
      const ids = this.store.projection(p.key)?.ids;
      if (ids && ids.every((id, i) => id === snap.search.ids[i])) return p.key;
    }
    return null;
  }

  /** The atlas for the current collection and tile size, if built. */
  atlas(snap: Snapshot, tile?: number): Atlas | null {
    return this.atlases.get(`${snap.version}|${tile ?? autoTileSize(snap.search.size)}`) ?? null;
  }

  /** Build (or reuse) the atlas of every embedded image of a snapshot. */
  async ensureAtlas(snap: Snapshot, tile: number | undefined, ctx: JobContext): Promise<Atlas> {
    const t = tile ?? autoTileSize(snap.search.size);
    const key = `${snap.version}|${t}`;
    const hit = this.atlases.get(key);
    if (hit) return hit;
    const atlas = await buildAtlas(this.store, snap.search.ids, {
      tile: t,
      signal: ctx.signal,
      onProgress: (done, total) => ctx.progress({ stage: 'atlas', done, total }),
    });
    // keep the two newest (another tile size, or the previous version while clients move over)
    this.atlases.set(key, atlas);
    while (this.atlases.size > 2) this.atlases.delete(this.atlases.keys().next().value!);
    return atlas;
  }

  async close(): Promise<void> {
    await this.jobs.close();
    if (this.lensPromise) await (await this.lensPromise.catch(() => null))?.dispose();
    this.store.close();
  }
}
