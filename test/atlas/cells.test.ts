import { describe, expect, it } from 'vitest';
import { cellCoord, CELL_LEVELS, MapCells, mapSquare } from '../../src/atlas/index.js';
import { Random } from '../../src/core/random.js';

/** 20,000 points in a few blobs, on a rectangle wider than tall (the square is fitted to it). */
function points(n = 20_000): Float32Array {
  const rng = new Random(5);
  const c = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const blob = i % 5;
    c[2 * i] = 40 + blob * 7 + rng.normal();
    c[2 * i + 1] = -3 + (blob % 2) * 4 + 0.5 * rng.normal();
  }
  return c;
}

describe('MapCells', () => {
  const coords = points();
  const n = coords.length / 2;
  const cells = new MapCells(coords);
  const sq = mapSquare(coords);
  const world = (i: number): [number, number] => [(coords[2 * i]! - sq.mx) / sq.half, (coords[2 * i + 1]! - sq.my) / sq.half];

  it('puts every point in exactly one cell of a level, the cell its place is in', () => {
    for (const level of [0, 1, 3, 6]) {
      const side = 2 ** level;
      const seen = new Uint8Array(n);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const { indices, total } = cells.cell(level, x, y, Infinity);
          expect(indices).toHaveLength(total);
          for (const i of indices) {
            seen[i]!++;
            const [wx, wy] = world(i);
            expect([cellCoord(wx, level), cellCoord(wy, level)]).toEqual([x, y]);
          }
        }
      }
      expect(seen.every((v) => v === 1)).toBe(true);
    }
  });

  it("holds a cell's four children's points, and spreads a capped cell over its area", () => {
    const parent = cells.cell(2, 1, 1, Infinity);
    const children = [0, 1].flatMap((dy) => [0, 1].map((dx) => cells.cell(3, 2 + dx, 2 + dy, Infinity).total));
    expect(children.reduce((a, b) => a + b, 0)).toBe(parent.total);
    expect(parent.total).toBeGreaterThan(1000);
    const capped = cells.cell(2, 1, 1, 100);
    expect(capped.total).toBe(parent.total);
    expect(capped.indices).toHaveLength(100);
    expect(new Set(capped.indices).size).toBe(100);
    // even over the area: the capped sample reaches every non-empty child of the cell
    const quarter = (i: number): number => cellCoord(world(i)[0], 3) - 2 + 2 * (cellCoord(world(i)[1], 3) - 2);
    const inQuarter = [0, 0, 0, 0];
    for (const i of capped.indices) inQuarter[quarter(i)]!++;
    for (let q = 0; q < 4; q++) if (children[q]! > 0) expect(inQuarter[q]).toBeGreaterThan(0);
  });

  it('answers an empty cell for places off the map, and the finest level still holds a point', () => {
    expect(cells.cell(3, 8, 0).total).toBe(0);
    expect(cells.cell(-1, 0, 0).total).toBe(0);
    expect(cells.cell(CELL_LEVELS + 1, 0, 0).total).toBe(0);
    const [wx, wy] = world(123);
    const finest = cells.cell(CELL_LEVELS, cellCoord(wx, CELL_LEVELS), cellCoord(wy, CELL_LEVELS), Infinity);
    expect(Array.from(finest.indices)).toContain(123);
    expect(new MapCells(new Float32Array(0)).cell(0, 0, 0).total).toBe(0);
  });
});
