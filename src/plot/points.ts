/**
 * Placing 2-D points (t-SNE / UMAP / PCA output) on a canvas, and the order they are drawn in.
 */
import { ConvlensError, Random, type Matrix } from '../core/index.js';

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Checks that `points` is N×2 with finite values (a NaN would silently vanish from a plot). */
export function checkPoints(points: Matrix, what: string): void {
  if (points.cols !== 2) {
    throw new ConvlensError('E_BAD_INPUT', `${what}: points must be an N×2 matrix (got ${points.rows}×${points.cols})`);
  }
  for (let i = 0; i < points.data.length; i++) {
    if (!Number.isFinite(points.data[i]!)) {
      throw new ConvlensError('E_BAD_INPUT', `${what}: point ${i >> 1} has a non-finite coordinate`);
    }
  }
}

/**
 * Pixel positions (x, y interleaved) of the points scaled into `box`. The same scale is used on
 * both axes so distances in the map keep their meaning, and y grows upwards as in matplotlib.
 */
export function fitPoints(points: Matrix, box: Box): Float64Array {
  const n = points.rows;
  const d = points.data;
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = d[2 * i]!;
    const y = d[2 * i + 1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const spanX = maxX - minX;
  const spanY = maxY - minY;
  const span = Math.max(spanX / box.width, spanY / box.height);
  // All points equal (or one point): put them in the middle.
  const scale = span > 0 ? 1 / span : 0;
  const offX = box.x + (box.width - spanX * scale) / 2;
  const offY = box.y + (box.height + spanY * scale) / 2;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = offX + (d[2 * i]! - minX) * scale;
    out[2 * i + 1] = offY - (d[2 * i + 1]! - minY) * scale;
  }
  return out;
}

/**
 * The drawing order. 'input' draws in the given order (later on top). 'shuffled' (the default)
 * uses a fixed-seed permutation: collections often come sorted by folder, i.e. by class, and the
 * last class would otherwise cover the others wherever they overlap. Both are deterministic.
 */
export type DrawOrder = 'input' | 'shuffled';

export function drawingOrder(n: number, order: DrawOrder = 'shuffled'): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (order === 'shuffled') {
    const rng = new Random(20240607);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = idx[i]!;
      idx[i] = idx[j]!;
      idx[j] = t;
    }
  }
  return idx;
}
