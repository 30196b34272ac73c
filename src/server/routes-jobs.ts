/** Routes for long work: jobs (index), maps and their atlases, training and its predictions. */
import type { FastifyInstance } from 'fastify';
import { collectionMap, mapKey, type MapRequest } from '../collection/maps.js';
import { imagenetClasses } from '../imagenet/classes.js';
import type { HeadType } from '../heads/index.js';
import type { AtlasManifest, JobInfo, MapResult, Predictions, TrainResult } from './api-types.js';
import type { Snapshot } from './collection.js';
import type { ServerContext } from './context.js';
import { badRequest, enumParam, floatParam, HttpError, intParam, notFound, objectBody, stringParam } from './http.js';
import { isFinished, jobSummary } from './jobs.js';
import { resolveIndexFolder } from './paths.js';
import { trainInWorker } from './train.js';

const METHODS = ['tsne', 'umap', 'pca'] as const;
const HEADS: readonly HeadType[] = ['knn', 'softmax', 'svm'];

function jobId(params: unknown): string {
  const id = (params as { id?: unknown })?.id;
  if (typeof id !== 'string' || !/^\d{1,12}$/.test(id)) throw badRequest('job ids are positive integers');
  return id;
}

/** Map parameters from a query string or a JSON body (numbers may come as strings in a query). */
function mapRequest(src: Record<string, unknown>): MapRequest {
  const q: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) q[k] = typeof v === 'number' ? String(v) : v;
  const method = enumParam(q, 'method', METHODS, 'tsne');
  const seed = intParam(q, 'seed', { min: 0, max: 2 ** 31 - 1 });
  const perplexity = floatParam(q, 'perplexity', { min: 1, max: 100 });
  const nNeighbors = intParam(q, 'nNeighbors', { min: 2, max: 200 });
  const minDist = floatParam(q, 'minDist', { min: 0, max: 1 });
  if (method !== 'tsne' && perplexity !== undefined) throw badRequest('perplexity applies to method=tsne');
  if (method !== 'umap' && (nNeighbors !== undefined || minDist !== undefined))
    throw badRequest('nNeighbors and minDist apply to method=umap');
  return {
    method,
    ...(seed !== undefined ? { seed } : {}),
    ...(perplexity !== undefined ? { perplexity } : {}),
    ...(nNeighbors !== undefined ? { nNeighbors } : {}),
    ...(minDist !== undefined ? { minDist } : {}),
  };
}

function tileParam(src: Record<string, unknown>): number | undefined {
  const v = src['tile'];
  return intParam({ tile: typeof v === 'number' ? String(v) : v }, 'tile', { min: 8, max: 256 });
}

const round = (v: number): number => Number(v.toPrecision(6));

export function registerJobRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // ---- jobs ----
  app.get('/api/jobs', async () => ({ jobs: ctx.jobs.list().map(jobSummary) }));

  app.get('/api/jobs/:id', async (req): Promise<JobInfo> => {
    const info = ctx.jobs.get(jobId(req.params));
    if (!info) throw notFound('no such job');
    return info;
  });

  app.delete('/api/jobs/:id', async (req): Promise<JobInfo> => {
    const info = ctx.jobs.cancel(jobId(req.params));
    if (!info) throw notFound('no such job');
    return jobSummary(info);
  });

  // progress as server-sent events: one `data:` line of the job's JSON per change, until it ends
  app.get('/api/jobs/:id/events', (req, reply) => {
    const id = jobId(req.params);
    const info = ctx.jobs.get(id);
    if (!info) throw notFound('no such job');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-content-type-options': 'nosniff',
    });
    let last = 0;
    const send = (i: JobInfo, force = false): void => {
      const now = Date.now();
      if (!force && !isFinished(i) && now - last < 200) return; // at most 5 updates a second
      last = now;
      res.write(`data: ${JSON.stringify(isFinished(i) ? i : jobSummary(i))}\n\n`);
      if (isFinished(i)) {
        off();
        res.end();
      }
    };
    const off = ctx.jobs.subscribe(id, (i) => send(i));
    req.raw.on('close', () => off());
    send(info, true);
  });

  app.post('/api/jobs', async (req, reply) => {
    const body = objectBody(req.body);
    if (body['kind'] !== 'index') throw badRequest('kind must be "index" (maps: POST /api/map, training: POST /api/train)');
    const prune = body['prune'] === undefined ? false : body['prune'];
    if (typeof prune !== 'boolean') throw badRequest('prune must be true or false');
    const { folder } = await resolveIndexFolder(body['folder'], body['root'], ctx.options.allowedRoots);
    return reply.code(202).send(ctx.submitIndex(folder, prune));
  });

  // ---- maps ----
  const mapAnswer = (snap: Snapshot, key: string): MapResult | null => {
    const p = ctx.store.projection(key);
    if (!p) return null;
    const classes: Record<string, string> = {};
    const top1 = Array.from(p.ids, (id) => {
      const t = snap.rows.get(id)?.top1 ?? -1;
      if (t >= 0) classes[t] = imagenetClasses()[t]!.label;
      return t;
    });
    return {
      key,
      method: p.method,
      params: p.params,
      kl: typeof p.info['kl'] === 'number' ? p.info['kl'] : null,
      seconds: typeof p.info['seconds'] === 'number' ? p.info['seconds'] : 0,
      count: p.ids.length,
      ids: Array.from(p.ids),
      coords: Array.from(p.coords, round),
      top1,
      classes,
    };
  };

  app.get('/api/map', async (req): Promise<MapResult> => {
    const q = req.query as Record<string, unknown>;
    const snap = ctx.live.current;
    const key = stringParam(q, 'key', 100);
    if (key !== undefined) {
      const m = mapAnswer(snap, key);
      if (!m) throw notFound('no map with this key');
      return m;
    }
    if (q['method'] !== undefined) {
      const m = mapAnswer(snap, mapKey(ctx.store, mapRequest(q)));
      if (!m) throw notFound('no such map of the current collection yet (POST /api/map to compute it)');
      return m;
    }
    const current = ctx.currentMapKey(snap);
    if (current) return mapAnswer(snap, current)!;
    throw notFound('no map of the current collection yet (POST /api/map to compute it)');
  });

  app.post('/api/map', async (req, reply) => {
    const body = objectBody(req.body);
    const request = mapRequest(body);
    const tile = tileParam(body);
    const snap = ctx.live.current;
    if (snap.search.size === 0) throw new HttpError(409, 'E_DB', 'the collection has no embedded images yet');
    const key = mapKey(ctx.store, request);
    const job = ctx.jobs.submit(
      'map',
      { ...request, ...(tile !== undefined ? { tile } : {}) },
      async (jc) => {
        jc.progress({ stage: request.method, done: 0, total: 1 });
        const m = await collectionMap(ctx.store, request, {
          signal: jc.signal,
          onProgress: (done, total, kl) => jc.progress({ stage: request.method, done, total, ...(kl !== undefined ? { kl } : {}) }),
        });
        await ctx.ensureAtlas(ctx.live.current, tile, jc);
        return { key: m.key, method: m.method, cached: m.cached, seconds: m.seconds, kl: m.kl ?? null, count: m.ids.length };
      },
      `${key}|${tile ?? ''}`,
    );
    return reply.code(202).send(job);
  });

  // ---- atlas ----
  app.get('/api/map/atlas', async (req): Promise<AtlasManifest> => {
    const snap = ctx.live.current;
    const tile = tileParam(req.query as Record<string, unknown>);
    const atlas = ctx.atlas(snap, tile);
    if (!atlas) throw notFound('no atlas of the current collection at this tile size yet (POST /api/map/atlas to build it)');
    const v = encodeURIComponent(snap.version);
    return {
      version: snap.version,
      tile: atlas.tile,
      columns: atlas.columns,
      perPage: atlas.perPage,
      pages: atlas.pages.map((p, i) => ({
        url: `/api/map/atlas/${i}?tile=${atlas.tile}&v=${v}`,
        width: p.width,
        height: p.height,
        count: p.count,
      })),
      ids: Array.from(atlas.ids),
      colors: Array.from(atlas.colors),
    };
  });

  app.get('/api/map/atlas/:page', async (req, reply) => {
    const pageParam = (req.params as { page?: unknown }).page;
    if (typeof pageParam !== 'string' || !/^\d{1,4}$/.test(pageParam)) throw badRequest('page must be a page number');
    const q = req.query as Record<string, unknown>;
    const snap = ctx.live.current;
    const atlas = ctx.atlas(snap, tileParam(q));
    const v = stringParam(q, 'v', 200);
    if (!atlas || (v !== undefined && v !== snap.version))
      throw notFound('this atlas is gone (the collection changed): fetch /api/map/atlas again');
    const page = atlas.pages[Number(pageParam)];
    if (!page) throw notFound('no such atlas page');
    return reply
      .type(page.mime)
      .header('cache-control', v !== undefined ? 'private, max-age=86400, immutable' : 'no-cache')
      .send(page.data);
  });

  app.post('/api/map/atlas', async (req, reply) => {
    const tile = tileParam(objectBody(req.body));
    const snap = ctx.live.current;
    const job = ctx.jobs.submit(
      'atlas',
      { ...(tile !== undefined ? { tile } : {}) },
      async (jc) => {
        const a = await ctx.ensureAtlas(snap, tile, jc);
        return { tile: a.tile, pages: a.pages.length, count: a.ids.length };
      },
      `${snap.version}|${tile ?? ''}`,
    );
    return reply.code(202).send(job);
  });

  // ---- training ----
  app.post('/api/train', async (req, reply) => {
    const body = objectBody(req.body);
    const head = (body['head'] ?? 'knn') as HeadType;
    if (!HEADS.includes(head)) throw badRequest(`head must be one of ${HEADS.join(', ')}`);
    const k = body['k'];
    if (k !== undefined && (!Number.isInteger(k) || (k as number) < 1 || (k as number) > 100))
      throw badRequest('k must be an integer in 1..100');
    const counts = ctx.store.labelCounts();
    if (counts.length < 2) throw badRequest(`label images of at least two classes first (found ${counts.length})`);
    const job = ctx.jobs.submit('train', { head, ...(k !== undefined ? { k } : {}) }, async (jc): Promise<TrainResult> => {
      const t0 = performance.now();
      jc.progress({ stage: 'starting', done: 0, total: 1 });
      const out = await trainInWorker(
        { db: ctx.store.path, head, seed: 0, ...(k !== undefined ? { k: k as number } : {}) },
        jc.progress,
        jc.signal,
      );
      const perClass = new Array<number>(out.classes.length).fill(0);
      for (const c of out.predicted) perClass[c]!++;
      const predicted = out.classes.map((label, i) => ({ label, count: perClass[i]! })).sort((a, b) => b.count - a.count);
      const predictions: Predictions = {
        job: jc.id,
        head,
        classes: out.classes,
        ids: out.ids,
        predicted: out.predicted,
        probability: out.probability,
        counts: predicted,
      };
      ctx.predictions = predictions;
      jc.progress({ stage: 'done', done: 1, total: 1 });
      return {
        head,
        classes: out.classes,
        labelled: out.labelled,
        metrics: out.metrics,
        note: out.note,
        predicted,
        seconds: (performance.now() - t0) / 1000,
      };
    });
    return reply.code(202).send(job);
  });

  app.get('/api/predictions', async (): Promise<Predictions> => {
    if (!ctx.predictions) throw notFound('nothing trained yet (POST /api/train)');
    return ctx.predictions;
  });
}
