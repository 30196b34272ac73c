/**
 * A map updated in place: after images were added, the images of the previous map keep their
 * places exactly and each new image is placed among its nearest neighbours of that map (cosine,
 * in the embedding space), so nobody loses their bearings. Images that left the collection leave
 * the map. This is not a new layout: when much has changed, a fresh one (aligned to the previous)
 * is the better answer, and `placeImages` says so by returning null.
 *
 * A true warm start (t-SNE optimised from the previous coordinates, the new images included)
 * needs the projection to accept initial coordinates; until it does, this is the place-keeping
 * update.
 */
import { matrix, type Matrix } from '../core/index.js';
import { pca, REDUCTION } from '../projection/pca.js';
import { HnswIndex, type Neighbour } from '../search/index.js';
import { dotProducts, squaredNorms } from '../search/onnx.js';
import type { MapCoordinates } from './maps.js';

export interface PlaceOptions {
  /** neighbours averaged per new image (default 5) */
  k?: number;
  /** new images at most, as a fraction of the images kept (default 1: no more new than known) */
  maxNewFraction?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

/** The nearest images to a vector among those not excluded, best first (cosine similarity). */
export type NeighbourSearch = (vector: Float32Array, k: number, exclude: ReadonlySet<number>) => Promise<Neighbour[]>;

/**
 * Coordinates for `ids` (row-major x, y pairs, in `ids` order): the previous map's for the images
 * it holds, near their neighbours for the others. Null when fewer than 3 images are shared or more
 * are new than `maxNewFraction` allows (compute a new layout instead).
 */
export async function placeImages(
  ids: ArrayLike<number>,
  vectorOf: (row: number) => Float32Array,
  previous: MapCoordinates,
  neighbours: NeighbourSearch,
  options: PlaceOptions = {},
): Promise<{ coords: Float32Array; placed: number } | null> {
  const k = options.k ?? 5;
  const at = new Map<number, number>();
  for (let i = 0; i < previous.ids.length; i++) at.set(previous.ids[i]!, i);
  const newRows: number[] = [];
  let kept = 0;
  for (let r = 0; r < ids.length; r++) {
    if (at.has(ids[r]!)) kept++;
    else newRows.push(r);
  }
  if (kept < 3 || newRows.length > kept * (options.maxNewFraction ?? 1)) return null;
  const coords = new Float32Array(2 * ids.length);
  for (let r = 0; r < ids.length; r++) {
    const j = at.get(ids[r]!);
    if (j === undefined) continue;
    coords[2 * r] = previous.coords[2 * j]!;
    coords[2 * r + 1] = previous.coords[2 * j + 1]!;
  }
  // neighbours only among the images that keep their places
  const exclude = new Set<number>();
  for (const r of newRows) exclude.add(ids[r]!);
  // (images of the previous map that left the collection are not in the search any more)
  const spacing = typicalSpacing(coords, ids, at);
  for (const [n, r] of newRows.entries()) {
    if (options.signal?.aborted) throw new DOMException('map update cancelled', 'AbortError');
    const found = await neighbours(vectorOf(r), k, exclude);
    placeAmong(ids[r]!, found, (id) => at.get(id), previous.coords, spacing, coords, r);
    options.onProgress?.(n + 1, newRows.length);
  }
  return { coords, placed: newRows.length };
}

/**
 * Put image `id` at row `r` of `out`: the mean of its neighbours' places (weighted by the squared
 * similarity), half a typical spacing aside in a direction that depends on its id only.
 */
export function placeAmong(
  id: number,
  found: Neighbour[],
  rowOf: (id: number) => number | undefined,
  places: ArrayLike<number>,
  spacing: number,
  out: Float32Array,
  r: number,
): void {
  let sx = 0,
    sy = 0,
    sw = 0;
  for (const nb of found) {
    const j = rowOf(nb.id);
    if (j === undefined) continue;
    const w = Math.max(nb.score, 0) ** 2 + 1e-6;
    sx += w * places[2 * j]!;
    sy += w * places[2 * j + 1]!;
    sw += w;
  }
  // beside its neighbours, not on top of them: a small turn that depends on the id only
  const angle = ((id * 2654435761) % 360) * (Math.PI / 180);
  out[2 * r] = (sw > 0 ? sx / sw : 0) + 0.5 * spacing * Math.cos(angle);
  out[2 * r + 1] = (sw > 0 ? sy / sw : 0) + 0.5 * spacing * Math.sin(angle);
}

/** The median distance from a kept image to its nearest kept neighbour (of up to 500 sampled). */
export function typicalSpacing(coords: Float32Array, ids: ArrayLike<number>, at: Map<number, number>): number {
  const rows: number[] = [];
  for (let r = 0; r < ids.length; r++) if (at.has(ids[r]!)) rows.push(r);
  const step = Math.max(1, Math.floor(rows.length / 500));
  const sample = rows.filter((_, i) => i % step === 0);
  const nearest = sample.map((a) => {
    let best = Infinity;
    for (const b of rows) {
      if (a === b) continue;
      const d = Math.hypot(coords[2 * a]! - coords[2 * b]!, coords[2 * a + 1]! - coords[2 * b + 1]!);
      if (d > 0 && d < best) best = d;
    }
    return best;
  });
  const finite = nearest.filter(Number.isFinite).sort((x, y) => x - y);
  return finite.length > 0 ? finite[Math.floor(finite.length / 2)]! : 0;
}

/** Dimensions a sample's images are compared in when a million others are placed among them. */
export const PLACE_DIMS = 128;

/**
 * The nearest sampled image of each of many images, found in a principal subspace of the
 * sample's unit-length vectors (Euclidean there ≈ cosine in full; 2048 → 128 values) through an
 * HNSW graph of the sample: placing a million images among 50,000 takes about two minutes here,
 * where comparing each with every sampled vector took a quarter of an hour even in 128-d. On the
 * flowers, the nearest sampled image found this way has the image's class as often as the
 * full-space one (README).
 */
export class SubspaceNearest {
  private constructor(
    private readonly components: Matrix,
    /** mean · componentsᵀ */
    private readonly shift: Float32Array,
    private readonly graph: HnswIndex | null,
  ) {}

  get dims(): number {
    return this.components.rows;
  }

  static async of(sample: Matrix, dims = PLACE_DIMS): Promise<SubspaceNearest> {
    const unit = new Float32Array(sample.data.length);
    for (let r = 0; r < sample.rows; r++) {
      const row = sample.data.subarray(r * sample.cols, (r + 1) * sample.cols);
      let ss = 0;
      for (const v of row) ss += v * v;
      const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
      for (let j = 0; j < row.length; j++) unit[r * sample.cols + j] = row[j]! * inv;
    }
    const k = Math.max(1, Math.min(dims, sample.rows - 1, sample.cols));
    const p = pca(matrix(sample.rows, sample.cols, unit), { nComponents: k, ...REDUCTION });
    const shift = await dotProducts(p.mean, 1, p.components.data, k, sample.cols, 0);
    const bare = new SubspaceNearest(p.components, shift, null);
    if (sample.rows === 0) return bare;
    // f32 in 128-d is 25 MB for 50,000 images; a breadth of 64 finds the nearest all but rarely (tests)
    const graph = HnswIndex.create(k, { metric: 'euclidean', quantization: 'f32', expansionSearch: 64 });
    graph.add(
      matrix(sample.rows, k, await bare.project(sample)),
      Int32Array.from({ length: sample.rows }, (_, i) => i),
    );
    return new SubspaceNearest(p.components, shift, graph);
  }

  /** Rows in the subspace: (x / ‖x‖ − mean) · componentsᵀ. */
  async project(m: Matrix): Promise<Float32Array> {
    const k = this.components.rows;
    const out = await dotProducts(m.data, m.rows, this.components.data, k, m.cols, 0);
    const norms = await squaredNorms(m.data, m.rows, m.cols, 0);
    for (let r = 0; r < m.rows; r++) {
      const inv = norms[r]! > 0 ? 1 / Math.sqrt(norms[r]!) : 0;
      for (let j = 0; j < k; j++) out[r * k + j] = out[r * k + j]! * inv - this.shift[j]!;
    }
    return out;
  }

  /** For each row of `qs`, the nearest sample row and a similarity for it (1 − d²/2, ≈ cosine). */
  async nearest(qs: Matrix): Promise<{ rows: Int32Array; scores: Float32Array }> {
    const rows = new Int32Array(qs.rows).fill(-1);
    const scores = new Float32Array(qs.rows);
    if (qs.rows === 0 || !this.graph) return { rows, scores };
    const found = await this.graph.searchBatch(matrix(qs.rows, this.dims, await this.project(qs)), { k: 1 });
    found.forEach((list, i) => {
      const best = list[0];
      if (!best) return;
      rows[i] = best.id;
      scores[i] = 1 - best.score ** 2 / 2;
    });
    return { rows, scores };
  }
}
