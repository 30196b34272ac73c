/**
 * Scale-out figures: what one PostgreSQL and one Redis can take, and how workers share a machine.
 *
 * - PostgreSQL write rate for embedding rows (2048-d float32 + a 5 KB thumbnail), through the
 *   store's batched upsert (one multi-row INSERT per batch), at batch 64 and 512; SQLite alongside.
 * - BullMQ throughput: batches/s through Redis with workers that do nothing (the queue's ceiling).
 * - A distributed index of the same photos with 1 worker × 2 threads and with 2 workers × 1 thread
 *   on this machine, into a fresh PostgreSQL collection each time (alternating, `--rounds`).
 *
 *   npm run bench -- scale [--rows N] [--folder DIR] [--rounds R]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { Random } from '../src/core/random.js';
import { redisConnection } from '../src/distributed/index.js';
import { openStore, type ImageRecord } from '../src/store/index.js';
import { CLI_ENTRY } from '../test/helpers/cli.js';
import { SHARED_DATA } from '../test/helpers/paths.js';
import { POSTGRES_BASE, REDIS_URL } from '../test/helpers/services.js';
import { isMain, machine, writeResult } from './common.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

const schemas: string[] = [];
function collectionUrl(tag: string): string {
  const s = `bench_${tag}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  schemas.push(s);
  return `${POSTGRES_BASE}?schema=${s}`;
}

async function dropSchemas(): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_BASE });
  await c.connect();
  for (const s of schemas.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await c.end();
}

function rows(n: number, start: number, rootId: number, rng: Random): ImageRecord[] {
  const thumb = Buffer.alloc(5000, 7);
  return Array.from({ length: n }, (_, k) => {
    const i = start + k;
    return {
      file: `/bench/${i}.jpg`,
      rootId,
      path: `${i}.jpg`,
      size: 1000 + i,
      mtimeMs: 1,
      hash: `h${i}`,
      width: 640,
      height: 480,
      format: 'jpeg',
      top5: [{ index: i % 1000, probability: 0.5 }],
      embedding: Float32Array.from({ length: 2048 }, () => Math.max(0, rng.normal())),
      zeroFraction: 0.2,
      thumbnail: thumb,
    };
  });
}

/** Rows per second through writeBatch. */
async function writeRate(location: string, total: number, batch: number): Promise<{ rowsPerSecond: number; mbPerSecond: number }> {
  const store = await openStore(location, { create: true });
  try {
    await store.lockSettings({ model: 'bench', layer: 'avg_pool', resize: 'crop', dim: 2048 });
    const rootId = await store.rootId('/bench');
    const rng = new Random(1);
    const batches = Array.from({ length: Math.ceil(total / batch) }, (_, b) =>
      rows(Math.min(batch, total - b * batch), b * batch, rootId, rng),
    );
    const t0 = performance.now();
    for (const b of batches) await store.writeBatch(b);
    const s = (performance.now() - t0) / 1000;
    return { rowsPerSecond: +(total / s).toFixed(0), mbPerSecond: +((total * (2048 * 4 + 5000)) / 2 ** 20 / s).toFixed(1) };
  } finally {
    await store.close();
  }
}

/** Batches per second BullMQ moves through Redis to workers that do nothing. */
async function queueRate(jobs: number, workers: number): Promise<number> {
  const name = `convlens-bench-${Date.now()}`;
  const connection = redisConnection(REDIS_URL);
  const q = new Queue(name, { connection });
  await q.waitUntilReady();
  let done = 0;
  let finished: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const ws = Array.from(
    { length: workers },
    () =>
      new Worker(
        name,
        async () => {
          if (++done === jobs) finished();
          return { indexed: 64 };
        },
        { connection, concurrency: 1, autorun: false },
      ),
  );
  const payload = {
    jobs: Array.from({ length: 64 }, (_, i) => ({ file: `/photos/${i}.jpg`, size: 1, mtimeMs: 1, rootId: 1, path: `${i}.jpg` })),
  };
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 500) {
    await q.addBulk(
      Array.from({ length: Math.min(500, jobs - i) }, () => ({ name: 'batch', data: payload, opts: { removeOnComplete: true } })),
    );
  }
  for (const w of ws) void w.run();
  await all;
  const s = (performance.now() - t0) / 1000;
  await Promise.all(ws.map((w) => w.close()));
  await q.obliterate({ force: true });
  await q.close();
  return +(jobs / s).toFixed(0);
}

function convlens(args: string[]): { done: Promise<string>; kill: () => void; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => {
    err += d;
    if (/waiting for batches/.test(err)) onReady();
  });
  const done = new Promise<string>((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 || code === 2 ? resolve(out) : reject(new Error(`convlens ${args[0]} exited ${code}: ${err.slice(-400)}`)),
    ),
  );
  return { done, kill: () => child.kill('SIGTERM'), ready };
}

/** A distributed index of `folder` with `workers` workers of `threads` threads each; images/s from queueing to the last batch. */
async function distributed(
  folder: string,
  workers: number,
  threads: number,
): Promise<{ imagesPerSecond: number; seconds: number; images: number }> {
  const db = collectionUrl(`w${workers}t${threads}`);
  const store = await openStore(db, { create: true });
  await store.close();
  const ws = Array.from({ length: workers }, () => convlens(['worker', '--queue', REDIS_URL, '--db', db, '--threads', String(threads)]));
  await Promise.all(ws.map((w) => w.ready));
  const out = await convlens(['index', folder, '--db', db, '--queue', REDIS_URL, '--batch-files', '32', '--json', '--quiet']).done;
  for (const w of ws) w.kill();
  await Promise.all(ws.map((w) => w.done.catch(() => '')));
  const s = JSON.parse(out.trim().split('\n').at(-1)!) as { indexed: number; seconds: number };
  return { imagesPerSecond: +(s.indexed / s.seconds).toFixed(1), seconds: +s.seconds.toFixed(1), images: s.indexed };
}

export async function run(args: string[] = []): Promise<void> {
  const total = Number(arg(args, '--rows', '20000'));
  const rounds = Number(arg(args, '--rounds', '2'));
  const folder = arg(args, '--folder', join(SHARED_DATA, 'flowers', 'daisy'));
  const result: Record<string, unknown> = { machine: machine(), rows: total, rounds, folder };
  try {
    const writes: Record<string, unknown> = {};
    for (const batch of [64, 512]) {
      const p = await writeRate(collectionUrl(`write${batch}`), total, batch);
      const dir = mkdtempSync(join(tmpdir(), 'convlens-bench-'));
      const s = await writeRate(join(dir, 'c.db'), total, batch);
      rmSync(dir, { recursive: true, force: true });
      writes[`batch${batch}`] = { postgres: p, sqlite: s };
      console.log(
        `write ${total} rows in batches of ${batch}: PostgreSQL ${p.rowsPerSecond} rows/s (${p.mbPerSecond} MB/s), ` +
          `SQLite ${s.rowsPerSecond} rows/s`,
      );
    }
    result['writes'] = writes;
    const queue: Record<string, number> = {};
    for (const w of [1, 4]) {
      queue[`workers${w}`] = await queueRate(3000, w);
      console.log(`BullMQ: ${queue[`workers${w}`]} batches/s through Redis with ${w} no-op worker(s) (×64 files a batch)`);
    }
    result['queue'] = queue;
    const runs: Record<string, number[]> = { '1x2': [], '2x1': [] };
    for (let r = 0; r < rounds; r++) {
      for (const [workers, threads] of r % 2 === 0
        ? [
            [1, 2],
            [2, 1],
          ]
        : [
            [2, 1],
            [1, 2],
          ]) {
        const d = await distributed(folder, workers!, threads!);
        runs[`${workers}x${threads}`]!.push(d.imagesPerSecond);
        console.log(
          `index --queue: ${workers} worker(s) × ${threads} thread(s): ${d.images} images in ${d.seconds} s ` +
            `= ${d.imagesPerSecond} images/s`,
        );
      }
    }
    result['distributed'] = { batchFiles: 32, imagesPerSecond: runs };
  } finally {
    await dropSchemas();
  }
  console.log(`recorded in ${writeResult('scale', result)}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
