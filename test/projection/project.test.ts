import { describe, expect, it } from 'vitest';
import { matrix } from '../../src/core/index.js';
import { knnAccuracy, pca, project } from '../../src/projection/index.js';
import { gaussianClusters } from '../helpers/synthetic-clusters.js';

describe('project', () => {
  const { data, labels } = gaussianClusters(300, 64, 3, 21, 2);

  it('pca: the first two principal coordinates, with normalised params', async () => {
    const r = await project(data, { method: 'pca', seed: 5 });
    expect(r.method).toBe('pca');
    expect(r.coords.cols).toBe(2);
    expect(Array.from(r.coords.data)).toEqual(
      Array.from(pca(data, { nComponents: 2, powerIterations: 3, oversamples: 10, seed: 5 }).coords.data),
    );
    expect(Object.keys(r.params)).toEqual(Object.keys(r.params).sort());
    expect(r.params).toMatchObject({ method: 'pca', nComponents: 2, seed: 5 });
    expect(r.kl).toBeUndefined();
    expect(r.seconds).toBeGreaterThan(0);
  });

  it('tsne: reports progress and KL; the same options give the same params and map', async () => {
    let last = 0;
    const opts = { method: 'tsne', seed: 1, nIter: 300 } as const;
    const r = await project(data, opts, (done, total) => {
      last = done;
      expect(total).toBe(300);
    });
    expect(last).toBe(300);
    expect(r.kl).toBeGreaterThan(0);
    expect(r.params).toMatchObject({ method: 'tsne', perplexity: 30, nIter: 300, seed: 1, learningRate: 'auto', theta: 0.5 });
    expect(knnAccuracy(r.coords, labels, 5)).toBeGreaterThanOrEqual(0.99);
    const again = await project(data, { ...opts });
    expect(again.params).toEqual(r.params);
    expect(Array.from(again.coords.data)).toEqual(Array.from(r.coords.data));
  });

  it('umap: N×2 with its own params', async () => {
    const r = await project(data, { method: 'umap', seed: 1, nEpochs: 50 });
    expect(r.coords.rows).toBe(300);
    expect(r.params).toMatchObject({ method: 'umap', nNeighbors: 15, nEpochs: 50, seed: 1 });
  });

  it('rejects with an AbortError when cancelled, by the callback or by the signal', async () => {
    await expect(project(data, { method: 'tsne' }, (done) => done < 5)).rejects.toMatchObject({ name: 'AbortError' });
    const controller = new AbortController();
    const running = project(data, { method: 'umap', signal: controller.signal });
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('copes with tiny collections and rejects unknown methods', async () => {
    for (const n of [0, 1, 2, 3, 5]) {
      for (const method of ['tsne', 'umap', 'pca'] as const) {
        const r = await project(gaussianClusters(n, 4, 1, 1).data, { method });
        expect(r.coords.rows, `${method} ${n}`).toBe(n);
        expect(r.coords.data.every(Number.isFinite), `${method} ${n}`).toBe(true);
      }
    }
    const five = await project(gaussianClusters(5, 4, 1, 1).data, { method: 'tsne' });
    expect(five.params.perplexity).toBeCloseTo(4 / 3, 12);
    await expect(project(matrix(3, 2), { method: 'mds' as 'pca' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
