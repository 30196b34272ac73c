/** The server's moving parts on their own: micro-batched search, the live catalogue, jobs, the atlas. */
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { buildAtlas } from '../../src/atlas/index.js';
import { Collection, MicroBatcher } from '../../src/collection/index.js';
import { ConvlensError } from '../../src/core/errors.js';
import { matrix } from '../../src/core/matrix.js';
import { Random } from '../../src/core/random.js';
import { ExactIndex } from '../../src/search/index.js';
import { LiveCatalogue } from '../../src/server/catalogue.js';
import { JobManager } from '../../src/server/jobs.js';
import { SqliteStore } from '../../src/store/index.js';
import { colourThumb, removeTempDirs, syntheticStore, tempDir } from './helpers.js';

afterAll(() => removeTempDirs());

describe('MicroBatcher', () => {
  const rng = new Random(3);
  const n = 1500;
  const dim = 64;
  const m = matrix(
    n,
    dim,
    Float32Array.from({ length: n * dim }, () => Math.max(0, rng.normal())),
  );
  const ids = Int32Array.from({ length: n }, (_, i) => 10 + 3 * i);
  const exact = { cosine: new ExactIndex(m, { metric: 'cosine', ids }), euclidean: new ExactIndex(m, { metric: 'euclidean', ids }) };
  const row = (i: number): Float32Array => m.data.subarray(i * dim, (i + 1) * dim);

  it('answers concurrent queries exactly as one-by-one searches, in fewer batches', async () => {
    const batchers = { cosine: new MicroBatcher(async () => exact.cosine), euclidean: new MicroBatcher(async () => exact.euclidean) };
    const queries = Array.from({ length: 60 }, (_, j) => ({
      i: rng.int(n),
      metric: (j % 3 === 0 ? 'euclidean' : 'cosine') as 'cosine' | 'euclidean',
      k: j % 2 ? 10 : 3,
    }));
    const got = await Promise.all(queries.map((q) => batchers[q.metric].search(row(q.i), { k: q.k, exclude: [ids[q.i]!] })));
    for (const [j, q] of queries.entries()) {
      const want = await exact[q.metric].search(row(q.i), { k: q.k, exclude: [ids[q.i]!] });
      expect(got[j]).toEqual(want);
    }
    const stats = {
      queries: batchers.cosine.stats.queries + batchers.euclidean.stats.queries,
      batches: batchers.cosine.stats.batches + batchers.euclidean.stats.batches,
    };
    expect(stats.queries).toBe(60);
    expect(stats.batches).toBeLessThan(60);
  });

  it('applies thresholds per group and refuses a query of the wrong length without upsetting the others', async () => {
    const cos = new MicroBatcher(async () => exact.cosine);
    const euc = new MicroBatcher(async () => exact.euclidean);
    const a = cos.search(row(5), { k: 50, minSimilarity: 0.8, exclude: [ids[5]!] });
    const bad = expect(cos.search(new Float32Array(3), { k: 5 })).rejects.toBeInstanceOf(ConvlensError);
    const c = euc.search(row(7), { k: 4 });
    expect((await a).every((x) => x.score >= 0.8)).toBe(true);
    await bad;
    expect((await c)[0]).toEqual({ id: ids[7], score: 0 });
  });
});

describe('LiveCatalogue', () => {
  it('reloads when another connection adds images (not while held), not when it only changes labels', async () => {
    const dir = tempDir('live');
    const db = join(dir, 'c.db');
    await syntheticStore(db, join(dir, 'photos'), 20, { dim: 32, thumbnails: false });
    const collection = await Collection.open(db);
    const live = await LiveCatalogue.open(collection, { checkEveryMs: 0, minReloadMs: 0 });
    const first = await live.current();
    expect(first.embeddedIds.length).toBe(20);
    const other = SqliteStore.open(db);
    await other.setLabels([first.ids[0]!], 'x');
    expect(await live.current()).toBe(first);
    expect((await live.labels()).get(first.ids[0]!)).toBe('x');
    await syntheticStore(db, join(dir, 'more'), 5, { dim: 32, thumbnails: false, seed: 2 });
    const release = live.hold();
    expect(await live.current()).toBe(first);
    release();
    const second = await live.current();
    expect(second).not.toBe(first);
    expect(second.embeddedIds.length).toBe(25);
    expect(second.rows.size).toBe(25);
    // the collection's search was refreshed with it
    expect((await (await collection.search()).matrix()).ids.length).toBe(25);
    await other.close();
    await collection.close();
  });
});

describe('JobManager', () => {
  const later = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  it('runs one job per kind at a time, in order, kinds side by side', async () => {
    const jobs = new JobManager();
    const log: string[] = [];
    const job = (name: string) => async () => {
      log.push(`start ${name}`);
      await later(20);
      log.push(`end ${name}`);
      return name;
    };
    const a = jobs.submit('index', {}, job('a'));
    const b = jobs.submit('index', {}, job('b'));
    const m = jobs.submit('map', {}, job('m'));
    const [ea, eb, em] = await Promise.all([jobs.wait(a.id), jobs.wait(b.id), jobs.wait(m.id)]);
    expect([ea.state, eb.state, em.state]).toEqual(['done', 'done', 'done']);
    expect(eb.result).toBe('b');
    expect(log.indexOf('start b')).toBeGreaterThan(log.indexOf('end a'));
    expect(log.indexOf('start m')).toBeLessThan(log.indexOf('end a'));
    expect(jobs.list().map((j) => j.id)).toEqual([m.id, b.id, a.id]);
  });

  it('dedupes identical work, cancels queued and running jobs, reports failures with codes', async () => {
    const jobs = new JobManager();
    const slow = vi.fn(async (ctx: { signal: AbortSignal; progress: (p: { stage: string; done: number; total: number }) => void }) => {
      for (let i = 0; i < 100 && !ctx.signal.aborted; i++) {
        ctx.progress({ stage: 'work', done: i, total: 100 });
        await later(5);
      }
    });
    const a = jobs.submit('map', {}, slow, 'same');
    expect(jobs.submit('map', {}, slow, 'same').id).toBe(a.id);
    const queued = jobs.submit('map', {}, slow, 'other');
    expect(jobs.cancel(queued.id)!.state).toBe('cancelled');
    await later(30);
    expect(jobs.get(a.id)!.progress!.done).toBeGreaterThan(0);
    jobs.cancel(a.id);
    expect((await jobs.wait(a.id)).state).toBe('cancelled');
    expect(slow).toHaveBeenCalledTimes(1);

    const coded = await jobs.wait(
      jobs.submit('train', {}, async () => Promise.reject(new ConvlensError('E_USAGE', 'label two classes'))).id,
    );
    expect(coded).toMatchObject({ state: 'failed', error: { code: 'E_USAGE', message: 'label two classes' } });
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const internal = await jobs.wait(jobs.submit('train', {}, async () => Promise.reject(new Error('/secret/path exploded'))).id);
    spy.mockRestore();
    expect(internal.error!.code).toBe('E_INTERNAL');
    expect(internal.error!.message).not.toContain('/secret/path');
  });

  it('refuses jobs beyond the queue limit and when closed', async () => {
    const jobs = new JobManager();
    const never = () => new Promise<void>(() => undefined);
    const wait = (ctx: { signal: AbortSignal }) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    jobs.submit('index', {}, wait);
    await later(1);
    for (let i = 0; i < 20; i++) jobs.submit('index', {}, never);
    expect(() => jobs.submit('index', {}, never)).toThrow(/too many/);
    await jobs.close();
    expect(jobs.counts()).toEqual({ running: 0, queued: 0 });
    expect(() => jobs.submit('map', {}, never)).toThrow(/shutting down/);
  });
});

describe('buildAtlas', () => {
  it('lays thumbnails out on as many pages as the size limit needs, with their mean colours', async () => {
    const dir = tempDir('atlas');
    const db = join(dir, 'c.db');
    await syntheticStore(db, join(dir, 'photos'), 40, { dim: 8 });
    const store = SqliteStore.open(db, { readonly: true });
    const { ids } = await store.embeddings();
    const thumbs = (id: number) => store.thumbnail(id);
    const atlas = await buildAtlas(ids, thumbs, { tile: 16, maxSize: 64 });
    await expect(buildAtlas(ids, thumbs, { tile: 4 })).rejects.toThrow(/tile/);
    await store.close();
    // 4 × 4 tiles a page: 16 + 16 + 8
    expect(atlas).toMatchObject({ tile: 16, columns: 4, perPage: 16 });
    expect(atlas.pages.map((p) => [p.width, p.height, p.count])).toEqual([
      [64, 64, 16],
      [64, 64, 16],
      [64, 32, 8],
    ]);
    expect(Array.from(atlas.ids)).toEqual(Array.from(ids));
    // image i has flat colour i % 16 (letterboxed: the mean ignores the transparent bars)
    for (const i of [0, 5, 21, 39]) {
      const { data } = await sharp(await colourThumb(i % 16))
        .raw()
        .toBuffer({ resolveWithObject: true });
      const want = [data[0]!, data[1]!, data[2]!];
      const got = [(atlas.colors[i]! >> 16) & 255, (atlas.colors[i]! >> 8) & 255, atlas.colors[i]! & 255];
      got.forEach((c, j) => expect(Math.abs(c - want[j]!)).toBeLessThanOrEqual(6));
    }
    const page = await sharp(atlas.pages[1]!.data).raw().toBuffer({ resolveWithObject: true });
    expect(page.info).toMatchObject({ width: 64, height: 64 });

    // images without a thumbnail get an opaque grey tile (still visible on the map)
    const bare = join(dir, 'bare.db');
    await syntheticStore(bare, join(dir, 'bare'), 3, { dim: 8, thumbnails: false });
    const b = SqliteStore.open(bare, { readonly: true });
    const grey = await buildAtlas((await b.embeddings()).ids, (id) => b.thumbnail(id), { tile: 16 });
    await b.close();
    expect(Array.from(grey.colors)).toEqual([0x9a9a9a, 0x9a9a9a, 0x9a9a9a]);
    const { data, info } = await sharp(grey.pages[0]!.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(48);
    expect(data[4 * (8 * 48 + 24) + 3]).toBe(255);
  });
});
