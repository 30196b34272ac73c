/**
 * A map's square cut into cells, level by level (level z: 2^z × 2^z cells), so that a browser
 * showing a million-image map fetches thumbnails only for the cells in view, one small atlas per
 * cell, never one atlas of everything.
 *
 * The square is the one the map viewer fits: centred on the points' bounding box, as wide as its
 * longer side. Points are sorted once by their Morton (Z-order) code at the finest level, so the
 * points of any cell at any level are one contiguous run of that order (two binary searches).
 */
import { mortonCode } from '../core/morton.js';

/** The finest level (1024 × 1024 cells). */
export const CELL_LEVELS = 10;
/**
 * Thumbnails in one cell's atlas at most; past this, an even spread of the cell's images (the
 * browser asks for cells about 384 px wide, where 256 thumbnails of 24 px fill the cell; the rest
 * show as dots until a closer zoom asks for smaller cells).
 */
export const CELL_MAX_IMAGES = 256;

/** Cell coordinate at `level` of a value in the map square's [-1, 1]. */
export function cellCoord(w: number, level: number): number {
  const n = 2 ** level;
  return Math.min(n - 1, Math.max(0, Math.floor(((w + 1) / 2) * n)));
}

/** The map square: x, y → [-1, 1] (the viewer's world coordinates). */
export function mapSquare(coords: ArrayLike<number>): { mx: number; my: number; half: number } {
  let minX = Infinity,
    maxX = -Infinity,
    minY = Infinity,
    maxY = -Infinity;
  for (let i = 0; i + 1 < coords.length; i += 2) {
    const x = coords[i]!,
      y = coords[i + 1]!;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  if (!(maxX >= minX)) return { mx: 0, my: 0, half: 1 };
  return { mx: (minX + maxX) / 2, my: (minY + maxY) / 2, half: Math.max(maxX - minX, maxY - minY, 1e-9) / 2 };
}

export class MapCells {
  /** point indices, by Morton code */
  private readonly order: Int32Array;
  /** the sorted codes */
  private readonly codes: Uint32Array;

  /** `coords`: x0, y0, x1, y1, … of the map's points. */
  constructor(coords: ArrayLike<number>) {
    const n = Math.floor(coords.length / 2);
    const { mx, my, half } = mapSquare(coords);
    const code = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      code[i] = mortonCode(cellCoord((coords[2 * i]! - mx) / half, CELL_LEVELS), cellCoord((coords[2 * i + 1]! - my) / half, CELL_LEVELS));
    }
    // counting sort: codes are < 4^CELL_LEVELS; equal codes keep index order
    const start = new Uint32Array(4 ** CELL_LEVELS + 1);
    for (let i = 0; i < n; i++) start[code[i]! + 1]!++;
    for (let c = 0; c < 4 ** CELL_LEVELS; c++) start[c + 1]! += start[c]!;
    this.order = new Int32Array(n);
    this.codes = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const at = start[code[i]!]!++;
      this.order[at] = i;
      this.codes[at] = code[i]!;
    }
  }

  /**
   * Indices of the points in cell (x, y) of `level`: all of them up to `max`, else `max` spread
   * evenly along the cell's Z-order (so evenly over its area); `total`: how many it holds.
   */
  cell(level: number, x: number, y: number, max = CELL_MAX_IMAGES): { indices: Int32Array; total: number } {
    const side = 2 ** level;
    if (!(level >= 0 && level <= CELL_LEVELS && x >= 0 && y >= 0 && x < side && y < side)) return { indices: new Int32Array(0), total: 0 };
    const shift = 2 * (CELL_LEVELS - level);
    const lo = mortonCode(x, y) * 2 ** shift;
    const hi = lo + 2 ** shift;
    const start = this.lowerBound(lo);
    const end = this.lowerBound(hi);
    const total = end - start;
    const take = Math.min(total, max);
    const indices = new Int32Array(take);
    for (let k = 0; k < take; k++) indices[k] = this.order[start + Math.floor((k * total) / take)]!;
    return { indices, total };
  }

  private lowerBound(v: number): number {
    let lo = 0;
    let hi = this.codes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.codes[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
