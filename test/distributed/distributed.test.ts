/**
 * A distributed index with the real services: PostgreSQL, Redis (BullMQ) and convlens worker
 * processes. What must hold whatever happens to a worker or a service: every image ends up in
 * the collection exactly once, nothing newer is overwritten by something older, the run finishes,
 * and the result equals a local index of the same folder.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collection } from '../../src/collection/index.js';
import { queueName, redisConnection } from '../../src/distributed/index.js';
import { openStore, type CollectionStore } from '../../src/store/index.js';
import { jsonLines } from '../helpers/cli.js';
import { EXAMPLES } from '../helpers/paths.js';
import { convlens, freePort, PrivatePostgres, PrivateRedis, sleep, type Proc } from '../helpers/processes.js';
import { dropPostgresCollections, postgresCollection, postgresMissing, REDIS_URL, redisMissing } from '../helpers/services.js';

const missing = (await postgresMissing()) ?? (await redisMissing());
const running: Proc[] = [];
let folder = '';
let files: string[] = [];

beforeAll(() => {
  // 44 photos, and one file that is not an image (the poison)
  const dir = mkdtempSync(join(tmpdir(), 'convlens-dist-'));
  folder = join(dir, 'photos');
  mkdirSync(folder);
  for (const sub of ['skimage', 'opencv']) {
    for (const f of readdirSync(join(EXAMPLES, sub))) {
      if (/\.(png|jpe?g|tiff?|webp|bmp)$/i.test(f)) copyFileSync(join(EXAMPLES, sub, f), join(folder, `${sub}-${f}`));
    }
  }
  writeFileSync(join(folder, 'poison.jpg'), Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(3000, 0x5a)]));
  files = readdirSync(folder).sort();
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await dropPostgresCollections().catch(() => undefined);
});

function start(args: string[]): Proc {
  const p = convlens(args);
  running.push(p);
  return p;
}

/** A worker that has connected and waits for batches. */
async function worker(db: string, queue: string, ...extra: string[]): Promise<Proc> {
  const w = start(['worker', '--queue', queue, '--db', db, '--threads', '1', '--lock-seconds', '3', ...extra]);
  await w.waitFor(/waiting for batches/, 30_000);
  return w;
}

function coordinator(db: string, queue: string, ...extra: string[]): Proc {
  return start(['index', folder, '--db', db, '--queue', queue, '--batch-files', '8', '--json', '--quiet', ...extra]);
}

async function summaryOf(p: Proc, timeoutMs = 180_000): Promise<Record<string, any>> {
  const t = setTimeout(() => p.signal('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(t);
  const lines = jsonLines(p.out);
  if (lines.length === 0) throw new Error(`no summary: ${p.err.slice(-800)}`);
  return lines.at(-1);
}

interface Row {
  file: string;
  embedding: Float32Array | null;
  error: string | null;
}

async function rowsOf(store: CollectionStore): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  for (const r of await store.images()) {
    out.set(r.file.split('/').pop()!, { file: r.file, embedding: await store.embedding(r.id), error: r.error?.code ?? null });
  }
  return out;
}

/** Every file once, embedded (the poison failed with its own error). */
async function expectComplete(db: string): Promise<Map<string, Row>> {
  const store = await openStore(db, { readonly: true });
  try {
    const rows = await rowsOf(store);
    expect([...rows.keys()].sort()).toEqual(files);
    expect((await store.count()).images).toBe(files.length); // one row per file, no duplicates
    for (const [name, r] of rows) {
      if (name === 'poison.jpg') expect(r.error).toMatch(/^E_(CORRUPT|TRUNCATED|NOT_IMAGE)$/);
      else expect(r.embedding, name).not.toBeNull();
    }
    return rows;
  } finally {
    await store.close();
  }
}

async function activeJobs(db: string, queue: string): Promise<{ id: string; by: string | undefined }[]> {
  const store = await openStore(db, { readonly: true });
  const q = new Queue(await queueName(store), { connection: redisConnection(queue) });
  try {
    const jobs = await q.getJobs(['active']);
    return jobs.map((j) => ({ id: j.id!, by: j.processedBy }));
  } finally {
    await q.close();
    await store.close();
  }
}

async function waitForActive(db: string, queue: string, pid: number): Promise<void> {
  const t0 = Date.now();
  while (!(await activeJobs(db, queue)).some((j) => j.by?.endsWith(`:${pid}`))) {
    if (Date.now() - t0 > 60_000) throw new Error(`worker ${pid} never took a batch`);
    await sleep(100);
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

describe.skipIf(missing !== null)('distributed index (BullMQ on Redis, PostgreSQL, worker processes)', () => {
  it('two workers give the collection a local index gives: same rows, embeddings within 1e-6, same neighbours', async () => {
    const db = postgresCollection('equal');
    await (await Collection.open(db, { create: true })).close(); // a worker finds the queue through the collection
    const workers = await Promise.all([worker(db, REDIS_URL), worker(db, REDIS_URL)]);
    const s = await summaryOf(coordinator(db, REDIS_URL));
    expect(s.indexed).toBe(files.length - 1);
    expect(s.failed.map((f: { path: string }) => f.path.split('/').pop())).toEqual(['poison.jpg']);
    expect(s.batches).toBe(Math.ceil(files.length / 8));
    expect(s.workers).toHaveLength(2);
    const shared = await expectComplete(db);
    await Promise.all(workers.map((w) => w.stop()));

    const localDb = join(mkdtempSync(join(tmpdir(), 'convlens-local-')), 'c.db');
    const local = await Collection.open(localDb, { create: true, runtime: { threads: 1 } });
    try {
      const ls = await local.index([folder]);
      expect(ls.indexed).toBe(files.length - 1);
      const rows = await rowsOf(local.store);
      let worst = 0;
      for (const [name, r] of rows) {
        const other = shared.get(name)!;
        expect(other.error).toBe(r.error);
        if (!r.embedding) continue;
        for (let i = 0; i < r.embedding.length; i++) worst = Math.max(worst, Math.abs(r.embedding[i]! - other.embedding![i]!));
      }
      expect(worst).toBeLessThanOrEqual(1e-6);
      // neighbours: the 5 nearest of every image are the same files in both
      const names = [...rows.keys()].filter((n) => rows.get(n)!.embedding);
      const nearest = (m: Map<string, Row>, n: string): string[] =>
        names
          .filter((o) => o !== n)
          .map((o) => [o, cosine(m.get(n)!.embedding!, m.get(o)!.embedding!)] as const)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([o]) => o);
      for (const n of names) expect(nearest(shared, n), n).toEqual(nearest(rows, n));
    } finally {
      await local.close();
    }
  });

  it('a worker killed (SIGKILL) mid-batch: its batch is handed to another, every image once', async () => {
    const db = postgresCollection('kill');
    await (await Collection.open(db, { create: true })).close();
    const a = await worker(db, REDIS_URL);
    const run = coordinator(db, REDIS_URL);
    await waitForActive(db, REDIS_URL, a.child.pid!);
    await sleep(1500); // mid-batch: reading and embedding
    a.signal('SIGKILL');
    await a.exited;
    const b = await worker(db, REDIS_URL);
    const s = await summaryOf(run);
    expect(s.error).toBeUndefined();
    expect(s.indexed + s.unchanged).toBe(files.length - 1);
    await expectComplete(db);
    expect(b.count(/batch of/)).toBeGreaterThanOrEqual(1);
  });

  it('a worker stopped (SIGSTOP) past its lock, then continued: its late write neither duplicates nor replaces newer data', async () => {
    const db = postgresCollection('stop');
    await (await Collection.open(db, { create: true })).close();
    const a = await worker(db, REDIS_URL);
    const run = coordinator(db, REDIS_URL);
    await a.waitFor(/batch of/, 90_000); // its network is loaded: the next batch starts by reading files
    await waitForActive(db, REDIS_URL, a.child.pid!);
    await sleep(300); // it has read files of that batch, and written none (one transaction at the end)
    a.signal('SIGSTOP');
    const held = a.count(/batch of/);
    const b = await worker(db, REDIS_URL);
    const s = await summaryOf(run);
    expect(s.error).toBeUndefined();
    await expectComplete(db);
    const readAt = async (): Promise<Map<string, number>> => {
      const client = new pg.Client({ connectionString: db.split('?')[0] });
      await client.connect();
      try {
        const schema = new URL(db).searchParams.get('schema');
        const r = await client.query<{ file: Buffer; read_at: number }>(`SELECT file, read_at FROM ${schema}.images`);
        return new Map(r.rows.map((x) => [x.file.toString(), x.read_at]));
      } finally {
        await client.end();
      }
    };
    const before = await readAt();
    a.signal('SIGCONT');
    // it finishes the batch it held, whose files another worker has read and written since
    const t0 = Date.now();
    while (a.count(/batch of/) === held && Date.now() - t0 < 60_000) await sleep(100);
    expect(a.count(/batch of/)).toBe(held + 1);
    const after = await readAt();
    expect(after.size).toBe(before.size);
    for (const [file, t] of before) expect(after.get(file), file).toBeGreaterThanOrEqual(t); // never an older read over a newer one
    await expectComplete(db);
    expect(b.count(/batch of/)).toBeGreaterThanOrEqual(1);
  });

  it('a second coordinator over the same folders joins the run instead of doubling it', async () => {
    const db = postgresCollection('join');
    await (await Collection.open(db, { create: true })).close();
    const one = coordinator(db, REDIS_URL);
    const two = coordinator(db, REDIS_URL);
    await sleep(3000); // both have queued
    const w = await worker(db, REDIS_URL);
    const [s1, s2] = await Promise.all([summaryOf(one), summaryOf(two)]);
    expect(s1.error ?? s2.error).toBeUndefined();
    await expectComplete(db);
    expect(w.count(/batch of/)).toBe(Math.ceil(files.length / 8)); // each batch once
    expect(s1.indexed + s1.unchanged).toBe(files.length - 1);
    expect(s2.indexed + s2.unchanged).toBe(files.length - 1);
  });

  it('a worker that sees the files under another folder reads them there (--path-map), rows keep their paths', async () => {
    const db = postgresCollection('pathmap');
    await (await Collection.open(db, { create: true })).close();
    const elsewhere = `${folder}-mounted`;
    rmSync(elsewhere, { recursive: true, force: true });
    const run = coordinator(db, REDIS_URL);
    await sleep(3000); // listed and queued
    renameSync(folder, elsewhere); // only the mapped path has the files now
    try {
      await worker(db, REDIS_URL, '--path-map', `${folder}=${elsewhere}`);
      const s = await summaryOf(run);
      expect(s.indexed).toBe(files.length - 1);
      const store = await openStore(db, { readonly: true });
      try {
        expect((await store.images()).every((r) => r.file.startsWith(`${folder}/`))).toBe(true);
      } finally {
        await store.close();
      }
    } finally {
      renameSync(elsewhere, folder);
    }
  });

  it('a worker with another precision than the collection refuses its batches for good (E_SETTINGS_MISMATCH)', async () => {
    const db = postgresCollection('precision');
    await (await Collection.open(db, { create: true })).close();
    await worker(db, REDIS_URL, '--precision', 'int8');
    const run = coordinator(db, REDIS_URL);
    const s = await summaryOf(run, 60_000);
    expect(await run.exited).toBe(2);
    expect(s.indexed).toBe(0);
    expect(new Set(s.failed.map((f: { code: string }) => f.code))).toEqual(new Set(['E_SETTINGS_MISMATCH']));
  });
});

const privateMissing = missing ?? (PrivateRedis.available() ? null : 'no redis-server binary');
describe.skipIf(privateMissing !== null)('distributed index: services restarted mid-run', () => {
  it('Redis restarted (and emptied) mid-run: the coordinator queues the lost batches again and the run completes', async () => {
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    const db = postgresCollection('redis');
    await (await Collection.open(db, { create: true })).close();
    try {
      const w = await worker(db, redis.url);
      const run = coordinator(db, redis.url);
      await w.waitFor(/batch of/, 90_000);
      await redis.kill();
      await sleep(1500);
      await redis.start();
      const s = await summaryOf(run);
      expect(s.error).toBeUndefined();
      expect(s.requeued).toBeGreaterThan(0);
      await expectComplete(db);
    } finally {
      await redis.kill();
    }
  });

  const pgMissing = PrivatePostgres.missing();
  it.skipIf(pgMissing !== null)('PostgreSQL restarted mid-run: workers retry their batch and the run completes', async () => {
    const postgres = new PrivatePostgres(await freePort());
    await postgres.init();
    try {
      const db = `${postgres.url}?schema=restart`;
      await (await Collection.open(db, { create: true })).close();
      const w = await worker(db, REDIS_URL);
      const run = coordinator(db, REDIS_URL);
      await w.waitFor(/batch of/, 90_000);
      await postgres.stop('immediate');
      await sleep(3000);
      await postgres.start();
      const s = await summaryOf(run);
      expect(s.error).toBeUndefined();
      await expectComplete(db);
    } finally {
      await postgres.stop('immediate').catch(() => undefined);
    }
  });
  if (PrivatePostgres.missing()) console.warn(`skipped: PostgreSQL restart test: ${PrivatePostgres.missing()}`);
});
