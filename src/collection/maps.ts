/**
 * 2-D maps of a collection (t-SNE, UMAP, PCA), cached in its store per method, parameters and
 * embeddings: the web app and later plots reuse a map instead of recomputing it, and a changed
 * collection gets a new one.
 */
import { createHash } from 'node:crypto';
import { matrix, type Matrix } from '../core/matrix.js';
import type { ProjectionMethod, ProjectOptions, ProjectProgress } from '../projection/index.js';
import type { CollectionStore } from '../store/index.js';

export type MapRequest = Omit<ProjectOptions, 'signal'>;

export interface CollectionMap {
  key: string;
  method: ProjectionMethod;
  /** parameters after defaults, as the projection reports them */
  params: Record<string, unknown>;
  /** image id of each row of coords */
  ids: Int32Array;
  /** N×2 */
  coords: Matrix;
  kl?: number;
  seconds: number;
  /** true when read from the cache */
  cached: boolean;
}

/** Cache key: the request (sorted, defaults explicit) and the embeddings version it was made from. */
export function mapKey(embeddingsVersion: string, request: MapRequest): string {
  const req = { seed: 42, ...request } as Record<string, unknown>;
  const canon = Object.keys(req)
    .sort()
    .filter((k) => req[k] !== undefined)
    .map((k) => `${k}=${String(req[k])}`)
    .join('&');
  const digest = createHash('sha256').update(`${canon}|${embeddingsVersion}`).digest('hex').slice(0, 20);
  return `${request.method}-${digest}`;
}

/** A cached map, if there is one for this key. */
export async function cachedMap(store: CollectionStore, key: string): Promise<CollectionMap | null> {
  const hit = await store.projection(key);
  if (!hit) return null;
  return {
    key,
    method: hit.method as ProjectionMethod,
    params: hit.params,
    ids: hit.ids,
    coords: matrix(hit.ids.length, 2, hit.coords),
    ...(typeof hit.info['kl'] === 'number' ? { kl: hit.info['kl'] } : {}),
    seconds: typeof hit.info['seconds'] === 'number' ? hit.info['seconds'] : 0,
    cached: true,
  };
}

/** The map of a collection: from the cache, or computed by `compute` (a worker) and cached. */
export async function collectionMap(
  store: CollectionStore,
  request: MapRequest,
  compute: (
    embeddings: { ids: Int32Array; matrix: Matrix },
    request: MapRequest,
    progress?: ProjectProgress,
  ) => Promise<{ coords: Matrix; method: ProjectionMethod; params: Record<string, unknown>; kl?: number; seconds: number }>,
  options: { onProgress?: ProjectProgress; recompute?: boolean; embeddings?: { ids: Int32Array; matrix: Matrix } } = {},
): Promise<CollectionMap> {
  const key = mapKey(await store.embeddingsVersion(), request);
  const hit = options.recompute ? null : await cachedMap(store, key);
  if (hit) return hit;
  const embeddings = options.embeddings ?? (await store.embeddings());
  const result = await compute(embeddings, { seed: 42, ...request }, options.onProgress);
  await store.saveProjection(key, {
    method: result.method,
    params: result.params,
    ids: embeddings.ids,
    coords: result.coords.data,
    info: { seconds: result.seconds, ...(result.kl !== undefined ? { kl: result.kl } : {}) },
  });
  return {
    key,
    method: result.method,
    params: result.params,
    ids: embeddings.ids,
    coords: result.coords,
    ...(result.kl !== undefined ? { kl: result.kl } : {}),
    seconds: result.seconds,
    cached: false,
  };
}
