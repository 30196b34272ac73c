/**
 * The coordinator of a distributed index (`convlens index --queue`): walks the folders and diffs
 * them against the collection as a local index does, queues the files that need work in batches
 * on BullMQ, and follows the batches to the end with one progress count for all workers.
 *
 * - Batch ids are made from their files and those files' size and mtime, so a second coordinator
 *   over the same folders (or a re-run after a crash) queues the same ids, and BullMQ keeps one
 *   of each: it joins the run instead of doubling it.
 * - Redis keeps nothing on disk here: when a batch has vanished from the queue (Redis restarted),
 *   the coordinator queues it again.
 * - Prune happens once every batch has finished, under the collection's writer lock.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Job, Queue, QueueEvents } from 'bullmq';
import { ConvlensError, toConvlensError } from '../core/errors.js';
import { statImageFile } from '../image/files.js';
import { emptySummary, planFolders, settledState, type IndexJob, type IndexProgress, type IndexSummary } from '../indexer/index.js';
import { processStart } from '../store/common.js';
import type { Collection } from '../collection/collection.js';
import { queueName, ready, redisConnection, reportErrors, type BatchJobData, type BatchLens, type BatchResult } from './queue.js';

export interface QueuedIndexOptions {
  /** redis:// URL */
  queue: string;
  prune?: boolean;
  /** files per batch (default 64) */
  batchFiles?: number;
  thumbnailSize?: number;
  onProgress?: (p: IndexProgress & { workers: number }) => void;
  /** stop following (the queued batches stay queued; running the command again follows them) */
  signal?: AbortSignal;
  /** how often to look for batches whose events were missed or that vanished (default 2 s) */
  pollMs?: number;
}

export interface QueuedIndexSummary extends IndexSummary {
  batches: number;
  /** the workers that did them (host:pid) */
  workers: string[];
  /** batches queued again because Redis had lost them */
  requeued: number;
}

interface Batch {
  id: string;
  data: BatchJobData;
}

const batchOptions = {
  attempts: 8,
  backoff: { type: 'exponential' as const, delay: 1000 },
  // kept a while so a joining coordinator finds them done instead of queuing them again
  removeOnComplete: { age: 3600 },
  removeOnFail: { age: 24 * 3600 },
};

export async function indexWithQueue(collection: Collection, folders: string[], options: QueuedIndexOptions): Promise<QueuedIndexSummary> {
  const t0 = performance.now();
  const store = collection.store;
  const name = await queueName(store);
  const summary: QueuedIndexSummary = { ...emptySummary(), batches: 0, workers: [], requeued: 0 };
  const lensOptions = await collection.lensOptions();
  const lens: BatchLens = {
    model: lensOptions.model!,
    layer: lensOptions.layer ?? 'avg_pool',
    resize: lensOptions.resize!,
    ...(lensOptions.precision ? { precision: lensOptions.precision } : {}),
    ...(lensOptions.calibration ? { calibration: lensOptions.calibration } : {}),
  };

  const plan = await planFolders(store, folders, {}, summary);
  // what needs a worker: anything not unchanged by size and mtime (stat only: the workers read)
  const todo: IndexJob[] = [];
  for (const job of plan.jobs) {
    options.signal?.throwIfAborted();
    try {
      const s = await statImageFile(job.file);
      job.size = s.size;
      job.mtimeMs = s.mtimeMs;
      const st = job.state;
      if (settledState(st) && st.size === s.size && st.mtimeMs === s.mtimeMs) {
        summary.unchanged++;
        if (!st.ok) summary.failed.push({ path: job.shown, code: st.errorCode!, message: st.errorMessage ?? '' });
        continue;
      }
    } catch {
      // a worker records the failure, as a local index does
    }
    todo.push(job);
  }
  const size = options.batchFiles ?? 64;
  const batches: Batch[] = [];
  for (let i = 0; i < todo.length; i += size) {
    const jobs = todo.slice(i, i + size);
    const h = createHash('sha256');
    for (const j of jobs) h.update(`${j.file}\0${j.size}\0${j.mtimeMs}\0`);
    h.update(JSON.stringify(lens));
    batches.push({ id: `b${h.digest('hex').slice(0, 32)}`, data: { lens, thumbnailSize: options.thumbnailSize ?? 128, jobs } });
  }
  summary.batches = batches.length;

  const connection = redisConnection(options.queue);
  const queue = new Queue<BatchJobData, BatchResult>(name, { connection });
  const events = new QueueEvents(name, { connection });
  reportErrors(queue, 'queue');
  reportErrors(events, 'queue events');
  const workers = new Set<string>();
  const total = plan.jobs.length;
  let done = summary.unchanged;
  let embedded = 0;
  const tRun = performance.now();
  const progress = (): void => {
    const s = (performance.now() - tRun) / 1000;
    const rate = s > 0 ? embedded / s : 0;
    options.onProgress?.({
      done,
      total,
      embedded,
      failed: summary.failed.length,
      imagesPerSecond: rate,
      etaSeconds: rate > 0 ? (total - done) / rate : null,
      workers: workers.size,
    });
  };
  try {
    await ready(queue, options.queue);
    await ready(events, options.queue);
    const pending = new Map(batches.map((b) => [b.id, b]));
    const finish = (id: string, r: BatchResult | null, failure: string | null): void => {
      const b = pending.get(id);
      if (!b) return;
      pending.delete(id);
      if (r) {
        summary.indexed += r.indexed;
        summary.unchanged += r.unchanged;
        summary.reused += r.reused;
        summary.failed.push(...r.failed);
        workers.add(r.worker);
        embedded += r.indexed;
      } else {
        // the whole batch failed after its retries: each file says why
        const e = failure ?? 'the batch failed';
        for (const j of b.data.jobs) summary.failed.push({ path: j.shown, code: /^(E_[A-Z_]+)/.exec(e)?.[1] ?? 'E_INTERNAL', message: e });
      }
      done += b.data.jobs.length;
      progress();
    };
    events.on('completed', ({ jobId, returnvalue }) => finish(jobId, returnvalue as unknown as BatchResult, null));
    events.on('failed', ({ jobId, failedReason }) => finish(jobId, null, failedReason));

    for (let i = 0; i < batches.length; i += 500) {
      await queue.addBulk(batches.slice(i, i + 500).map((b) => ({ name: 'batch', data: b.data, opts: { ...batchOptions, jobId: b.id } })));
    }
    progress();
    // events can be missed (a reconnect) and Redis can lose batches (a restart): look at each one
    const pollMs = options.pollMs ?? 2000;
    while (pending.size > 0) {
      if (options.signal?.aborted) {
        summary.interrupted = true;
        break;
      }
      await new Promise((r) => setTimeout(r, pollMs));
      for (const [id, b] of [...pending].slice(0, 1000)) {
        let state: string;
        try {
          state = await queue.getJobState(id);
        } catch {
          break; // Redis away: try again next round
        }
        if (state === 'completed' || state === 'failed') {
          const job = await Job.fromId<BatchJobData, BatchResult>(queue, id);
          if (job) finish(id, state === 'completed' ? job.returnvalue : null, job.failedReason);
        } else if (state === 'unknown') {
          await queue.add('batch', b.data, { ...batchOptions, jobId: id });
          summary.requeued++;
        }
      }
    }
    if (!summary.interrupted && plan.gone.length > 0) {
      if (options.prune) {
        const release = await store.acquireWriter({
          pid: process.pid,
          started: processStart(process.pid),
          host: hostname(),
          command: 'index --queue',
        });
        try {
          summary.pruned = await store.deleteImages(plan.gone);
        } finally {
          await release();
        }
      } else summary.missing += plan.gone.length;
    }
  } catch (e) {
    const ce = e instanceof ConvlensError ? e : toConvlensError(e);
    summary.error = { code: ce.code, message: ce.message };
    summary.interrupted = true;
  } finally {
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
  }
  summary.workers = [...workers].sort();
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}
