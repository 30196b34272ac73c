/**
 * What the coordinator and the workers of a distributed index share: the BullMQ queue of a
 * collection, how to reach Redis, and the shape of a batch job and its result.
 *
 * The queue is named after the collection's id (recorded in the collection when it is created),
 * not its URL, so machines that reach PostgreSQL under different names still meet on one queue.
 */
import { hostname } from 'node:os';
import type { ConnectionOptions, Queue, QueueEvents, Worker } from 'bullmq';
import { ConvlensError } from '../core/errors.js';
import type { IndexFailure, IndexJob } from '../indexer/index.js';
import type { LensOptions } from '../pipeline/lens.js';
import type { CollectionStore } from '../store/index.js';

/** The network every worker of a run must use: the collection's lens. */
export type BatchLens = Required<Pick<LensOptions, 'model' | 'layer' | 'resize'>> & Pick<LensOptions, 'precision' | 'calibration'>;

export interface BatchJobData {
  lens: BatchLens;
  thumbnailSize: number;
  jobs: IndexJob[];
}

export interface BatchResult {
  indexed: number;
  unchanged: number;
  reused: number;
  failed: IndexFailure[];
  seconds: number;
  /** host:pid of the worker that did it */
  worker: string;
}

/** ioredis options from a redis:// URL (BullMQ workers need maxRetriesPerRequest: null). */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConvlensError('E_USAGE', `--queue takes a Redis URL such as redis://127.0.0.1:6379 (got ${url})`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConvlensError('E_USAGE', `--queue takes a redis:// URL (got ${u.protocol}//)`);
  }
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    // keep trying through a Redis restart, at most every 2 s
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
}

/** The queue of a collection. Only a PostgreSQL collection can be shared by several machines. */
export async function queueName(store: CollectionStore): Promise<string> {
  if (store.kind !== 'postgres') {
    throw new ConvlensError('E_USAGE', 'a distributed index (--queue) needs a PostgreSQL collection: --db postgres://user@host/db', {
      file: store.location,
    });
  }
  const id = await store.getMeta('collection_id');
  if (!id) throw new ConvlensError('E_DB', 'this collection has no id (made by an older convlens?)', { file: store.location });
  return `convlens-index-${id}`;
}

export const workerName = (): string => `${hostname()}:${process.pid}`;

/** Wait for Redis, or say in one line that it is not there. */
export async function ready(what: Queue | Worker | QueueEvents, url: string, timeoutMs = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      what.waitUntilReady(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new ConvlensError('E_UNAVAILABLE', `cannot reach Redis at ${url.replace(/:[^:@/]*@/, ':***@')}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * BullMQ objects emit 'error' on every lost connection (an unhandled one would end the process):
 * say it once per minute per kind, keep going (ioredis reconnects).
 */
export function reportErrors(what: { on(event: 'error', fn: (e: Error) => void): unknown }, label: string): void {
  let last = 0;
  what.on('error', (e: Error) => {
    if (Date.now() - last < 60_000) return;
    last = Date.now();
    process.stderr.write(`convlens: ${label}: ${e.message} (retrying)\n`);
  });
}
