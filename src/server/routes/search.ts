/** Routes that compare images: most similar, similarity histogram, classify an upload. */
import { findImages, type SimilarOptions } from '../../collection/index.js';
import { decodePredictions } from '../../imagenet/classes.js';
import { checkSearchOptions, type Metric } from '../../search/index.js';
import type { ServerContext } from '../context.js';
import { HttpError, notFound } from '../http.js';
import { API, type SimilarResult } from '../schemas.js';
import type { App } from './app-type.js';

interface SearchQuery {
  metric?: Metric;
  k?: number;
  minSimilarity?: number;
  maxDistance?: number;
}

/** The search's options, checked by the library's one rule (a threshold goes with its metric). */
function searchOptions(q: SearchQuery): SimilarOptions & { metric: Metric; k: number } {
  const metric = q.metric ?? 'cosine';
  checkSearchOptions(metric, q);
  return {
    metric,
    k: q.k ?? 10,
    ...(q.minSimilarity !== undefined ? { minSimilarity: q.minSimilarity } : {}),
    ...(q.maxDistance !== undefined ? { maxDistance: q.maxDistance } : {}),
  };
}

export function registerSearchRoutes(app: App, ctx: ServerContext): void {
  /** Neighbours of a query vector, with which index answered. */
  const byVector = async (vector: Float32Array, o: ReturnType<typeof searchOptions>, id?: number) => {
    const snap = await ctx.live.current();
    if (snap.embeddedIds.length === 0) return { searched: 'exact' as const, results: [] };
    const search = await ctx.collection.search();
    const searched = (await search.hnswIndex(o.metric)) ? ('hnsw' as const) : ('exact' as const);
    const { results } = await ctx.collection.similar({ vector, ...(id !== undefined ? { id } : {}) }, o);
    return { searched, results: ctx.neighbours(snap, results) };
  };

  app.route({
    ...API.similar,
    handler: async (req): Promise<SimilarResult> => {
      const o = searchOptions(req.query);
      const id = Number(req.query.id);
      const snap = await ctx.live.current();
      if (!snap.rows.get(id)?.embedded) throw notFound(`image ${id} is not an embedded image of the collection`);
      const { vector } = await ctx.collection.query({ id });
      return { query: { id }, metric: o.metric, k: o.k, ...(await byVector(vector, o, id)) };
    },
  });

  app.route({
    ...API.similarUpload,
    handler: async (req): Promise<SimilarResult> => {
      const o = searchOptions(req.query);
      const { bytes, info } = await ctx.readUpload(req);
      const { embedding } = await ctx.embedUpload(bytes);
      return { query: { upload: info }, metric: o.metric, k: o.k, ...(await byVector(embedding, o)) };
    },
  });

  app.route({
    ...API.find,
    handler: async (req) => {
      const snap = await ctx.live.current();
      const labels = await ctx.live.labels();
      const predictions = ctx.predictions;
      const groups = findImages(
        req.query.q,
        {
          ids: snap.ids,
          path: (id) => snap.rows.get(id)!.path,
          top1: (id) => snap.rows.get(id)!.top1,
          labels,
          ...(predictions ? { prediction: (id: number) => ctx.predictionOf(id)?.label ?? null } : {}),
        },
        { maxPerKind: req.query.max ?? 20 },
      );
      const all = new Set<number>();
      for (const g of groups) for (const id of g.ids) all.add(id);
      return { q: req.query.q, total: all.size, matches: groups.map((g) => ({ ...g, count: g.ids.length })) };
    },
  });

  app.route({
    ...API.histogram,
    handler: async (req) => {
      const { metric = 'cosine', bins = 50, threshold } = req.query;
      const id = Number(req.query.id);
      const snap = await ctx.live.current();
      if (!snap.rows.get(id)?.embedded) throw notFound(`image ${id} is not an embedded image of the collection`);
      if (snap.embeddedIds.length < 2) throw new HttpError(409, 'E_DB', 'no other images in the collection');
      const { histogram: h } = await ctx.collection.histogram({ id }, { metric, bins, ...(threshold !== undefined ? { threshold } : {}) });
      return { id, ...h };
    },
  });

  app.route({
    ...API.classify,
    handler: async (req) => {
      const o = searchOptions(req.query);
      const top = req.query.top ?? 5;
      const store = req.query.store === true;
      if (store && !ctx.options.uploadsDir) throw new HttpError(403, 'E_PERMISSION', 'this server does not store uploads');
      const { bytes, info } = await ctx.readUpload(req);
      const { probabilities, embedding } = await ctx.embedUpload(bytes);
      const found = await byVector(embedding, o);
      return {
        upload: info,
        predictions: decodePredictions(probabilities, top),
        metric: o.metric,
        searched: found.searched,
        neighbours: found.results,
        ...(store ? { stored: await ctx.storeUpload(bytes, info.format) } : {}),
      };
    },
  });
}
