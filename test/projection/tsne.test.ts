import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { matrix, type Matrix } from '../../src/core/index.js';
import { TSNE, knnAccuracy, mapQuality } from '../../src/projection/index.js';
import { gaussianClusters } from '../helpers/synthetic-clusters.js';

interface VariantSummary {
  summary: Record<string, { mean: number; min: number; max: number }>;
}
const reference = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sklearn-reference.json'), 'utf8')) as {
  clusters: {
    recipe: { n: number; dim: number; clusters: number; seed: number; separation: number };
    variants: Record<string, VariantSummary>;
  };
};

describe('TSNE on seeded Gaussian clusters (scikit-learn figures in fixtures/sklearn-reference.json)', () => {
  const { n, dim, clusters, seed, separation } = reference.clusters.recipe;
  const { data, labels } = gaussianClusters(n, dim, clusters, seed, separation);
  let map: Matrix;
  let tsne: TSNE;

  beforeAll(() => {
    tsne = new TSNE({ seed: 42, threads: 1 });
    map = tsne.fit(data);
  });

  it('keeps neighbourhoods as well as scikit-learn (trustworthiness k = 10 within 0.01)', () => {
    const quality = mapQuality(data, map, { k: 10 });
    for (const [variant, { summary }] of Object.entries(reference.clusters.variants)) {
      expect(quality.trustworthiness, variant).toBeGreaterThanOrEqual(summary.trustworthiness!.mean - 0.01);
    }
    expect(knnAccuracy(map, labels, 5)).toBeGreaterThanOrEqual(0.99);
  });

  it('ends at a KL divergence like scikit-learn, after the full 1000 iterations', () => {
    expect(tsne.iterations).toBe(1000);
    expect(tsne.done).toBe(true);
    const sk = reference.clusters.variants.pca50!.summary.kl!.mean;
    expect(Math.abs(tsne.klDivergence - sk) / sk).toBeLessThan(0.1);
    expect(map.rows).toBe(n);
    expect(map.cols).toBe(2);
  });

  it('is deterministic for a seed, and the same on two threads', () => {
    const again = new TSNE({ seed: 42, threads: 2 }).fit(data);
    expect(Array.from(again.data)).toEqual(Array.from(map.data));
  });
});

describe('TSNE API', () => {
  const small = gaussianClusters(300, 60, 3, 11, 2);

  it('step() after initializeFit() gives what fit() gives', () => {
    const whole = new TSNE({ seed: 3, nIter: 300, explorationIter: 100 }).fit(small.data);
    const stepped = new TSNE({ seed: 3, nIter: 300, explorationIter: 100 });
    expect(stepped.initializeFit(small.data)).toBe(300);
    let steps = 0;
    while (!stepped.done) {
      expect(stepped.step()).toBe(++steps);
    }
    expect(steps).toBe(300);
    expect(Array.from(stepped.getEmbedding().data)).toEqual(Array.from(whole.data));
    expect(() => new TSNE().step()).toThrow(/initializeFit/);
  });

  it('fitAsync reports every iteration, KL every 50, and lets the event loop run', async () => {
    const seen: number[] = [];
    const kls: [number, number][] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const tsne = new TSNE({ seed: 3, nIter: 300, explorationIter: 100 });
    const result = await tsne.fitAsync(small.data, (iteration, total, kl) => {
      expect(total).toBe(300);
      seen.push(iteration);
      if (kl !== undefined) kls.push([iteration, kl]);
    });
    clearInterval(timer);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(kls.map(([i]) => i)).toEqual([50, 100, 150, 200, 250, 300]);
    expect(kls.every(([, kl]) => Number.isFinite(kl) && kl > 0)).toBe(true);
    expect(kls.at(-1)![1]).toBe(tsne.klDivergence);
    expect(tsne.stopped).toBe(false);
    expect(result.rows).toBe(300);
    expect(ticks).toBeGreaterThan(0);
  });

  it('fitAsync stops when the callback returns false or the signal aborts', async () => {
    const tsne = new TSNE({ seed: 3 });
    const partial = await tsne.fitAsync(small.data, (iteration) => iteration < 40);
    expect(tsne.stopped).toBe(true);
    expect(tsne.iterations).toBe(40);
    expect(partial.rows).toBe(300);
    const controller = new AbortController();
    controller.abort();
    const none = await tsne.fitAsync(small.data, undefined, controller.signal);
    expect(tsne.stopped).toBe(true);
    expect(none.rows).toBe(0);
  });

  it('rejects what scikit-learn rejects', () => {
    expect(() => new TSNE({ perplexity: 30 }).fit(small.data.rows > 30 ? matrix(20, 3) : small.data)).toThrow(/perplexity/);
    expect(() => new TSNE({ perplexity: -1 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => new TSNE({ threads: 3 })).toThrow(/threads/);
    const bad = matrix(50, 2);
    bad.data[7] = Infinity;
    expect(() => new TSNE({ perplexity: 5 }).fit(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
  });
});
