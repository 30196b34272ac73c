/**
 * The HTTP API over the example photos: every endpoint, its answers and its 4xx errors.
 * Requests go through fastify's inject (no socket) except where a real connection matters (SSE).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  AtlasManifest,
  ClassifyResult,
  HistogramResult,
  ImageDetail,
  ImageList,
  Info,
  JobInfo,
  FindResult,
  LabelsResult,
  MapResult,
  Predictions,
  SimilarResult,
  TrainResult,
} from '../../src/server/schemas.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { EXAMPLES } from '../helpers/paths.js';
import { indexedExamples, multipart, removeTempDirs, tempDir } from './helpers.js';

const dir = tempDir('api');
const allowed = join(dir, 'allowed');
const uploads = join(dir, 'uploads');
const CAT = join(EXAMPLES, 'skimage', 'chelsea.png');
const MOTO_L = join(EXAMPLES, 'skimage', 'motorcycle_left.png');
let server: ConvlensServer;
const ids = new Map<string, number>();

async function get<T>(url: string, status = 200): Promise<T> {
  const r = await server.app.inject({ method: 'GET', url });
  expect(r.statusCode, `${url}: ${r.body.slice(0, 300)}`).toBe(status);
  return r.json() as T;
}

async function send<T>(method: 'POST' | 'DELETE', url: string, body: unknown, status = 200): Promise<T> {
  const r = await server.app.inject({ method, url, payload: body as object });
  expect(r.statusCode, `${method} ${url}: ${r.body.slice(0, 300)}`).toBe(status);
  return r.json() as T;
}

async function upload<T>(url: string, bytes: Buffer, status = 200): Promise<T> {
  const r = await server.app.inject({ method: 'POST', url, ...multipart(bytes) });
  expect(r.statusCode, `${url}: ${r.body.slice(0, 300)}`).toBe(status);
  return r.json() as T;
}

async function expectError(method: 'GET' | 'POST' | 'DELETE', url: string, status: number, code: string, body?: unknown): Promise<void> {
  const r = await server.app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}) });
  expect(r.statusCode, `${method} ${url}: ${r.body.slice(0, 200)}`).toBe(status);
  const j = r.json() as { error: { code: string; message: string } };
  expect(j.error.code).toBe(code);
  expect(j.error.message).toBeTruthy();
  expect(r.body).not.toMatch(/\n\s+at /);
}

async function finished(job: JobInfo): Promise<JobInfo> {
  return server.context.jobs.wait(job.id);
}

beforeAll(async () => {
  const db = await indexedExamples(dir);
  mkdirSync(join(allowed, 'new photos'), { recursive: true });
  for (const [i, f] of ['coffee.png', 'rocket.jpg', 'astronaut.png'].entries()) {
    await sharp(join(EXAMPLES, 'skimage', f))
      .resize(200)
      .flop()
      .jpeg()
      .toFile(join(allowed, 'new photos', `copy ${i}.jpg`));
  }
  server = await createServer({ db, webDir: null, allowedRoots: [allowed], uploadsDir: uploads, port: 0 });
  const list = await get<ImageList>('/api/images?limit=500');
  for (const it of list.items) ids.set(it.path, it.id);
});

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('collection', () => {
  it('/api/info describes the collection and the server', async () => {
    const info = await get<Info>('/api/info');
    expect(info.images).toEqual({ images: 44, embedded: 44, failed: 0 });
    expect(info.settings).toMatchObject({ layer: 'avg_pool', resize: 'crop', dim: 2048 });
    // clients see folder names, never absolute paths of the server
    expect(info.roots).toEqual([{ id: expect.any(Number), name: 'photos' }]);
    expect(info.allowedRoots).toEqual([{ index: 0, name: 'allowed' }]);
    expect(info.db).toBe('photos.db');
    expect(JSON.stringify(info)).not.toContain(dir);
    expect(info.currentMap).toBeNull();
    expect(info.predictions).toBe(false);
    expect(info.uploads.maxBytes).toBe(20 * 1024 * 1024);
    expect(info.memory.rss).toBeGreaterThan(0);
  });

  it('/api/classes finds classes by name and counts those in the collection', async () => {
    const found = await get<{ classes: { label: string; count: number }[] }>('/api/classes?q=cat');
    expect(found.classes[0]).toMatchObject({ label: 'Egyptian_cat', count: 1 });
    const present = await get<{ classes: { count: number }[] }>('/api/classes');
    expect(present.classes.reduce((a, c) => a + c.count, 0)).toBe(44);
  });

  it('/api/images pages and filters by class, text and label', async () => {
    const page = await get<ImageList>('/api/images?offset=40&limit=10');
    expect(page.total).toBe(44);
    expect(page.items).toHaveLength(4);
    const cats = await get<ImageList>('/api/images?q=egyptian%20cat');
    expect(cats.items.map((i) => i.path)).toEqual(['skimage/chelsea.png']);
    expect(cats.items[0]!.top1?.label).toBe('Egyptian_cat');
    const byIndex = await get<ImageList>('/api/images?class=285');
    expect(byIndex.items.map((i) => i.path)).toEqual(['skimage/chelsea.png']);
    expect((await get<ImageList>('/api/images?failed=true')).total).toBe(0);
    expect((await get<ImageList>('/api/images?label=nothing')).total).toBe(0);
    await expectError('GET', '/api/images?limit=0', 400, 'E_USAGE');
    await expectError('GET', '/api/images?limit=100000', 400, 'E_USAGE');
    await expectError('GET', '/api/images?offset=-1', 400, 'E_USAGE');
    await expectError('GET', '/api/images?class=1000', 400, 'E_USAGE');
    await expectError('GET', '/api/images?limit=1&limit=2', 400, 'E_USAGE');
    await expectError('GET', '/api/images?failed=maybe', 400, 'E_USAGE');
  });

  it('/api/images/:id gives the row, its top-5 classes and its label', async () => {
    const d = await get<ImageDetail>(`/api/images/${ids.get('skimage/chelsea.png')}`);
    expect(d.top5).toHaveLength(5);
    expect(d.top5[0]).toMatchObject({ label: 'Egyptian_cat', wnid: 'n02124075', index: 285 });
    expect(d.top5[0]!.probability).toBeGreaterThan(0.5);
    expect(d).toMatchObject({
      root: 'photos',
      path: 'skimage/chelsea.png',
      format: 'png',
      width: 451,
      height: 300,
      embedded: true,
      displayable: true,
      label: null,
      prediction: null,
    });
    await expectError('GET', '/api/images/99999', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/images/1abc', 400, 'E_USAGE');
    await expectError('GET', '/api/images/-1', 400, 'E_USAGE');
  });

  it('/api/images/:id/thumbnail and /file serve the stored thumbnail and the original bytes', async () => {
    const id = ids.get('skimage/chelsea.png')!;
    const t = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail` });
    expect(t.statusCode).toBe(200);
    expect(t.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(t.rawPayload).metadata()).format).toBe('jpeg');
    const f = await server.app.inject({ method: 'GET', url: `/api/images/${id}/file` });
    expect(f.statusCode).toBe(200);
    expect(f.headers['content-type']).toBe('image/png');
    expect(f.headers['content-security-policy']).toContain('sandbox');
    expect(f.headers['x-content-type-options']).toBe('nosniff');
    expect(Buffer.compare(f.rawPayload, readFileSync(CAT))).toBe(0);
    await expectError('GET', '/api/images/99999/file', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/images/99999/thumbnail', 404, 'E_NOT_FOUND');
  });

  it('/api/images/:id/thumbnail?size= makes a sharper thumbnail from the original file, cached, never enlarged', async () => {
    const id = ids.get('skimage/chelsea.png')!;
    const r = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail?size=200` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/webp');
    expect(r.headers['x-convlens-thumbnail']).toBe('original');
    // 200 rounds up to the 256 level; the aspect ratio is kept (451×300)
    expect(await sharp(r.rawPayload).metadata()).toMatchObject({ format: 'webp', width: 256, height: 170 });
    const held = server.context.thumbnails.size;
    expect(held).toBeGreaterThan(0);
    const again = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail?size=256` });
    expect(again.rawPayload.equals(r.rawPayload)).toBe(true);
    expect(server.context.thumbnails.size).toBe(held);
    const big = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail?size=1024` });
    expect(await sharp(big.rawPayload).metadata()).toMatchObject({ width: 451, height: 300 });
    await expectError('GET', `/api/images/${id}/thumbnail?size=0`, 400, 'E_USAGE');
    await expectError('GET', `/api/images/${id}/thumbnail?size=2048`, 400, 'E_USAGE');
    await expectError('GET', `/api/images/${id}/thumbnail?size=big`, 400, 'E_USAGE');
    await expectError('GET', '/api/images/99999/thumbnail?size=256', 404, 'E_NOT_FOUND');
  });

  it('/api/search finds images by ImageNet class and file path, each match with its kind', async () => {
    const cat = await get<FindResult>('/api/search?q=egyptian%20cat');
    expect(cat.matches).toEqual([{ kind: 'class', name: 'Egyptian_cat', index: 285, count: 1, ids: [ids.get('skimage/chelsea.png')] }]);
    expect(cat.total).toBe(1);
    const byName = await get<FindResult>('/api/search?q=Chelsea');
    expect(byName.matches).toEqual([{ kind: 'path', name: 'Chelsea', count: 1, ids: [ids.get('skimage/chelsea.png')] }]);
    const folder = await get<FindResult>('/api/search?q=opencv');
    expect(folder.matches.map((m) => m.kind)).toEqual(['path']);
    expect(folder.total).toBe([...ids.keys()].filter((p) => p.startsWith('opencv/')).length);
    expect((await get<FindResult>('/api/search?q=zzzz')).matches).toEqual([]);
    await expectError('GET', '/api/search', 400, 'E_USAGE');
    await expectError('GET', '/api/search?q=a%01b', 400, 'E_USAGE');
    await expectError('GET', `/api/search?q=${'x'.repeat(101)}`, 400, 'E_USAGE');
  });
});

describe('similarity', () => {
  it('/api/similar by id: best first, itself excluded, k and thresholds honoured', async () => {
    const left = ids.get('skimage/motorcycle_left.png')!;
    const r = await get<SimilarResult>(`/api/similar?id=${left}&k=5`);
    expect(r.query).toEqual({ id: left });
    expect(r.searched).toBe('exact');
    expect(r.results).toHaveLength(5);
    expect(r.results[0]!.path).toBe('skimage/motorcycle_right.png');
    expect(r.results.map((n) => n.id)).not.toContain(left);
    const s = r.results.map((n) => n.score);
    expect(s).toEqual([...s].sort((a, b) => b - a));
    const e = await get<SimilarResult>(`/api/similar?id=${left}&k=5&metric=euclidean`);
    const d = e.results.map((n) => n.score);
    expect(d).toEqual([...d].sort((a, b) => a - b));
    const t = await get<SimilarResult>(`/api/similar?id=${left}&k=43&minSimilarity=0.3`);
    expect(t.results.every((n) => n.score >= 0.3)).toBe(true);
    const all = await get<SimilarResult>(`/api/similar?id=${left}&k=43`);
    expect(t.results.length).toBe(all.results.filter((n) => n.score >= 0.3).length);
    const md = await get<SimilarResult>(`/api/similar?id=${left}&k=43&metric=euclidean&maxDistance=${d[2]}`);
    expect(md.results.length).toBeGreaterThanOrEqual(3);
    expect(md.results.every((n) => n.score <= d[2]!)).toBe(true);
  });

  it('/api/similar refuses bad parameters with 4xx codes', async () => {
    const id = ids.get('skimage/chelsea.png')!;
    await expectError('GET', '/api/similar', 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&k=0`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&k=abc`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&k=100000`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&metric=manhattan`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&maxDistance=3`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&metric=euclidean&minSimilarity=0.5`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&minSimilarity=NaN`, 400, 'E_USAGE');
    await expectError('GET', `/api/similar?id=${id}&minSimilarity=2`, 400, 'E_USAGE');
    await expectError('GET', '/api/similar?id=99999', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/similar?id=1e3', 400, 'E_USAGE');
  });

  it('/api/similar with an uploaded image embeds it and finds its neighbours', async () => {
    const mirrored = await sharp(MOTO_L).flop().jpeg().toBuffer();
    const r = await upload<SimilarResult>('/api/similar?k=2', mirrored);
    expect(r.query).toMatchObject({ upload: { format: 'jpeg', width: 741, height: 500 } });
    expect(r.results.map((n) => n.path).sort()).toEqual(['skimage/motorcycle_left.png', 'skimage/motorcycle_right.png']);
  });

  it('/api/histogram bins the similarities of one image to all the others', async () => {
    const id = ids.get('skimage/chelsea.png')!;
    const h = await get<HistogramResult>(`/api/histogram?id=${id}&bins=10`);
    expect(h.count).toBe(43);
    expect(h.counts).toHaveLength(10);
    expect(h.edges).toHaveLength(11);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(43);
    expect(h.min).toBeLessThanOrEqual(h.mean);
    expect(h.mean).toBeLessThanOrEqual(h.max);
    expect(h.max).toBeLessThan(1);
    // the max is the best neighbour's score, and a threshold at it counts that image
    const best = await get<SimilarResult>(`/api/similar?id=${id}&k=1`);
    expect(h.max).toBe(best.results[0]!.score);
    const at = await get<HistogramResult>(`/api/histogram?id=${id}&threshold=${h.max}`);
    expect(at.matches).toBe(1);
    const passing = await get<SimilarResult>(`/api/similar?id=${id}&k=10&minSimilarity=${h.max}`);
    expect(passing.results.map((n) => n.id)).toEqual([best.results[0]!.id]);
    const e = await get<HistogramResult>(`/api/histogram?id=${id}&metric=euclidean`);
    expect(e.counts).toHaveLength(50);
    expect(e.min).toBeGreaterThan(0);
    await expectError('GET', `/api/histogram?id=${id}&bins=1`, 400, 'E_USAGE');
    await expectError('GET', '/api/histogram', 400, 'E_USAGE');
    await expectError('GET', '/api/histogram?id=99999', 404, 'E_NOT_FOUND');
  });

  it('/api/classify gives the top-5 ImageNet classes and neighbours, and stores nothing by default', async () => {
    const r = await upload<ClassifyResult>('/api/classify?k=3', readFileSync(CAT));
    expect(r.upload).toEqual({ bytes: readFileSync(CAT).length, width: 451, height: 300, format: 'png' });
    expect(r.predictions).toHaveLength(5);
    expect(r.predictions[0]).toMatchObject({ label: 'Egyptian_cat', wnid: 'n02124075' });
    expect(r.neighbours).toHaveLength(3);
    expect(r.neighbours[0]).toMatchObject({ path: 'skimage/chelsea.png', top1: 'Egyptian_cat' });
    expect(r.neighbours[0]!.score).toBeGreaterThan(0.999);
    expect(r.stored).toBeUndefined();
    expect(existsSync(uploads)).toBe(false);
    expect((await get<Info>('/api/info')).images.images).toBe(44);
    const top = await upload<ClassifyResult>('/api/classify?top=2', readFileSync(CAT));
    expect(top.predictions).toHaveLength(2);
  });

  it('/api/classify?store=true copies the upload into the uploads folder and indexes it', async () => {
    const bytes = await sharp(CAT).resize(300).flop().webp().toBuffer();
    const r = await upload<ClassifyResult>('/api/classify?store=true', bytes);
    expect(r.stored!.name).toMatch(/^[0-9a-f]{24}\.webp$/);
    expect(readFileSync(join(uploads, r.stored!.name)).equals(bytes)).toBe(true);
    const job = await finished(r.stored!.job);
    expect(job.state).toBe('done');
    expect((await get<Info>('/api/info')).images).toEqual({ images: 45, embedded: 45, failed: 0 });
    const added = (await get<ImageList>('/api/images?limit=500')).items.find((i) => i.root === 'uploads')!;
    const f = await server.app.inject({ method: 'GET', url: `/api/images/${added.id}/file` });
    expect(f.rawPayload.equals(bytes)).toBe(true);
  });
});

describe('jobs', () => {
  it('indexes a folder under an allowed root, with progress, and the collection grows', async () => {
    const job = await send<JobInfo>('POST', '/api/jobs', { kind: 'index', folder: 'new photos' }, 202);
    expect(job).toMatchObject({ kind: 'index', params: { folder: 'allowed/new photos' } });
    const seen: string[] = [];
    server.context.jobs.subscribe(job.id, (j) => seen.push(j.state));
    const end = await finished(job);
    expect(end.state).toBe('done');
    expect(end.result).toMatchObject({ indexed: 3, failedCount: 0 });
    expect(end.progress).toMatchObject({ stage: 'indexing', done: 3, total: 3 });
    expect((await get<Info>('/api/info')).images.embedded).toBe(48);
    expect((await get<{ jobs: JobInfo[] }>('/api/jobs')).jobs.some((j) => j.id === job.id && j.state === 'done')).toBe(true);
    expect((await get<JobInfo>(`/api/jobs/${job.id}`)).result).toMatchObject({ indexed: 3 });
    // absolute paths inside the root are fine too; a re-run finds nothing new
    const again = await finished(await send<JobInfo>('POST', '/api/jobs', { kind: 'index', folder: join(allowed, 'new photos') }, 202));
    expect(again.result).toMatchObject({ indexed: 0, unchanged: 3 });
    const after = await get<SimilarResult>(`/api/similar?id=${ids.get('skimage/coffee.png')}&k=1`);
    expect(after.results[0]!.path).toBe('copy 0.jpg');
  });

  it('refuses bad job requests', async () => {
    await expectError('POST', '/api/jobs', 400, 'E_USAGE', { kind: 'map' });
    await expectError('POST', '/api/jobs', 400, 'E_USAGE', { kind: 'index' });
    await expectError('POST', '/api/jobs', 400, 'E_USAGE', { kind: 'index', folder: 'x', root: 3 });
    await expectError('POST', '/api/jobs', 400, 'E_USAGE', { kind: 'index', folder: 'new photos', prune: 'yes' });
    await expectError('POST', '/api/jobs', 404, 'E_NOT_FOUND', { kind: 'index', folder: 'not there' });
    await expectError('POST', '/api/jobs', 400, 'E_USAGE', [1, 2]);
    await expectError('GET', '/api/jobs/424242', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/jobs/abc', 400, 'E_USAGE');
    await expectError('DELETE', '/api/jobs/424242', 404, 'E_NOT_FOUND');
  });

  it('computes maps as jobs, caches them, and serves coordinates and the thumbnail atlas', async () => {
    await expectError('GET', '/api/map?method=pca', 404, 'E_NOT_FOUND');
    const job = await send<JobInfo>('POST', '/api/map', { method: 'pca' }, 202);
    const end = await finished(job);
    expect(end.state).toBe('done');
    const m = await get<MapResult>('/api/map?method=pca');
    expect(m.count).toBe(48);
    expect(m.coords).toHaveLength(96);
    expect(m.top1).toHaveLength(48);
    expect(m.classes['285']).toBe('Egyptian_cat');
    expect((await get<MapResult>('/api/map')).key).toBe(m.key);
    expect((await get<Info>('/api/info')).currentMap).toBe(m.key);
    expect((await get<MapResult>(`/api/map?key=${m.key}`)).ids).toEqual(m.ids);
    const tsne = await finished(await send<JobInfo>('POST', '/api/map', { method: 'tsne', perplexity: 10 }, 202));
    expect(tsne.state).toBe('done');
    expect((tsne.result as { kl: number }).kl).toBeGreaterThan(0);
    const t = await get<MapResult>('/api/map?method=tsne&perplexity=10');
    expect(t.params['perplexity']).toBe(10);
    expect((await get<MapResult>('/api/map')).key).toBe(t.key);

    const atlas = await get<AtlasManifest>('/api/map/atlas');
    expect(atlas.ids.sort((a, b) => a - b)).toEqual([...m.ids].sort((a, b) => a - b));
    expect(atlas.colors).toHaveLength(48);
    expect(atlas.tile).toBe(64);
    const page = await server.app.inject({ method: 'GET', url: atlas.pages[0]!.url });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('image/webp');
    const meta = await sharp(page.rawPayload).metadata();
    expect([meta.width, meta.height]).toEqual([atlas.pages[0]!.width, atlas.pages[0]!.height]);
    expect(meta.width! * meta.height!).toBeGreaterThanOrEqual(48 * 64 * 64);
    const small = await finished(await send<JobInfo>('POST', '/api/map/atlas', { tile: 16 }, 202));
    expect(small.result).toMatchObject({ tile: 16, count: 48, pages: 1 });
    // built already: asking again gives the same job, and the job list does not grow
    const listed = (await get<{ jobs: JobInfo[] }>('/api/jobs')).jobs.length;
    expect((await send<JobInfo>('POST', '/api/map/atlas', { tile: 16 }, 202)).id).toBe(small.id);
    expect((await get<{ jobs: JobInfo[] }>('/api/jobs')).jobs).toHaveLength(listed);

    // a new map aligned to a previous one: the images both hold stay where they were (here the
    // same PCA with another seed, whose axes may come out flipped: aligned, it is the same map)
    const aligned = await finished(await send<JobInfo>('POST', '/api/map', { method: 'pca', seed: 5, alignTo: m.key }, 202));
    expect(aligned.state).toBe('done');
    const a = await get<MapResult>('/api/map?method=pca&seed=5');
    const at = new Map(m.ids.map((id, i) => [id, [m.coords[2 * i]!, m.coords[2 * i + 1]!]]));
    const moved = a.ids.map((id, i) => Math.hypot(a.coords[2 * i]! - at.get(id)![0]!, a.coords[2 * i + 1]! - at.get(id)![1]!));
    const spread = Math.max(...m.coords.map(Math.abs));
    expect(Math.max(...moved)).toBeLessThan(1e-3 * spread);
    await expectError('POST', '/api/map', 404, 'E_NOT_FOUND', { method: 'pca', seed: 9, alignTo: 'pca-0000' });
    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'pca', alignTo: '../x' });
    expect((await get<AtlasManifest>('/api/map/atlas?tile=16')).tile).toBe(16);

    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'mds' });
    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'pca', perplexity: 30 });
    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'tsne', perplexity: 1000 });
    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'umap', minDist: -1 });
    await expectError('GET', '/api/map?key=nope', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/map/atlas?tile=12', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/map/atlas?tile=1', 400, 'E_USAGE');
    await expectError('GET', '/api/map/atlas/7', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/map/atlas/x', 400, 'E_USAGE');
    await expectError('GET', `${atlas.pages[0]!.url}x`, 404, 'E_NOT_FOUND');
  });

  it('cancels running jobs (a map on this thread, an index job on its worker)', async () => {
    const job = await send<JobInfo>('POST', '/api/map', { method: 'tsne', seed: 7, perplexity: 5 }, 202);
    const cancelled = await send<JobInfo>('DELETE', `/api/jobs/${job.id}`, undefined);
    expect(cancelled.id).toBe(job.id);
    expect((await finished(job)).state).toBe('cancelled');
    mkdirSync(join(allowed, 'later'));
    await sharp(CAT)
      .resize(100)
      .jpeg()
      .toFile(join(allowed, 'later', 'x.jpg'));
    const index = await send<JobInfo>('POST', '/api/jobs', { kind: 'index', folder: 'later' }, 202);
    await send<JobInfo>('DELETE', `/api/jobs/${index.id}`, undefined);
    expect((await finished(index)).state).toBe('cancelled');
    expect((await get<Info>('/api/info')).images.embedded).toBe(48);
  });

  it('streams a job as server-sent events', async () => {
    const url = await server.listen();
    const job = await send<JobInfo>('POST', '/api/map', { method: 'pca', seed: 3 }, 202);
    const res = await fetch(`${url}api/jobs/${job.id}/events`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    const events = text
      .split('\n\n')
      .filter((e) => e.startsWith('data: '))
      .map((e) => JSON.parse(e.slice(6)) as JobInfo);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events[events.length - 1]!.state).toBe('done');
  });
});

describe('labels and training', () => {
  it('labels images, lists and counts labels, removes them', async () => {
    const a = ['skimage/coins.png', 'skimage/gravel.png'].map((p) => ids.get(p)!);
    expect((await send<{ changed: number }>('POST', '/api/labels', { ids: a, label: '  texture ' })).changed).toBe(2);
    const l = await get<LabelsResult>('/api/labels');
    expect(l.counts).toEqual([{ label: 'texture', count: 2 }]);
    expect(l.ids.sort()).toEqual([...a].sort());
    expect((await get<ImageDetail>(`/api/images/${a[0]}`)).label).toBe('texture');
    expect((await get<ImageList>('/api/images?label=texture')).total).toBe(2);
    expect((await get<ImageList>('/api/images?unlabelled=true')).total).toBe(46);
    expect((await send<{ changed: number }>('DELETE', '/api/labels', { ids: [a[0]] })).changed).toBe(1);
    expect((await get<LabelsResult>('/api/labels')).counts).toEqual([{ label: 'texture', count: 1 }]);
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: a, label: '' });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: a, label: 'x'.repeat(101) });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: a, label: 'a\u0000b' });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: a, label: 3 });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: 'all', label: 'x' });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: [], label: 'x' });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: [1.5], label: 'x' });
    await expectError('POST', '/api/labels', 400, 'E_USAGE', { ids: [99999], label: 'x' });
    await expectError('DELETE', '/api/labels', 400, 'E_USAGE', {});
    const bad = await server.app.inject({
      method: 'POST',
      url: '/api/labels',
      payload: '{"ids": [1',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('E_USAGE');
    const text = await server.app.inject({
      method: 'POST',
      url: '/api/labels',
      payload: 'ids=1',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.statusCode).toBe(415);
    await send('DELETE', '/api/labels', { ids: [a[1]] });
  });

  it('trains heads on the labels as jobs, with cross-validated metrics and predictions over the collection', async () => {
    await expectError('POST', '/api/train', 400, 'E_USAGE', { head: 'knn' });
    const outdoor = ['opencv/aero1.jpg', 'opencv/aero3.jpg', 'opencv/building.jpg', 'opencv/home.jpg'].map((p) => ids.get(p)!);
    const round = ['opencv/orange.jpg', 'opencv/apple.jpg', 'skimage/coffee.png', 'opencv/fruits.jpg'].map((p) => ids.get(p)!);
    await send('POST', '/api/labels', { ids: outdoor, label: 'outdoor' });
    await send('POST', '/api/labels', { ids: round, label: 'food' });
    await expectError('POST', '/api/train', 400, 'E_USAGE', { head: 'tree' });
    await expectError('POST', '/api/train', 400, 'E_USAGE', { head: 'knn', k: 0 });
    for (const head of ['knn', 'softmax']) {
      const job = await send<JobInfo>('POST', '/api/train', { head }, 202);
      const end = await finished(job);
      expect(end.state, JSON.stringify(end.error)).toBe('done');
      const r = end.result as TrainResult;
      expect(r.head).toBe(head);
      expect(r.classes).toEqual(['food', 'outdoor']);
      expect(r.labelled).toEqual(
        expect.arrayContaining([
          { label: 'outdoor', count: 4 },
          { label: 'food', count: 4 },
        ]),
      );
      expect(r.metrics!.folds).toBe(4);
      expect(r.metrics!.n).toBe(8);
      expect(r.metrics!.accuracy).toBeGreaterThanOrEqual(0.75);
      expect(r.predicted.reduce((a, c) => a + c.count, 0)).toBe(48);
      const p = await get<Predictions>('/api/predictions');
      expect(p.job).toBe(job.id);
      expect(p.ids).toHaveLength(48);
      const at = (id: number): string => p.classes[p.predicted[p.ids.indexOf(id)]!]!;
      expect(at(ids.get('opencv/leuvenA.jpg')!)).toBe('outdoor');
      // margins (best minus second-best probability) rank the images to label next
      expect(p.margin).toHaveLength(48);
      expect(p.margin.every((m, i) => m >= 0 && m <= p.probability[i]! + 1e-9)).toBe(true);
      // out-of-fold mistakes, most confident first, and the images of each confusion cell
      const wrong = r.metrics!.confusion.matrix.reduce((acc, row, i) => acc + row.reduce((x, c, j) => x + (i === j ? 0 : c), 0), 0);
      expect(r.mistakes).toHaveLength(wrong);
      expect(r.mistakes.every((m) => m.label !== m.predicted && [...outdoor, ...round].includes(m.id))).toBe(true);
      expect(r.mistakes.map((m) => m.probability)).toEqual(r.mistakes.map((m) => m.probability).sort((x, y) => y - x));
      expect(r.confusionIds!.map((row) => row.map((cell) => cell.length))).toEqual(r.metrics!.confusion.matrix);
      expect(r.confusionIds!.flat(2).sort()).toEqual([...outdoor, ...round].sort());
      expect((await get<ImageDetail>(`/api/images/${ids.get('opencv/leuvenA.jpg')}`)).prediction?.label).toBe('outdoor');
    }
    expect((await get<Info>('/api/info')).predictions).toBe(true);
    // one image for a label: predictions, but no cross-validated metrics
    await send('POST', '/api/labels', { ids: [ids.get('skimage/moon.png')], label: 'moon' });
    const r = (await finished(await send<JobInfo>('POST', '/api/train', { head: 'knn', k: 1 }, 202))).result as TrainResult;
    expect(r.metrics).toBeNull();
    expect(r.note).toMatch(/two images/);
    expect(r.classes).toContain('moon');
    expect(r.mistakes).toEqual([]);
    expect(r.confusionIds).toBeNull();
  });

  it('/api/search finds labels and trained predictions too, each with its kind', async () => {
    const food = await get<FindResult>('/api/search?q=FOOD');
    expect(food.matches.map((m) => [m.kind, m.name])).toEqual([
      ['label', 'food'],
      ['prediction', 'food'],
    ]);
    expect(food.matches[0]!.count).toBe(4);
    expect(food.total).toBeGreaterThanOrEqual(4);
  });

  it('answers with the stored thumbnail when the original file is gone', async () => {
    const gone = join(allowed, 'new photos', 'copy 2.jpg');
    const id = (await get<ImageList>('/api/images?limit=500')).items.find((i) => i.path === 'copy 2.jpg')!.id;
    rmSync(gone);
    const r = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail?size=512` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-convlens-thumbnail']).toBe('stored');
    const stored = await server.app.inject({ method: 'GET', url: `/api/images/${id}/thumbnail` });
    expect(r.rawPayload.equals(stored.rawPayload)).toBe(true);
  });
});

describe('map updates', () => {
  it('updates a map in place after images were added: the known ones keep their places, a new one joins its neighbours', async () => {
    const before = await get<MapResult>('/api/map');
    const ended = await finished(await send<JobInfo>('POST', '/api/jobs', { kind: 'index', folder: 'later' }, 202));
    expect(ended.result).toMatchObject({ indexed: 1 });
    const job = await send<JobInfo>('POST', '/api/map', { method: before.method, seed: 5, placeOn: before.key }, 202);
    expect((await finished(job)).state).toBe('done');
    const after = await get<MapResult>('/api/map');
    expect(after.count).toBe(before.count + 1);
    expect(after.params).toMatchObject({ placedOn: before.key, placed: 1 });
    const at = new Map(after.ids.map((id, i) => [id, [after.coords[2 * i]!, after.coords[2 * i + 1]!]]));
    before.ids.forEach((id, i) => {
      expect(at.get(id)![0]).toBeCloseTo(before.coords[2 * i]!, 4);
      expect(at.get(id)![1]).toBeCloseTo(before.coords[2 * i + 1]!, 4);
    });
    // the new image (the cat, smaller) lands beside the cat, closer to it than most images are
    const added = after.ids.find((id) => !before.ids.includes(id))!;
    const cat = at.get(ids.get('skimage/chelsea.png')!)!;
    const d = (p: number[]) => Math.hypot(p[0]! - at.get(added)![0]!, p[1]! - at.get(added)![1]!);
    const closer = before.ids.filter((id) => d(at.get(id)!) < d(cat)).length;
    expect(closer).toBeLessThan(before.count / 4);
    // the map job built the atlas too: asking for it gives that job, not a new one
    const atlasJob = await send<JobInfo>('POST', '/api/map/atlas', {}, 202);
    expect(atlasJob.id).toBe(job.id);
    await expectError('POST', '/api/map', 400, 'E_USAGE', { method: 'pca', placeOn: before.key, alignTo: before.key });
    await expectError('POST', '/api/map', 404, 'E_NOT_FOUND', { method: 'pca', placeOn: 'pca-nothing' });
  });
});

describe('routing', () => {
  it('answers unknown routes and methods with JSON 404s, and serves no web app when none is built', async () => {
    await expectError('GET', '/api/nothing', 404, 'E_NOT_FOUND');
    await expectError('POST', '/api/info', 404, 'E_NOT_FOUND');
    await expectError('GET', '/api/%', 400, 'E_USAGE');
    const root = await server.app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(200);
    expect(root.body).toMatch(/not built/);
  });
});
