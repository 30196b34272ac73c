/** Routes that compare images: most similar, similarity histogram, classify an upload. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodePredictions } from '../imagenet/classes.js';
import { computeHistogram } from '../plot/histogram.js';
import type { Metric } from '../search/index.js';
import type { ClassifyResult, HistogramResult, SimilarResult } from './api-types.js';
import type { ServerContext } from './context.js';
import { badRequest, boolParam, enumParam, floatParam, HttpError, intParam, notFound } from './http.js';

const METRICS: readonly Metric[] = ['cosine', 'euclidean'];
export const MAX_K = 1000;

interface SearchParams {
  metric: Metric;
  k: number;
  minSimilarity?: number;
  maxDistance?: number;
}

function searchParams(q: Record<string, unknown>, defaultK = 10): SearchParams {
  const metric = enumParam(q, 'metric', METRICS, 'cosine');
  const k = intParam(q, 'k', { min: 1, max: MAX_K, fallback: defaultK })!;
  const minSimilarity = floatParam(q, 'minSimilarity', { min: -1, max: 1 });
  const maxDistance = floatParam(q, 'maxDistance', { min: 0, max: 1e12 });
  if (minSimilarity !== undefined && metric !== 'cosine')
    throw badRequest('minSimilarity goes with metric=cosine (use maxDistance with euclidean)');
  if (maxDistance !== undefined && metric !== 'euclidean')
    throw badRequest('maxDistance goes with metric=euclidean (use minSimilarity with cosine)');
  return { metric, k, ...(minSimilarity !== undefined ? { minSimilarity } : {}), ...(maxDistance !== undefined ? { maxDistance } : {}) };
}

export function registerSearchRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const byVector = async (vector: Float32Array, p: SearchParams, excludeId?: number) => {
    const snap = ctx.live.current;
    if (snap.search.size === 0) return [];
    if (vector.length !== snap.search.matrix.cols)
      throw new HttpError(409, 'E_SETTINGS_MISMATCH', 'the query embedding does not match the collection');
    const found = await snap.batcher.search({ vector, ...p, ...(excludeId !== undefined ? { excludeId } : {}) });
    return ctx.neighbours(snap, found);
  };

  app.get('/api/similar', async (req): Promise<SimilarResult> => {
    const q = req.query as Record<string, unknown>;
    const id = intParam(q, 'id', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (id === undefined) throw badRequest('give id=IMAGE_ID (or POST an image)');
    const p = searchParams(q);
    const snap = ctx.live.current;
    if (!snap.search.has(id)) throw notFound(`image ${id} is not an embedded image of the collection`);
    const results = await byVector(snap.search.vectorOf(id), p, id);
    return { query: { id }, metric: p.metric, k: p.k, results };
  });

  app.post('/api/similar', async (req: FastifyRequest): Promise<SimilarResult> => {
    const p = searchParams(req.query as Record<string, unknown>);
    const { bytes, info } = await ctx.readUpload(req);
    const { embedding } = await ctx.embedUpload(bytes);
    return { query: { upload: info }, metric: p.metric, k: p.k, results: await byVector(embedding, p) };
  });

  app.get('/api/histogram', async (req): Promise<HistogramResult> => {
    const q = req.query as Record<string, unknown>;
    const id = intParam(q, 'id', { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (id === undefined) throw badRequest('give id=IMAGE_ID');
    const metric = enumParam(q, 'metric', METRICS, 'cosine');
    const bins = intParam(q, 'bins', { min: 2, max: 500, fallback: 50 })!;
    const snap = ctx.live.current;
    if (!snap.search.has(id)) throw notFound(`image ${id} is not an embedded image of the collection`);
    const { scores } = await snap.search.scores(snap.search.vectorOf(id), metric, id);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const s of scores) {
      sum += s;
      if (s < min) min = s;
      if (s > max) max = s;
    }
    const h = computeHistogram(scores, { bins });
    const n = scores.length;
    return {
      id,
      metric,
      count: n,
      mean: n ? sum / n : 0,
      min: n ? min : 0,
      max: n ? max : 0,
      edges: Array.from(h.edges),
      counts: Array.from(h.counts),
    };
  });

  app.post('/api/classify', async (req: FastifyRequest): Promise<ClassifyResult> => {
    const q = req.query as Record<string, unknown>;
    const p = searchParams(q);
    const top = intParam(q, 'top', { min: 1, max: 20, fallback: 5 })!;
    const store = boolParam(q, 'store');
    if (store && !ctx.options.uploadsDir) throw new HttpError(403, 'E_PERMISSION', 'this server does not store uploads');
    const { bytes, info } = await ctx.readUpload(req);
    const { probabilities, embedding } = await ctx.embedUpload(bytes);
    const result: ClassifyResult = {
      upload: info,
      predictions: decodePredictions(probabilities, top),
      metric: p.metric,
      neighbours: await byVector(embedding, p),
    };
    if (store) result.stored = await ctx.storeUpload(bytes, info.format);
    return result;
  });
}
