/**
 * Index folders into a store: walk, skip what is unchanged, embed the rest through the lens
 * pipeline, and commit results in batches.
 *
 * A file is unchanged when its size and mtime match the stored row; when they differ, the
 * content hash decides (a touched but identical file only gets its mtime updated). A new file
 * whose content is already in the collection reuses that row's results instead of running the
 * network again. Every batch is one transaction: a killed run loses at most the batch in flight,
 * and the next run picks up from there.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { parse, relative, resolve, sep } from 'node:path';
import { ConvlensError, toConvlensError } from '../core/errors.js';
import { readImageFile, statImageFile, type ImageVariant } from '../image/decode.js';
import { walkImages } from '../image/files.js';
import { topIndices } from '../imagenet/classes.js';
import type { ConvLens } from '../pipeline/lens.js';
import { zeroFraction } from '../pipeline/lens.js';
import type { EmbeddingSettings, FileState, ImageRecord, Store } from './store.js';

export interface IndexProgress {
  /** files looked at so far (unchanged ones included) */
  done: number;
  total: number;
  /** files run through the network so far */
  embedded: number;
  failed: number;
  /** network throughput over this run */
  imagesPerSecond: number;
  /** seconds left at the current rate (null until known) */
  etaSeconds: number | null;
}

export interface IndexOptions {
  /** delete rows of files that are gone */
  prune?: boolean;
  /** longer side of stored thumbnails in pixels (0: none; default 128) */
  thumbnailSize?: number;
  /** results per transaction (default: the lens batch size) */
  commitEvery?: number;
  onProgress?: (p: IndexProgress) => void;
  /** stop early (Ctrl-C): what is done is committed */
  signal?: AbortSignal;
  /** embed an augmentation view instead of the image itself (recorded in the settings) */
  variant?: ImageVariant;
}

export interface IndexFailure {
  path: string;
  code: string;
  message: string;
}

export interface IndexSummary {
  /** files embedded (or copied from identical content) in this run */
  indexed: number;
  unchanged: number;
  failed: IndexFailure[];
  pruned: number;
  /** stored files that are gone from disk and were kept (no --prune) */
  missing: number;
  /** of `indexed`, files whose identical content was already embedded */
  reused: number;
  seconds: number;
  /** true when stopped early by the signal */
  interrupted: boolean;
}

interface Job {
  rootId: number;
  rel: string;
  abs: string;
  size: number;
  mtimeMs: number;
  state: FileState | undefined;
}

interface ReadJob extends Job {
  bytes: Buffer;
  hash: string;
}

const toRel = (root: string, abs: string): string => relative(root, abs).split(sep).join('/');

function newSummary(): IndexSummary {
  return { indexed: 0, unchanged: 0, failed: [], pruned: 0, missing: 0, reused: 0, seconds: 0, interrupted: false };
}

function failer(summary: IndexSummary): (path: string, e: ConvlensError) => void {
  return (path, e) => {
    summary.failed.push({ path, code: e.code, message: e.message });
  };
}

/** Index every image under the folders (recursively); rows are keyed by folder + relative path. */
export async function indexFolders(store: Store, lens: ConvLens, folders: string[], options: IndexOptions = {}): Promise<IndexSummary> {
  const t0 = performance.now();
  store.ensureSettings(settingsOf(lens, options));
  const summary = newSummary();
  const fail = failer(summary);

  // what is on disk, per root
  const jobs: Job[] = [];
  const gone: number[] = [];
  for (const folder of folders) {
    const root = resolve(folder);
    let isDir = false;
    try {
      isDir = (await stat(root)).isDirectory();
    } catch {
      fail(folder, new ConvlensError('E_NOT_FOUND', 'no such folder'));
      continue;
    }
    if (!isDir) {
      fail(folder, new ConvlensError('E_USAGE', 'not a folder (index takes folders)'));
      continue;
    }
    const rootId = store.rootId(root);
    const states = store.fileStates(rootId);
    const seen = new Set<string>();
    for await (const abs of walkImages(root, (e) => fail(e.file ?? folder, e))) {
      const rel = toRel(root, abs);
      if (seen.has(rel)) continue;
      seen.add(rel);
      jobs.push({ rootId, rel, abs, size: 0, mtimeMs: 0, state: states.get(rel) });
    }
    for (const [rel, s] of states) if (!seen.has(rel)) gone.push(s.id);
  }
  if (options.prune && gone.length > 0) {
    store.deleteRows(gone);
    summary.pruned = gone.length;
  } else summary.missing = gone.length;

  await runJobs(store, lens, jobs, summary, options);
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/**
 * Index an explicit list of files (e.g. a labelled set), keyed by absolute path. Returns the
 * summary and each file's row id (absent for files that failed).
 */
export async function indexFiles(
  store: Store,
  lens: ConvLens,
  files: string[],
  options: IndexOptions = {},
): Promise<IndexSummary & { ids: Map<string, number> }> {
  const t0 = performance.now();
  store.ensureSettings(settingsOf(lens, options));
  const summary = newSummary();
  const root = parse(resolve('.')).root;
  const rootId = store.rootId(root);
  const states = store.fileStates(rootId);
  const seen = new Set<string>();
  const jobs: Job[] = [];
  for (const f of files) {
    const abs = resolve(f);
    const rel = toRel(root, abs);
    if (seen.has(rel)) continue;
    seen.add(rel);
    jobs.push({ rootId, rel, abs, size: 0, mtimeMs: 0, state: states.get(rel) });
  }
  await runJobs(store, lens, jobs, summary, options);
  const after = store.fileStates(rootId);
  const ids = new Map<string, number>();
  for (const f of files) {
    const st = after.get(toRel(root, resolve(f)));
    if (st?.ok) ids.set(f, st.id);
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return { ...summary, ids };
}

function settingsOf(lens: ConvLens, options: IndexOptions): EmbeddingSettings {
  return { ...lens.settings, ...(options.variant ? { variant: variantName(options.variant) } : {}) };
}

/** A stable name for an augmentation view ("flip", "tl", "flip+br"), recorded with its embeddings. */
export function variantName(v: ImageVariant): string {
  return [v.flip ? 'flip' : '', v.corner ?? ''].filter(Boolean).join('+');
}

async function runJobs(store: Store, lens: ConvLens, jobs: Job[], summary: IndexSummary, options: IndexOptions): Promise<void> {
  const thumbnailSize = options.thumbnailSize ?? 128;
  const commitEvery = options.commitEvery ?? lens.batchSize;
  const fail = failer(summary);

  // stream: unchanged files are counted, the rest read + hashed, then embedded
  const total = jobs.length;
  let done = 0;
  let embedded = 0;
  const tEmbed = performance.now();
  const progress = (): void => {
    if (!options.onProgress) return;
    const secs = (performance.now() - tEmbed) / 1000;
    const rate = secs > 0 ? embedded / secs : 0;
    const left = total - done;
    options.onProgress({
      done,
      total,
      embedded,
      failed: summary.failed.length,
      imagesPerSecond: rate,
      etaSeconds: rate > 0 && embedded >= 4 ? left / rate : left === 0 ? 0 : null,
    });
  };

  const pending: ImageRecord[] = [];
  const touched: { id: number; size: number; mtimeMs: number }[] = [];
  const flush = (): void => {
    if (pending.length > 0) store.writeBatch(pending.splice(0));
    if (touched.length > 0) store.touchRows(touched.splice(0));
  };
  const record = (r: ImageRecord): void => {
    pending.push(r);
    if (pending.length >= commitEvery) flush();
  };
  const recordFailure = (job: Job, e: ConvlensError, hash: string | null): void => {
    fail(job.abs, e);
    record({ rootId: job.rootId, path: job.rel, size: job.size, mtimeMs: job.mtimeMs, hash, error: { code: e.code, message: e.message } });
  };

  async function* toEmbed(): AsyncGenerator<ReadJob> {
    for (const job of jobs) {
      if (options.signal?.aborted) {
        summary.interrupted = true;
        return;
      }
      try {
        const s = await statImageFile(job.abs);
        job.size = s.size;
        job.mtimeMs = s.mtimeMs;
      } catch (e) {
        done++;
        recordFailure(job, toConvlensError(e, job.abs), null);
        continue;
      }
      const st = job.state;
      // decode failures are settled until the file changes; read failures (no hash) are retried
      const settled = st && (st.ok || (st.errorCode !== null && st.hash !== null));
      if (settled && st.size === job.size && st.mtimeMs === job.mtimeMs) {
        done++;
        summary.unchanged++;
        if (!st.ok) fail(job.abs, new ConvlensError(st.errorCode as never, st.errorMessage ?? ''));
        if (done % 256 === 0) progress();
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = await readImageFile(job.abs);
      } catch (e) {
        done++;
        recordFailure(job, toConvlensError(e, job.abs), null);
        continue;
      }
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (settled && st.hash === hash) {
        // touched, same content: keep the results, remember the new size/mtime
        done++;
        summary.unchanged++;
        touched.push({ id: st.id, size: job.size, mtimeMs: job.mtimeMs });
        if (!st.ok) fail(job.abs, new ConvlensError(st.errorCode as never, st.errorMessage ?? ''));
        continue;
      }
      const twin = store.findByHash(hash);
      const copied = twin ? store.resultsOf(twin.id) : null;
      if (copied) {
        done++;
        summary.indexed++;
        summary.reused++;
        record({ rootId: job.rootId, path: job.rel, size: job.size, mtimeMs: job.mtimeMs, hash, ...copied });
        continue;
      }
      yield { ...job, bytes, hash };
    }
  }

  const process = lens.processItems(toEmbed(), (job) => job.bytes, {
    ...(thumbnailSize > 0 ? { thumbnail: thumbnailSize } : {}),
    ...(options.variant ? { variant: options.variant } : {}),
  });
  for await (const { item: job, outcome } of process) {
    done++;
    if (outcome.ok) {
      embedded++;
      summary.indexed++;
      const top5 = topIndices(outcome.probabilities, 5).map((index) => ({ index, probability: outcome.probabilities[index]! }));
      record({
        rootId: job.rootId,
        path: job.rel,
        size: job.size,
        mtimeMs: job.mtimeMs,
        hash: job.hash,
        width: outcome.width,
        height: outcome.height,
        format: outcome.format,
        top5,
        embedding: outcome.embedding,
        zeroFraction: zeroFraction(outcome.embedding),
        ...(outcome.thumbnail ? { thumbnail: outcome.thumbnail } : {}),
      });
    } else {
      recordFailure(job, new ConvlensError(outcome.error.code, outcome.error.message, { file: job.abs }), job.hash);
    }
    progress();
  }
  flush();
  progress();
}
