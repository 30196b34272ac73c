import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { matrix } from '../../src/core/index.js';
import { knnAccuracy, mapQuality, neighbourhoodPreservation, trustworthiness } from '../../src/projection/index.js';
import { gaussianClusters } from '../helpers/synthetic-clusters.js';

const reference = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sklearn-reference.json'), 'utf8')) as {
  metrics: { trustworthiness: Record<string, number>; neighbourhoodPreservation10: number };
};

describe('map quality measures', () => {
  // the fixture's case: 300 points of 4 clusters in 20-D, "mapped" by keeping their first two coordinates
  const { data } = gaussianClusters(300, 20, 4, 3, 1);
  const firstTwo = matrix(300, 2);
  for (let i = 0; i < 300; i++) firstTwo.data.set(data.data.subarray(i * 20, i * 20 + 2), 2 * i);

  it('trustworthiness equals sklearn.manifold.trustworthiness', () => {
    for (const [k, expected] of Object.entries(reference.metrics.trustworthiness)) {
      expect(trustworthiness(data, firstTwo, Number(k)), `k = ${k}`).toBeCloseTo(expected, 12);
    }
  });

  it('neighbourhood preservation equals the fraction of the 10 nearest neighbours kept', () => {
    expect(neighbourhoodPreservation(data, firstTwo, 10)).toBeCloseTo(reference.metrics.neighbourhoodPreservation10, 12);
  });

  it('is 1 for a map that keeps every distance, and a query sample estimates the full figure', () => {
    const line = matrix(40, 3);
    const flat = matrix(40, 2);
    for (let i = 0; i < 40; i++) {
      line.data[3 * i] = i * i;
      flat.data[2 * i] = i * i;
    }
    expect(mapQuality(line, flat, { k: 5 })).toEqual({ trustworthiness: 1, neighbourhoodPreservation: 1, queries: 40 });
    const full = mapQuality(data, firstTwo, { k: 10 });
    const sampled = mapQuality(data, firstTwo, { k: 10, sample: 150, seed: 1 });
    expect(sampled.queries).toBe(150);
    expect(Math.abs(sampled.trustworthiness - full.trustworthiness)).toBeLessThan(0.03);
    expect(() => mapQuality(data, firstTwo, { k: 150 })).toThrow(/k must be/);
  });

  it('k-NN accuracy: leave-one-out majority vote, ties to the label met nearest', () => {
    // 1-D map: a at 0, 1, 2; b at 10, 11; a lonely b at 3.5 (its neighbours are all a)
    const coords = [0, 1, 2, 10, 11, 3.5];
    const labels = ['a', 'a', 'a', 'b', 'b', 'b'];
    const m = matrix(6, 2, Float32Array.from(coords.flatMap((x) => [x, 0])));
    // k = 1: each point takes its nearest's label: only the lonely b (nearest: 2, an a) is wrong
    expect(knnAccuracy(m, labels, 1)).toBeCloseTo(5 / 6, 12);
    // k = 2 at point 10: neighbours 11 (b), 3 (a): a tie, won by b, the nearer; point 3 is wrong
    const votes = knnAccuracy(matrix(3, 2, Float32Array.from([10, 0, 11, 0, 3, 0])), ['b', 'b', 'a'], 2);
    expect(votes).toBeCloseTo(2 / 3, 12);
    expect(() => knnAccuracy(m, ['a'], 1)).toThrow(/labels/);
  });
});
