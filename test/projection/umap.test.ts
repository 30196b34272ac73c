import { describe, expect, it } from 'vitest';
import { UMAP, knnAccuracy } from '../../src/projection/index.js';
import { gaussianClusters } from '../helpers/synthetic-clusters.js';

describe('UMAP (umap-js)', () => {
  const { data, labels } = gaussianClusters(300, 80, 4, 5, 1.5);

  it('separates seeded clusters and is deterministic for a seed', () => {
    const a = new UMAP({ seed: 7, nEpochs: 200 }).fit(data);
    const b = new UMAP({ seed: 7, nEpochs: 200 }).fit(data);
    expect(a.rows).toBe(300);
    expect(a.cols).toBe(2);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(a.data.every(Number.isFinite)).toBe(true);
    expect(knnAccuracy(a, labels, 5)).toBeGreaterThanOrEqual(0.97);
    const other = new UMAP({ seed: 8, nEpochs: 20 }).fit(data);
    expect(Array.from(other.data)).not.toEqual(Array.from(a.data));
  });

  it('fitAsync reports epochs and can be stopped', async () => {
    const seen: number[] = [];
    const umap = new UMAP({ seed: 7, nEpochs: 50 });
    await umap.fitAsync(data, (epoch, total) => {
      expect(total).toBe(50);
      seen.push(epoch);
    });
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(umap.stopped).toBe(false);
    const stopped = new UMAP({ seed: 7, nEpochs: 50 });
    await stopped.fitAsync(data, (epoch) => epoch < 10);
    expect(stopped.stopped).toBe(true);
    expect(() => new UMAP({ nNeighbors: 1 })).toThrow(/nNeighbors/);
  });
});
