/**
 * 2-D maps of a collection (t-SNE, UMAP, PCA), cached in its store per method, parameters and
 * embeddings: the web app and later plots reuse a map instead of recomputing it, and a changed
 * collection gets a new one.
 */
import { createHash } from 'node:crypto';
import { matrix, type Matrix } from '../core/matrix.js';
import type { ProjectionMethod, ProjectOptions, ProjectProgress } from '../projection/index.js';
import type { CollectionStore } from '../store/index.js';
import { embeddingBlocks, sampleIds } from './large.js';
import { placeAmong, placeImages, SubspaceNearest, typicalSpacing, type NeighbourSearch, type PlaceOptions } from './place.js';

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

/**
 * Cache key: the request (sorted, defaults explicit) and the embeddings version it was made from;
 * `variant` tells apart maps made another way from the same request (a map updated in place).
 */
export function mapKey(embeddingsVersion: string, request: MapRequest, variant?: string): string {
  const req = { seed: 42, ...request } as Record<string, unknown>;
  const canon =
    Object.keys(req)
      .sort()
      .filter((k) => req[k] !== undefined)
      .map((k) => `${k}=${String(req[k])}`)
      .join('&') + (variant !== undefined ? `|${variant}` : '');
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
  options: {
    onProgress?: ProjectProgress;
    recompute?: boolean;
    embeddings?: { ids: Int32Array; matrix: Matrix };
    /** a previous map: a newly computed one is turned, flipped, scaled and moved to match it (see alignMap) */
    alignTo?: MapCoordinates;
  } = {},
): Promise<CollectionMap> {
  const key = mapKey(await store.embeddingsVersion(), request);
  const hit = options.recompute ? null : await cachedMap(store, key);
  if (hit) return hit;
  const embeddings = options.embeddings ?? (await store.embeddings());
  const result = await compute(embeddings, { seed: 42, ...request }, options.onProgress);
  if (options.alignTo) alignMap({ ids: embeddings.ids, coords: result.coords.data }, options.alignTo);
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

/** Points of a map: image ids and their x, y (row-major pairs). */
export interface MapCoordinates {
  ids: ArrayLike<number>;
  coords: ArrayLike<number> & { [i: number]: number };
}

/**
 * Moves a new map onto a previous one of (mostly) the same images, in place: the rotation or
 * reflection, uniform scale and shift that best put the images both share where they were
 * (least squares, Procrustes). A recomputed map after an index job then keeps its orientation
 * and the known images stay near their places; its shape is unchanged. Needs 3 shared images
 * (otherwise nothing moves). Returns the mean distance between shared images' old and new places,
 * relative to the previous map's spread (0: exact), or null when nothing was aligned.
 */
export function alignMap(next: MapCoordinates, previous: MapCoordinates): number | null {
  const before = new Map<number, number>();
  for (let i = 0; i < previous.ids.length; i++) before.set(previous.ids[i]!, i);
  const pairs: [number, number][] = [];
  for (let i = 0; i < next.ids.length; i++) {
    const j = before.get(next.ids[i]!);
    if (j !== undefined) pairs.push([i, j]);
  }
  if (pairs.length < 3) return null;
  // centres of the shared points, in both maps
  let ax = 0,
    ay = 0,
    bx = 0,
    by = 0;
  for (const [i, j] of pairs) {
    ax += next.coords[2 * i]!;
    ay += next.coords[2 * i + 1]!;
    bx += previous.coords[2 * j]!;
    by += previous.coords[2 * j + 1]!;
  }
  const n = pairs.length;
  ax /= n;
  ay /= n;
  bx /= n;
  by /= n;
  // cross terms of the centred points: for a rotation (c, s) and a flip of y before it
  let sxx = 0,
    sxy = 0,
    syx = 0,
    syy = 0,
    norm = 0,
    spread = 0;
  for (const [i, j] of pairs) {
    const x = next.coords[2 * i]! - ax;
    const y = next.coords[2 * i + 1]! - ay;
    const u = previous.coords[2 * j]! - bx;
    const v = previous.coords[2 * j + 1]! - by;
    sxx += x * u;
    sxy += x * v;
    syx += y * u;
    syy += y * v;
    norm += x * x + y * y;
    spread += u * u + v * v;
  }
  if (!(norm > 0)) return null;
  // rotation only: maximise a·cos + b·sin; with y flipped first: the same with y → −y
  const rot = { a: sxx + syy, b: sxy - syx, flip: 1 };
  const ref = { a: sxx - syy, b: sxy + syx, flip: -1 };
  const best = Math.hypot(ref.a, ref.b) > Math.hypot(rot.a, rot.b) ? ref : rot;
  const len = Math.hypot(best.a, best.b);
  if (!(len > 0)) return null;
  const cos = best.a / len;
  const sin = best.b / len;
  const scale = len / norm;
  for (let i = 0; i < next.ids.length; i++) {
    const x = next.coords[2 * i]! - ax;
    const y = (next.coords[2 * i + 1]! - ay) * best.flip;
    next.coords[2 * i] = bx + scale * (cos * x - sin * y);
    next.coords[2 * i + 1] = by + scale * (sin * x + cos * y);
  }
  let err = 0;
  for (const [i, j] of pairs)
    err += Math.hypot(next.coords[2 * i]! - previous.coords[2 * j]!, next.coords[2 * i + 1]! - previous.coords[2 * j + 1]!);
  return err / n / Math.max(Math.sqrt(spread / n), 1e-12);
}

/** A previous map of the collection: what an update in place keeps. */
export interface PreviousMap extends MapCoordinates {
  key: string;
  method: string;
  params: Record<string, unknown>;
}

/**
 * The collection's map updated in place from a previous one (see place.ts): cached like any map,
 * under its own key. Null when it does not apply (another method, too few images shared, too many
 * new): compute a new layout instead.
 */
export async function placedMap(
  store: CollectionStore,
  request: MapRequest,
  previous: PreviousMap,
  neighbours: NeighbourSearch,
  options: PlaceOptions = {},
): Promise<CollectionMap | null> {
  if (previous.method !== request.method) return null;
  const key = mapKey(await store.embeddingsVersion(), request, `placed-on=${previous.key}`);
  const hit = await cachedMap(store, key);
  if (hit) return hit;
  const t0 = performance.now();
  const { ids, matrix: m } = await store.embeddings();
  const r = await placeImages(ids, (row) => m.data.subarray(row * m.cols, (row + 1) * m.cols), previous, neighbours, options);
  if (!r) return null;
  const { placedOn: _p, placed: _n, ...params } = previous.params;
  const made = { ...params, placedOn: previous.key, placed: r.placed };
  const seconds = (performance.now() - t0) / 1000;
  await store.saveProjection(key, { method: previous.method, params: made, ids, coords: r.coords, info: { seconds, placed: r.placed } });
  return {
    key,
    method: previous.method as ProjectionMethod,
    params: made,
    ids,
    coords: matrix(ids.length, 2, r.coords),
    seconds,
    cached: false,
  };
}

/** Images laid out by the projection itself when a map is made from a sample. */
export const MAP_SAMPLE = 50_000;

/**
 * The map of a collection too large to lay out at once: the layout (t-SNE, UMAP or PCA) of a
 * seeded uniform sample of `sampleSize` images, then every other image placed beside its nearest
 * sampled image (as openTSNE's and UMAP's `transform` place new points by their neighbours), block by
 * block so no more than one block of embeddings is in memory besides the sample. Cached under
 * its own key.
 */
export async function sampledMap(
  store: CollectionStore,
  request: MapRequest,
  sampleSize: number,
  compute: (
    embeddings: { ids: Int32Array; matrix: Matrix },
    request: MapRequest,
    progress?: ProjectProgress,
  ) => Promise<{ coords: Matrix; method: ProjectionMethod; params: Record<string, unknown>; kl?: number; seconds: number }>,
  options: { onProgress?: ProjectProgress; recompute?: boolean; signal?: AbortSignal } = {},
): Promise<CollectionMap> {
  const key = mapKey(await store.embeddingsVersion(), request, `sample=${sampleSize}`);
  const hit = options.recompute ? null : await cachedMap(store, key);
  if (hit) return hit;
  const t0 = performance.now();
  const all = await store.embeddedIds();
  const sample = await store.embeddingsOf(sampleIds(all, sampleSize, 42));
  // the layout is the first half of the progress, the placing the second
  const half = (done: number, total: number, kl?: number): void | boolean => options.onProgress?.(done, 2 * total, kl);
  const layout = await compute(sample, { seed: 42, ...request }, half);
  const rowInSample = new Map<number, number>();
  sample.ids.forEach((id, row) => rowInSample.set(id, row));
  const spacing = typicalSpacing(layout.coords.data, sample.ids, rowInSample);
  const near = await SubspaceNearest.of(sample.matrix);
  const ids = new Int32Array(all.length);
  const coords = new Float32Array(2 * all.length);
  let n = 0;
  for await (const block of embeddingBlocks(store)) {
    if (options.signal?.aborted) throw new DOMException('map cancelled', 'AbortError');
    // beside its nearest sampled image: on the flowers this keeps classes apart better than a mean of 3–20 (README)
    const nearest = await near.nearest(block.matrix);
    for (let i = 0; i < block.ids.length && n < all.length; i++, n++) {
      const id = block.ids[i]!;
      ids[n] = id;
      const own = rowInSample.get(id);
      if (own !== undefined) {
        coords[2 * n] = layout.coords.data[2 * own]!;
        coords[2 * n + 1] = layout.coords.data[2 * own + 1]!;
      } else {
        const row = nearest.rows[i]!;
        const found = row >= 0 ? [{ id: sample.ids[row]!, score: nearest.scores[i]! }] : [];
        placeAmong(id, found, (x) => rowInSample.get(x), layout.coords.data, spacing, coords, n);
      }
    }
    options.onProgress?.(all.length + n, 2 * all.length);
  }
  const params = { ...layout.params, sample: sample.ids.length };
  const seconds = (performance.now() - t0) / 1000;
  const kept = { ids: ids.subarray(0, n), coords: coords.subarray(0, 2 * n) };
  const info = { seconds, sample: sample.ids.length, ...(layout.kl !== undefined ? { kl: layout.kl } : {}) };
  await store.saveProjection(key, { method: layout.method, params, ids: kept.ids, coords: kept.coords, info });
  return {
    key,
    method: layout.method,
    params,
    ids: kept.ids,
    coords: matrix(n, 2, kept.coords),
    ...(layout.kl !== undefined ? { kl: layout.kl } : {}),
    seconds,
    cached: false,
  };
}
