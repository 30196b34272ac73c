/**
 * A worker of a distributed index: takes batches from the collection's BullMQ queue, runs them
 * through the same code as a local index (stat, hash, copy identical content, embed, one
 * transaction per batch) and returns what it did. BullMQ does the rest: a worker that dies or
 * stalls past its lock has its batch handed to another, failed batches are retried with back-off.
 *
 * Failures of a file (a poison image) are stored with the file and fail nothing else; failures of
 * the collection (PostgreSQL away, disk full) fail the batch, to be retried; a worker whose
 * network does not match the collection's refuses the batch for good.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { ConvlensError } from '../core/errors.js';
import { runIndexJobs } from '../indexer/index.js';
import { ConvLens, type LensOptions } from '../pipeline/lens.js';
import { openStore } from '../store/index.js';
import type { Precision } from '../model/calibration.js';
import {
  queueName,
  ready,
  redisConnection,
  reportErrors,
  workerName,
  type BatchJobData,
  type BatchLens,
  type BatchResult,
} from './queue.js';

export interface WorkerOptions {
  /** redis:// URL of the queue */
  queue: string;
  /** the PostgreSQL collection */
  db: string;
  /** threads, batch size, pixel limit, model cache of this machine */
  runtime?: Omit<LensOptions, 'model' | 'layer' | 'resize' | 'precision' | 'calibration'>;
  /** refuse batches of a collection made with another precision (default: take the collection's) */
  precision?: Precision;
  /** where this machine sees the files: [from, to] prefixes */
  pathMap?: [string, string][];
  /** batches at once (default 1: the network already uses every core) */
  concurrency?: number;
  /** seconds a batch stays claimed without its worker renewing the claim (default 30) */
  lockSeconds?: number;
  /** after each batch */
  onBatch?: (r: BatchResult & { files: number }) => void;
  signal?: AbortSignal;
}

/** Map a path through the first matching FROM=TO prefix. */
export function mapPath(path: string, pathMap: readonly [string, string][]): string {
  for (const [from, to] of pathMap) {
    const f = from.endsWith('/') ? from : `${from}/`;
    if (path === from) return to;
    if (path.startsWith(f)) return `${to.endsWith('/') ? to : `${to}/`}${path.slice(f.length)}`;
  }
  return path;
}

/** Parse FROM=TO arguments. */
export function parsePathMap(specs: readonly string[]): [string, string][] {
  return specs.map((s) => {
    const i = s.indexOf('=');
    if (i <= 0 || i === s.length - 1) throw new ConvlensError('E_USAGE', `--path-map takes FROM=TO (got ${s})`);
    return [s.slice(0, i), s.slice(i + 1)];
  });
}

const sameLens = (a: BatchLens, b: BatchLens): boolean =>
  a.model === b.model &&
  a.layer === b.layer &&
  a.resize === b.resize &&
  (a.precision ?? 'fp32') === (b.precision ?? 'fp32') &&
  (a.calibration ?? '') === (b.calibration ?? '');

/** Errors of the collection or a service (retried by BullMQ), as opposed to errors of the batch itself. */
const TRANSIENT = new Set(['E_UNAVAILABLE', 'E_DB_BUSY', 'E_DISK_FULL', 'E_IO', 'E_DB', 'E_INTERNAL']);

/** Take batches until the signal aborts; resolves when the worker has stopped (its batch in flight finished). */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const store = await openStore(options.db);
  let worker: Worker<BatchJobData, BatchResult> | null = null;
  let lens: { settings: BatchLens; lens: ConvLens } | null = null;
  try {
    const name = await queueName(store);
    const pathMap = options.pathMap ?? [];
    const handle = async (job: Job<BatchJobData, BatchResult>): Promise<BatchResult> => {
      const want = job.data.lens;
      if (options.precision && options.precision !== (want.precision ?? 'fp32')) {
        throw new UnrecoverableError(
          `E_SETTINGS_MISMATCH: this collection is embedded with precision ${want.precision ?? 'fp32'}, ` +
            `this worker runs ${options.precision}`,
        );
      }
      if (!lens || !sameLens(lens.settings, want)) {
        await lens?.lens.dispose();
        lens = null;
        lens = { settings: want, lens: await ConvLens.load({ ...options.runtime, ...want }) };
      }
      const jobs = job.data.jobs.map((j) => {
        const source = mapPath(j.file, pathMap);
        return source === j.file ? j : { ...j, source };
      });
      const s = await runIndexJobs(store, lens.lens, jobs, { thumbnailSize: job.data.thumbnailSize, lock: false });
      if (s.error) {
        // nothing of this batch is lost: what was committed stays, and a retry skips it as unchanged
        if (TRANSIENT.has(s.error.code)) throw new Error(`${s.error.code}: ${s.error.message}`);
        throw new UnrecoverableError(`${s.error.code}: ${s.error.message}`);
      }
      const result: BatchResult = {
        indexed: s.indexed,
        unchanged: s.unchanged,
        reused: s.reused,
        failed: s.failed,
        seconds: +s.seconds.toFixed(3),
        worker: workerName(),
      };
      options.onBatch?.({ ...result, files: jobs.length });
      return result;
    };
    const lockDuration = (options.lockSeconds ?? 30) * 1000;
    worker = new Worker<BatchJobData, BatchResult>(name, handle, {
      connection: redisConnection(options.queue),
      concurrency: options.concurrency ?? 1,
      name: workerName(), // recorded on each job as processedBy
      lockDuration,
      stalledInterval: lockDuration,
      // a batch whose worker died is handed out again, a few times (a batch that kills every worker fails)
      maxStalledCount: 3,
      autorun: false,
    });
    reportErrors(worker, 'worker');
    await ready(worker, options.queue);
    const running = worker.run();
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    await worker.close(); // waits for the batch in flight
    await running;
  } finally {
    await worker?.close().catch(() => undefined);
    await (lens as { lens: ConvLens } | null)?.lens.dispose();
    await store.close();
  }
}
