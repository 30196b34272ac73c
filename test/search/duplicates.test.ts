import { describe, expect, it } from 'vitest';
import { Random, matrix, type Matrix } from '../../src/core/index.js';
import { duplicateGroups } from '../../src/search/index.js';

function cosine(m: Matrix, a: number, b: number): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < m.cols; j++) {
    const x = m.data[a * m.cols + j]!;
    const y = m.data[b * m.cols + j]!;
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return dot / Math.sqrt(aa * bb);
}

/**
 * Random non-negative rows (pairwise cosine ≈ 0.75) with planted groups: near copies of a row,
 * and a chain a, b, c where a–b and b–c are above 0.95 but a–c is below.
 */
function planted(): { m: Matrix; expected: number[][]; chain: number[] } {
  const rng = new Random(5);
  const rows = 1500;
  const cols = 64;
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.next();
  const noisyCopy = (from: number, to: number, amount: number): void => {
    for (let j = 0; j < cols; j++) m.data[to * cols + j] = Math.max(0, m.data[from * cols + j]! + amount * rng.normal());
  };
  noisyCopy(10, 500, 0.02);
  noisyCopy(10, 900, 0.02);
  noisyCopy(10, 1499, 0.02);
  noisyCopy(300, 301, 0.02);
  // chain: 1300 is a noisier copy of 700, 1200 their midpoint
  noisyCopy(700, 1300, 0.22);
  for (let j = 0; j < cols; j++) m.data[1200 * cols + j] = (m.data[700 * cols + j]! + m.data[1300 * cols + j]!) / 2;
  return {
    m,
    expected: [
      [10, 500, 900, 1499],
      [700, 1200, 1300],
      [300, 301],
    ],
    chain: [700, 1200, 1300],
  };
}

describe('duplicateGroups', () => {
  const { m, expected, chain } = planted();

  it('the planted chain is only connected transitively', () => {
    expect(cosine(m, chain[0]!, chain[1]!)).toBeGreaterThan(0.95);
    expect(cosine(m, chain[1]!, chain[2]!)).toBeGreaterThan(0.95);
    expect(cosine(m, chain[0]!, chain[2]!)).toBeLessThan(0.95);
  });

  for (const method of ['exact', 'hnsw'] as const) {
    it(`${method}: finds the planted groups, largest first`, async () => {
      const progress: number[] = [];
      const groups = await duplicateGroups(m, { method, onProgress: (done, total) => progress.push(done / total) });
      expect(groups).toEqual(expected);
      expect(progress.at(-1)).toBe(1);
    });
  }

  it('a stricter threshold splits the chain', async () => {
    const groups = await duplicateGroups(m, { minSimilarity: 0.99, method: 'exact' });
    expect(groups).toEqual([
      [10, 500, 900, 1499],
      [300, 301],
    ]);
  });

  it('ignores zero rows and rejects a bad threshold', async () => {
    const z = matrix(4, 8);
    z.data.fill(1, 0, 8);
    z.data.fill(1, 8, 16);
    expect(await duplicateGroups(z)).toEqual([[0, 1]]);
    await expect(duplicateGroups(z, { minSimilarity: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
