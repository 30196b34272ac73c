/** Routes for maps and their thumbnail atlases. */
import { createHash } from 'node:crypto';
import type { MapRequest } from '../../collection/index.js';
import { checkProjectOptions } from '../../projection/index.js';
import type { Snapshot } from '../catalogue.js';
import type { ServerContext } from '../context.js';
import { badRequest, HttpError, notFound } from '../http.js';
import { API, type MapResult } from '../schemas.js';
import type { App } from './app-type.js';

interface MapParams {
  method?: 'tsne' | 'umap' | 'pca';
  seed?: number;
  perplexity?: number;
  nNeighbors?: number;
  minDist?: number;
}

function mapRequest(p: MapParams): MapRequest {
  const method = p.method ?? 'tsne';
  checkProjectOptions({ ...p, method });
  return {
    method,
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.perplexity !== undefined ? { perplexity: p.perplexity } : {}),
    ...(p.nNeighbors !== undefined ? { nNeighbors: p.nNeighbors } : {}),
    ...(p.minDist !== undefined ? { minDist: p.minDist } : {}),
  };
}

const round = (v: number): number => Number(v.toPrecision(6));

export function registerMapRoutes(app: App, ctx: ServerContext): void {
  const mapAnswer = async (snap: Snapshot, key: string, points = true): Promise<MapResult | null> => {
    const p = await ctx.storedMap(key);
    if (!p) return null;
    const { top1, classes } = ctx.mapClassesOf(snap, key, p);
    const head = {
      key,
      method: p.method,
      params: p.params,
      kl: typeof p.info['kl'] === 'number' ? p.info['kl'] : null,
      seconds: typeof p.info['seconds'] === 'number' ? p.info['seconds'] : 0,
      count: p.ids.length,
    };
    if (!points) return { ...head, ids: [], coords: [], top1: [], classes };
    return {
      ...head,
      ids: Array.from(p.ids),
      coords: Array.from(p.coords, round),
      top1: Array.from(top1),
      classes,
    };
  };

  app.route({
    ...API.map,
    handler: async (req) => {
      const { key, points, ...params } = req.query;
      const snap = await ctx.live.current();
      if (key !== undefined) {
        const m = await mapAnswer(snap, key, points);
        if (!m) throw notFound('no map with this key');
        return m;
      }
      if (params.method !== undefined) {
        const m = await mapAnswer(snap, await ctx.collection.mapKey(mapRequest(params)), points);
        if (!m) throw notFound('no such map of the current collection yet (POST /api/map to compute it)');
        return m;
      }
      const current = await ctx.currentMapKey(snap);
      if (current) return (await mapAnswer(snap, current, points))!;
      throw notFound('no map of the current collection yet (POST /api/map to compute it)');
    },
  });

  app.route({
    ...API.mapPoints,
    handler: async (req, reply) => {
      const p = await ctx.storedMap(req.query.key);
      if (!p) throw notFound('no map with this key');
      const snap = await ctx.live.current();
      // the same map (a recomputed one is saved again) with the same classes: the browser's copy
      const etag = `"${p.createdAt}-${createHash('sha1').update(snap.version).digest('hex').slice(0, 16)}"`;
      reply.header('etag', etag).header('cache-control', 'private, no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      const { top1: classes } = ctx.mapClassesOf(snap, req.query.key, p);
      const n = p.ids.length;
      // 8-byte header, then ids and coords (4-byte aligned), then the int16 classes
      const out = Buffer.alloc(8 + 12 * n + 2 * n);
      out.writeUInt32LE(n, 0);
      Buffer.from(p.ids.buffer, p.ids.byteOffset, 4 * n).copy(out, 8);
      Buffer.from(p.coords.buffer, p.coords.byteOffset, 8 * n).copy(out, 8 + 4 * n);
      Buffer.from(classes.buffer, classes.byteOffset, 2 * n).copy(out, 8 + 12 * n);
      return reply.type('application/octet-stream').send(out);
    },
  });

  app.route({
    ...API.mapCell,
    handler: async (req, reply) => {
      const { key, z, x, y } = req.query;
      if (x >= 2 ** z || y >= 2 ** z) throw badRequest(`cell ${x}, ${y} is outside level ${z} (0..${2 ** z - 1})`);
      const data = await ctx.cellAtlas(key, z, x, y);
      if (!data) throw notFound('no map with this key');
      // the thumbnails of this map's cell (a recomputed map is a new version)
      const etag = `"${data.version}-${z}-${x}-${y}"`;
      reply.header('etag', etag).header('cache-control', 'private, no-cache');
      if (req.headers['if-none-match'] === etag) return reply.code(304).send();
      return reply.type('application/octet-stream').send(data.data);
    },
  });

  app.route({
    ...API.computeMap,
    handler: async (req, reply) => {
      const { tile, alignTo, placeOn, ...params } = req.body;
      const request = mapRequest(params);
      const snap = await ctx.live.current();
      if (snap.embeddedIds.length === 0)
        throw new HttpError(409, 'E_DB', 'the collection has no embedded images yet: index a folder first');
      if (alignTo !== undefined && placeOn !== undefined) throw badRequest('give alignTo or placeOn, not both');
      const key = await ctx.collection.mapKey(request);
      const previousKey = alignTo ?? placeOn;
      const stored = previousKey !== undefined ? await ctx.store.projection(previousKey) : null;
      if (previousKey !== undefined && !stored) throw notFound(`no map with the key ${previousKey}`);
      const previous = stored && previousKey !== undefined ? { ...stored, key: previousKey } : null;
      const job = ctx.jobs.submit(
        'map',
        { ...request, ...(tile !== undefined ? { tile } : {}) },
        async (jc) => {
          jc.progress({ stage: placeOn !== undefined ? 'placing new images' : request.method, done: 0, total: 1 });
          const m = await ctx.collection.map(request, {
            signal: jc.signal,
            ...(previous ? (placeOn !== undefined ? { placeOnto: previous } : { alignTo: previous }) : {}),
            onProgress: (done, total, kl) => jc.progress({ stage: request.method, done, total, ...(kl !== undefined ? { kl } : {}) }),
          });
          await ctx.ensureAtlas(await ctx.live.current(), tile, jc);
          return { key: m.key, method: m.method, cached: m.cached, seconds: m.seconds, kl: m.kl ?? null, count: m.ids.length };
        },
        `${key}|${tile ?? ''}|${previousKey ?? ''}`,
      );
      return reply.code(202).send(job);
    },
  });

  app.route({
    ...API.atlas,
    handler: async (req) => {
      const snap = await ctx.live.current();
      const atlas = ctx.atlas(snap, req.query.tile);
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
    },
  });

  app.route({
    ...API.atlasPage,
    handler: async (req, reply) => {
      const snap = await ctx.live.current();
      const atlas = ctx.atlas(snap, req.query.tile);
      const v = req.query.v;
      if (!atlas || (v !== undefined && v !== snap.version))
        throw notFound('this atlas is gone (the collection changed): fetch /api/map/atlas again');
      const page = atlas.pages[req.params.page];
      if (!page) throw notFound('no such atlas page');
      return reply
        .type(page.mime)
        .header('cache-control', v !== undefined ? 'private, max-age=86400, immutable' : 'no-cache')
        .send(page.data);
    },
  });

  app.route({
    ...API.buildAtlas,
    handler: async (req, reply) => {
      const tile = req.body?.tile;
      const snap = await ctx.live.current();
      const dedupe = `${snap.version}|${tile ?? ''}`;
      // built already: the job that built it (a map job, or an atlas job) answers again, so a page
      // load adds no job to the list
      if (ctx.atlas(snap, tile)) {
        const by = ctx.atlasJob(snap, tile) ?? ctx.jobs.latest('atlas', dedupe);
        if (by && by.state !== 'failed' && by.state !== 'cancelled') return reply.code(202).send(by);
      }
      const job = ctx.jobs.submit(
        'atlas',
        { ...(tile !== undefined ? { tile } : {}) },
        async (jc) => {
          const a = await ctx.ensureAtlas(snap, tile, jc);
          return { tile: a.tile, pages: a.pages.length, count: a.ids.length };
        },
        dedupe,
      );
      return reply.code(202).send(job);
    },
  });
}
