/**
 * Index folders into a store: walk, skip what is unchanged, embed the rest through the lens
 * pipeline, and commit results in batches.
 *
 * - A file is one row, keyed by its real path, whatever folder (or symlink) reached it.
 * - Unchanged: size and mtime match the stored row; when they differ, the content hash decides (a
 *   touched but identical file only gets its mtime updated). A file whose content is already in
 *   the collection copies that row's results instead of running the network; this is looked up
 *   before anything is pruned, so renamed files are never embedded again.
 * - The network is loaded only when an image must go through it: a re-run over an unchanged
 *   folder never starts it.
 * - Every batch is one transaction: a killed run loses at most the batch in flight, and the next
 *   run picks up from there. A store that fails (full disk, a lock past the busy timeout) stops
 *   the run with a coded error in the summary; what was committed stays.
 * - `prune` never touches rows under a folder that could not be listed, and labels outlive their
 *   rows (the store keeps them for the file and its content).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConvlensError, toConvlensError, type ErrorCode } from '../core/errors.js';
import type { ImageVariant } from '../image/decode.js';
import { isInside, readImageFile, realPath, statImageFile, walkImages } from '../image/files.js';
import { topIndices } from '../imagenet/classes.js';
import { zeroFraction } from '../core/matrix.js';
import type { ConvLens } from '../pipeline/lens.js';
import type { CollectionStore, EmbeddingSettings, FileState, ImageRecord } from '../store/index.js';
import { processStart } from '../store/common.js';

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
  /** delete rows of files that are gone (never under a folder that could not be listed) */
  prune?: boolean;
  /** longer side of stored thumbnails in pixels (0: none; default 128) */
  thumbnailSize?: number;
  /** results per transaction (default: the lens batch size, or 16) */
  commitEvery?: number;
  onProgress?: (p: IndexProgress) => void;
  /** stop early (Ctrl-C, SIGTERM, a cancelled job): what is done is committed */
  signal?: AbortSignal;
  /** embed an augmentation view instead of the image itself (recorded in the settings) */
  variant?: ImageVariant;
  /** real folders every file must resolve inside (the server's allowed roots) */
  confine?: readonly string[];
  /** take the collection's writer lock for the run (default true) */
  lock?: boolean;
  /** wait this long for another writer to finish (default 0: E_DB_BUSY at once) */
  lockWaitMs?: number;
  /** shown to another writer that finds the lock taken (default "index") */
  command?: string;
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
  /** stored files that are gone from disk and were kept (no prune, or under an unreadable folder) */
  missing: number;
  /** of `indexed`, files whose identical content was already embedded */
  reused: number;
  seconds: number;
  /** true when stopped early by the signal or an error */
  interrupted: boolean;
  /** what stopped the run, when something did (the rows committed before it are kept) */
  error?: { code: ErrorCode; message: string };
}

/** Where the network comes from: a loaded lens, or a function that loads it when first needed. */
export type LensSource = ConvLens | (() => Promise<ConvLens>);

/**
 * Failures that belong to the file's content: they stay until the file changes. Anything else
 * (a missing or unreadable file, a network or disk failure, a pixel limit the user may raise) is
 * tried again by the next run.
 */
const SETTLED: ReadonlySet<string> = new Set(['E_EMPTY', 'E_NOT_IMAGE', 'E_TRUNCATED', 'E_CORRUPT', 'E_BAD_PIXELS']);

/** One file an index run looks at. */
export interface IndexJob {
  /** real path: the row's key */
  file: string;
  /** where to read it, when not at `file` (a worker that sees the files under another mount) */
  source?: string;
  /** the path as walked (what a failure names) */
  shown: string;
  rootId: number;
  path: string;
  size: number;
  mtimeMs: number;
  /** when its bytes were read (recorded with its result) */
  readAt?: number;
  state: FileState | undefined;
}
type Job = IndexJob;

interface ReadJob extends Job {
  bytes: Buffer;
  hash: string;
}

/** A summary with nothing done yet. */
export function emptySummary(): IndexSummary {
  return { indexed: 0, unchanged: 0, failed: [], pruned: 0, missing: 0, reused: 0, seconds: 0, interrupted: false };
}

/** A stable name for an augmentation view ("flip", "tl", "flip+br"), recorded with its embeddings. */
export function variantName(v: ImageVariant): string {
  return [v.flip ? 'flip' : '', v.corner ?? ''].filter(Boolean).join('+');
}

function settingsOf(lens: ConvLens, options: IndexOptions): EmbeddingSettings {
  return { ...lens.settings, ...(options.variant ? { variant: variantName(options.variant) } : {}) };
}

/** Index every image under the folders (recursively). */
export async function indexFolders(
  store: CollectionStore,
  lens: LensSource,
  folders: string[],
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const t0 = performance.now();
  const summary = emptySummary();
  await withWriter(store, options, summary, async () => {
    const plan = await planFolders(store, folders, options, summary);
    await runJobs(store, lens, plan.jobs, summary, options);
    // prune last: renamed files have copied their results from the rows that go now
    if (plan.gone.length > 0) {
      if (options.prune && !summary.interrupted) summary.pruned = await store.deleteImages(plan.gone);
      else summary.missing += plan.gone.length;
    }
  });
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/** What a run over folders must do: the files to look at, and the rows of files that are gone. */
export interface IndexPlan {
  jobs: IndexJob[];
  /** rows whose files are gone (never under a folder that could not be listed) */
  gone: number[];
}

/**
 * Walk the folders and pair every image file with its stored row. Folders that cannot be used
 * and unreadable subfolders are failures in `summary`; rows under those are counted missing, not
 * gone.
 */
export async function planFolders(
  store: CollectionStore,
  folders: string[],
  options: Pick<IndexOptions, 'confine'>,
  summary: IndexSummary,
): Promise<IndexPlan> {
  const jobs: Job[] = [];
  const seen = new Set<string>();
  const walked: { root: string; rootId: number; states: Map<string, FileState>; failedFolders: Set<string> }[] = [];
  for (const folder of folders) {
    let root: string;
    try {
      root = await realPath(resolve(folder));
    } catch {
      fail(summary, folder, new ConvlensError('E_NOT_FOUND', 'no such folder'));
      continue;
    }
    if (!(await stat(root)).isDirectory()) {
      fail(summary, folder, new ConvlensError('E_USAGE', 'not a folder (index takes folders)'));
      continue;
    }
    if (options.confine && !options.confine.some((c) => isInside(root, c))) {
      fail(summary, folder, new ConvlensError('E_PERMISSION', 'folder is outside the allowed roots'));
      continue;
    }
    const rootId = await store.rootId(root);
    const states = await store.fileStates(rootId, root);
    const failedFolders = new Set<string>();
    const onError = (e: ConvlensError): void => fail(summary, e.file ?? folder, e);
    for await (const f of walkImages(root, { confine: options.confine, onError }, failedFolders)) {
      if (seen.has(f.file)) continue; // reached twice (a symlink, or nested folders given together)
      seen.add(f.file);
      jobs.push({
        file: f.file,
        shown: join(root, ...f.path.split('/')),
        rootId,
        path: f.path,
        size: 0,
        mtimeMs: 0,
        state: states.get(f.file),
      });
    }
    walked.push({ root, rootId, states, failedFolders });
  }
  // never prune what could not be seen: rows under a folder that failed to list stay
  const gone = new Set<number>();
  const hidden = new Set<number>();
  for (const w of walked) {
    const unseen = [...w.failedFolders];
    for (const [file, s] of w.states) {
      if (seen.has(file)) continue;
      const shown = resolve(w.root, ...s.path.split('/'));
      if (unseen.some((d) => isInside(file, d) || (s.rootId === w.rootId && isInside(shown, d)))) hidden.add(s.id);
      else gone.add(s.id);
    }
  }
  for (const id of hidden) gone.delete(id);
  summary.missing += hidden.size;
  return { jobs, gone: [...gone] };
}

/** A result stored for this file that stays as long as its size and mtime do (no need to read it). */
export function settledState(state: FileState | undefined): state is FileState {
  return state !== undefined && (state.ok || (state.errorCode !== null && SETTLED.has(state.errorCode)));
}

/**
 * Run planned jobs (no writer lock: the caller decides; a worker of a distributed run writes
 * beside others). Returns the summary of this run.
 */
export async function runIndexJobs(
  store: CollectionStore,
  lens: LensSource,
  jobs: IndexJob[],
  options: IndexOptions = {},
): Promise<IndexSummary> {
  const t0 = performance.now();
  const summary = emptySummary();
  try {
    await runJobs(store, lens, jobs, summary, options);
  } catch (e) {
    const ce = toConvlensError(e);
    summary.error = { code: ce.code, message: ce.message };
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/**
 * Index an explicit list of files (a labelled set), rows under the filesystem root. Returns the
 * summary and each file's row id (absent for files that failed).
 */
export async function indexFiles(
  store: CollectionStore,
  lens: LensSource,
  files: string[],
  options: IndexOptions = {},
): Promise<IndexSummary & { ids: Map<string, number> }> {
  const t0 = performance.now();
  const summary = emptySummary();
  const ids = new Map<string, number>();
  await withWriter(store, options, summary, async () => {
    const rootId = await store.rootId('/');
    const states = await store.fileStates(rootId, '/');
    const seen = new Set<string>();
    const jobs: Job[] = [];
    const fileOf = new Map<string, string>();
    for (const f of files) {
      let file: string;
      try {
        file = await realPath(resolve(f));
      } catch {
        file = resolve(f); // missing: fails in its place with its own error
      }
      fileOf.set(f, file);
      if (seen.has(file)) continue;
      seen.add(file);
      jobs.push({ file, shown: f, rootId, path: file.slice(1), size: 0, mtimeMs: 0, state: states.get(file) });
    }
    await runJobs(store, lens, jobs, summary, options);
    const after = await store.fileStates(rootId, '/');
    for (const f of files) {
      const st = after.get(fileOf.get(f)!);
      if (st?.ok) ids.set(f, st.id);
    }
  });
  summary.seconds = (performance.now() - t0) / 1000;
  return { ...summary, ids };
}

function fail(summary: IndexSummary, path: string, e: ConvlensError): void {
  summary.failed.push({ path, code: e.code, message: e.message });
}

/** Run `body` holding the writer lock; a failure that stops the run lands in the summary. */
async function withWriter(store: CollectionStore, options: IndexOptions, summary: IndexSummary, body: () => Promise<void>): Promise<void> {
  let release: (() => Promise<void>) | null = null;
  try {
    if (options.lock !== false) {
      release = await store.acquireWriter(
        { pid: process.pid, started: processStart(process.pid), host: hostname(), command: options.command ?? 'index' },
        { waitMs: options.lockWaitMs ?? 0 },
      );
    }
    await body();
  } catch (e) {
    const ce = toConvlensError(e);
    summary.error = { code: ce.code, message: ce.message };
    summary.interrupted = true;
  } finally {
    if (release) await release().catch(() => undefined);
  }
}

/** Records waiting for their transaction. */
class Pending {
  records: ImageRecord[] = [];
  touched: { id: number; size: number; mtimeMs: number }[] = [];
  constructor(
    private readonly store: CollectionStore,
    readonly every: number,
  ) {}
  get full(): boolean {
    return this.records.length >= this.every || this.touched.length >= 1024;
  }
  async flush(): Promise<void> {
    if (this.records.length > 0) await this.store.writeBatch(this.records.splice(0));
    if (this.touched.length > 0) await this.store.touch(this.touched.splice(0));
  }
}

async function runJobs(
  store: CollectionStore,
  lensSource: LensSource,
  jobs: Job[],
  summary: IndexSummary,
  options: IndexOptions,
): Promise<void> {
  const thumbnailSize = options.thumbnailSize ?? 128;
  const pending = new Pending(store, options.commitEvery ?? (typeof lensSource === 'function' ? 16 : lensSource.batchSize));
  const total = jobs.length;
  let done = 0;
  let embedded = 0;
  let tEmbed = 0;
  let fatal: unknown = null;
  const progress = (): void => {
    if (!options.onProgress) return;
    const secs = tEmbed > 0 ? (performance.now() - tEmbed) / 1000 : 0;
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
  const record = (r: ImageRecord): void => {
    pending.records.push(r);
  };
  /** What every record of a job says: which file, where, what it was when read. */
  const facts = (job: Job, hash: string | null) => ({
    file: job.file,
    rootId: job.rootId,
    path: job.path,
    size: job.size,
    mtimeMs: job.mtimeMs,
    hash,
    ...(job.readAt !== undefined ? { readAt: job.readAt } : {}),
  });
  const recordFailure = (job: Job, e: ConvlensError, hash: string | null): void => {
    fail(summary, job.shown, e);
    record({ ...facts(job, hash), error: { code: e.code, message: e.message } });
  };
  const reportStored = (job: Job, st: FileState): void => {
    if (!st.ok) fail(summary, job.shown, new ConvlensError(st.errorCode as ErrorCode, st.errorMessage ?? ''));
  };

  // decide per file (reads only, never throws): unchanged, touched, copied, failed, or to embed
  async function* toEmbed(): AsyncGenerator<ReadJob> {
    try {
      for (const job of jobs) {
        if (options.signal?.aborted) {
          summary.interrupted = true;
          return;
        }
        if (pending.full && !inPipeline) {
          await pending.flush();
        }
        try {
          const s = await statImageFile(job.source ?? job.file);
          job.size = s.size;
          job.mtimeMs = s.mtimeMs;
        } catch (e) {
          done++;
          recordFailure(job, toConvlensError(e, job.shown), null);
          continue;
        }
        const st = job.state;
        const settled = settledState(st);
        if (settled && st.size === job.size && st.mtimeMs === job.mtimeMs) {
          done++;
          summary.unchanged++;
          reportStored(job, st);
          if (done % 256 === 0) progress();
          continue;
        }
        let bytes: Buffer;
        try {
          job.readAt = Date.now();
          bytes = await readImageFile(job.source ?? job.file);
        } catch (e) {
          done++;
          recordFailure(job, toConvlensError(e, job.shown), null);
          continue;
        }
        const hash = createHash('sha256').update(bytes).digest('hex');
        if (settled && st.hash === hash) {
          // touched, same content: keep the results, remember the new size/mtime
          done++;
          summary.unchanged++;
          pending.touched.push({ id: st.id, size: job.size, mtimeMs: job.mtimeMs });
          reportStored(job, st);
          continue;
        }
        const copied = await store.reusable(hash);
        if (copied) {
          done++;
          summary.indexed++;
          summary.reused++;
          record({ ...facts(job, hash), ...copied });
          continue;
        }
        yield { ...job, bytes, hash };
      }
    } catch (e) {
      fatal ??= e;
    }
  }

  let inPipeline = false;
  const producer = toEmbed();
  try {
    const first = await producer.next();
    if (fatal) throw fatal;
    if (!first.done) {
      const lens = typeof lensSource === 'function' ? await lensSource() : lensSource;
      await store.lockSettings(settingsOf(lens, options));
      inPipeline = true;
      tEmbed = performance.now();
      const items = (async function* () {
        yield first.value;
        yield* producer;
      })();
      const outcomes = lens.processItems(items, (job) => job.bytes, {
        ...(thumbnailSize > 0 ? { thumbnail: thumbnailSize } : {}),
        ...(options.variant ? { variant: options.variant } : {}),
      });
      for await (const { item: job, outcome } of outcomes) {
        done++;
        if (outcome.ok) {
          embedded++;
          summary.indexed++;
          const top5 = topIndices(outcome.probabilities, 5).map((index) => ({ index, probability: outcome.probabilities[index]! }));
          record({
            ...facts(job, job.hash),
            width: outcome.width,
            height: outcome.height,
            format: outcome.format,
            top5,
            embedding: outcome.embedding,
            zeroFraction: zeroFraction(outcome.embedding),
            ...(outcome.thumbnail ? { thumbnail: outcome.thumbnail } : {}),
          });
        } else {
          recordFailure(job, new ConvlensError(outcome.error.code, outcome.error.message, { file: job.shown }), job.hash);
        }
        if (pending.full) await pending.flush();
        progress();
        if (fatal) throw fatal;
      }
    }
    if (fatal) throw fatal;
    await pending.flush();
  } catch (e) {
    summary.interrupted = true;
    throw e;
  } finally {
    await producer.return(undefined).catch(() => undefined);
    progress();
  }
}
