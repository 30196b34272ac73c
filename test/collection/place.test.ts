import { describe, expect, it } from 'vitest';
import { SubspaceNearest } from '../../src/collection/place.js';
import { matrix, type Matrix } from '../../src/core/index.js';
import { ExactIndex, exactScore } from '../../src/search/index.js';
import { syntheticEmbeddings } from '../helpers/synthetic-embeddings.js';

const row = (m: Matrix, i: number): Float32Array => m.data.subarray(i * m.cols, (i + 1) * m.cols);

describe('SubspaceNearest (placing a million images among a sample)', () => {
  it('finds the row ExactIndex ranks first by cosine when the subspace holds the whole sample', async () => {
    // 64-d data: 64 components span every centred sample row, so nothing is lost
    const m = await syntheticEmbeddings(700, { dims: 64, clusters: 5, seed: 3 });
    const qs = await syntheticEmbeddings(300, { dims: 64, clusters: 5, seed: 4 });
    const near = await SubspaceNearest.of(m, 128);
    expect(near.dims).toBe(64);
    const { rows, scores } = await near.nearest(qs);
    const index = new ExactIndex(m);
    let same = 0;
    for (let i = 0; i < qs.rows; i++) {
      const [best] = await index.search(row(qs, i), { k: 1 });
      if (rows[i] === best!.id) same++;
      // 1 − d²/2 of unit vectors is their cosine, up to what the subspace leaves out of the query
      expect(scores[i]).toBeLessThanOrEqual(1 + 1e-5);
    }
    expect(same / qs.rows).toBeGreaterThan(0.97);
  });

  it('in 128 of 2048 dimensions picks a row as similar as the best, or nearly', async () => {
    const m = await syntheticEmbeddings(2000, { dims: 2048, clusters: 8, seed: 5 });
    const qs = await syntheticEmbeddings(200, { dims: 2048, clusters: 8, seed: 5, start: 2000 });
    const near = await SubspaceNearest.of(m);
    expect(near.dims).toBe(128);
    const { rows } = await near.nearest(qs);
    const index = new ExactIndex(m);
    let same = 0;
    let worst = 1;
    for (let i = 0; i < qs.rows; i++) {
      const [best] = await index.search(row(qs, i), { k: 1 });
      if (rows[i] === best!.id) same++;
      worst = Math.min(worst, exactScore('cosine', row(qs, i), row(m, rows[i]!)) / best!.score);
    }
    expect(same / qs.rows).toBeGreaterThan(0.6);
    expect(worst).toBeGreaterThan(0.98);
    expect((await near.nearest(matrix(0, 2048, new Float32Array(0)))).rows).toHaveLength(0);
  });
});
