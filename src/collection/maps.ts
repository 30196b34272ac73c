/**
 * 2-D maps of a collection (t-SNE, UMAP, PCA), cached in its database per method, parameters and
 * embeddings: the web app and later plots reuse a map instead of recomputing it, and a changed
 * collection gets a new one.
 */
import { createHash } from 'node:crypto';
import { matrix, type Matrix } from '../core/matrix.js';
import { project, type ProjectionMethod, type ProjectOptions, type ProjectProgress } from '../projection/index.js';
import type { Store } from './store.js';

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

/** Cache key: the request (sorted, defaults explicit) and the embeddings it was made from. */
export function mapKey(store: Store, request: MapRequest): string {
  const req = { seed: 42, ...request } as Record<string, unknown>;
  const canon = Object.keys(req)
    .sort()
    .filter((k) => req[k] !== undefined)
    .map((k) => `${k}=${String(req[k])}`)
    .join('&');
  const digest = createHash('sha256').update(`${canon}|${store.embeddingsVersion()}`).digest('hex').slice(0, 20);
  return `${request.method}-${digest}`;
}

export async function collectionMap(
  store: Store,
  request: MapRequest,
  options: { onProgress?: ProjectProgress; signal?: AbortSignal; recompute?: boolean } = {},
): Promise<CollectionMap> {
  const key = mapKey(store, request);
  const hit = options.recompute ? null : store.projection(key);
  if (hit) {
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
  const { ids, matrix: embeddings } = store.embeddings();
  const result = await project(
    embeddings,
    { seed: 42, ...request, ...(options.signal ? { signal: options.signal } : {}) },
    options.onProgress,
  );
  store.saveProjection(key, {
    method: result.method,
    params: result.params,
    ids,
    coords: result.coords.data,
    info: { seconds: result.seconds, ...(result.kl !== undefined ? { kl: result.kl } : {}) },
  });
  return {
    key,
    method: result.method,
    params: result.params,
    ids,
    coords: result.coords,
    ...(result.kl !== undefined ? { kl: result.kl } : {}),
    seconds: result.seconds,
    cached: false,
  };
}
