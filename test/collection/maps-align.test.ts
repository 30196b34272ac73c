/**
 * Keeping a map's places when the collection changes: alignMap (a recomputed map turned, flipped,
 * scaled and moved onto the previous one) and placeImages (a map updated in place).
 */
import { describe, expect, it } from 'vitest';
import { alignMap, placeImages, type NeighbourSearch } from '../../src/collection/index.js';
import { Random } from '../../src/core/random.js';

function randomMap(n: number, seed: number): { ids: number[]; coords: Float32Array } {
  const rng = new Random(seed);
  return { ids: Array.from({ length: n }, (_, i) => i + 1), coords: Float32Array.from({ length: 2 * n }, () => 10 * rng.normal()) };
}

/** The map moved by a similarity transform: angle, scale, optional flip of y, shift. */
function transformed(m: { coords: Float32Array }, angle: number, scale: number, flip: boolean, dx: number, dy: number): Float32Array {
  const out = new Float32Array(m.coords.length);
  for (let i = 0; i < m.coords.length; i += 2) {
    const x = m.coords[i]!;
    const y = flip ? -m.coords[i + 1]! : m.coords[i + 1]!;
    out[i] = scale * (Math.cos(angle) * x - Math.sin(angle) * y) + dx;
    out[i + 1] = scale * (Math.sin(angle) * x + Math.cos(angle) * y) + dy;
  }
  return out;
}

describe('alignMap', () => {
  it.each([
    [0.7, 2.5, false],
    [-2.1, 0.3, true],
    [Math.PI, 1, true],
  ])('undoes a rotation of %f, a scale of %f (flipped: %s) and a shift', (angle, scale, flip) => {
    const before = randomMap(40, 1);
    const next = { ids: before.ids, coords: transformed(before, angle, scale, flip, 100, -7) };
    const error = alignMap(next, before);
    expect(error).toBeLessThan(1e-5);
    for (let i = 0; i < before.coords.length; i++) expect(next.coords[i]).toBeCloseTo(before.coords[i]!, 3);
  });

  it('keeps shared images in place when images were added, and moves the new ones with them', () => {
    const before = randomMap(30, 2);
    // the new map: the same 30 images (in another order), slightly moved, plus 5 new ones, all turned and scaled
    const order = Array.from({ length: 30 }, (_, i) => (i * 7) % 30);
    const rng = new Random(3);
    const ids = [...order.map((i) => before.ids[i]!), 101, 102, 103, 104, 105];
    const base = new Float32Array(2 * ids.length);
    order.forEach((i, k) => {
      base[2 * k] = before.coords[2 * i]! + 0.1 * rng.normal();
      base[2 * k + 1] = before.coords[2 * i + 1]! + 0.1 * rng.normal();
    });
    for (let k = 30; k < 35; k++) [base[2 * k], base[2 * k + 1]] = [k, -k];
    const next = { ids, coords: transformed({ coords: base }, 1.2, 3, true, 5, 5) };
    const error = alignMap(next, before)!;
    expect(error).toBeGreaterThan(0);
    expect(error).toBeLessThan(0.02);
    order.forEach((i, k) =>
      expect(Math.hypot(next.coords[2 * k]! - before.coords[2 * i]!, next.coords[2 * k + 1]! - before.coords[2 * i + 1]!)).toBeLessThan(
        0.5,
      ),
    );
    // a new image lands where its place in the untransformed map says
    expect(next.coords[2 * 30]).toBeCloseTo(30, 0);
    expect(next.coords[2 * 30 + 1]).toBeCloseTo(-30, 0);
  });

  it('moves nothing with fewer than three shared images', () => {
    const before = randomMap(10, 4);
    const next = { ids: [1, 2, 50, 51], coords: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) };
    expect(alignMap(next, before)).toBeNull();
    expect(Array.from(next.coords)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('placeImages', () => {
  const previous = { ids: [1, 2, 3, 4], coords: Float32Array.from([0, 0, 10, 0, 0, 10, 10, 10]) };
  /** a fake search: image 5 is most like 2, then 4 (and never an excluded image) */
  const search: NeighbourSearch = async (_v, k, exclude) =>
    [
      { id: 5, score: 1 },
      { id: 2, score: 0.9 },
      { id: 4, score: 0.9 },
      { id: 1, score: 0.1 },
    ]
      .filter((n) => !exclude.has(n.id))
      .slice(0, k);

  it('keeps the known images where they were and puts a new one beside its neighbours', async () => {
    // image 3 left the collection; 5 is new
    const r = (await placeImages([1, 2, 4, 5], () => new Float32Array(2), previous, search, { k: 2 }))!;
    expect(r.placed).toBe(1);
    expect(Array.from(r.coords.subarray(0, 6))).toEqual([0, 0, 10, 0, 10, 10]);
    const [x, y] = [r.coords[6]!, r.coords[7]!];
    // between 2 (10, 0) and 4 (10, 10), nudged by half the typical spacing (10) at most
    expect(Math.hypot(x - 10, y - 5)).toBeLessThanOrEqual(5 + 1e-4);
  });

  it('declines when too few images are shared or too many are new', async () => {
    expect(await placeImages([1, 2, 7, 8], () => new Float32Array(2), previous, search)).toBeNull();
    expect(await placeImages([1, 2, 3, 4, 5, 6, 7, 8, 9], () => new Float32Array(2), previous, search)).toBeNull();
  });
});
