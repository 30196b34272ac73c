import { describe, expect, it } from 'vitest';
import { fromRows, isConvlensError } from '../../src/core/index.js';
import { evaluateHead, KnnHead, selectRows, stratifiedSplit, trainKnn } from '../../src/heads/index.js';
import { syntheticClasses } from '../helpers/synthetic-classes.js';

describe('trainKnn', () => {
  it('votes by 1/distance and normalises the votes', () => {
    // 1-d points on a line (Euclidean): query 0 has neighbours at distances 1 (a), 2 (b), 4 (b)
    const x = fromRows([[1], [2], [-4], [10]]);
    const head = trainKnn(x, ['a', 'b', 'b', 'a'], { k: 3, metric: 'euclidean', scaling: 'none' });
    const p = head.predictProba(fromRows([[0]]));
    const wa = 1;
    const wb = 1 / 2 + 1 / 4;
    expect(p.data[0]).toBeCloseTo(wa / (wa + wb), 6);
    expect(p.data[1]).toBeCloseTo(wb / (wa + wb), 6);
    expect(head.predict(fromRows([[0]]))[0]).toEqual({ index: 0, label: 'a', probability: p.data[0] });
  });

  it('cosine ignores vector length; a training row finds itself', () => {
    const x = fromRows([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const head = trainKnn(x, ['x', 'y', 'xy'], { k: 2, metric: 'cosine' });
    const pred = head.predict(
      fromRows([
        [50, 0.1],
        [0, 3],
        [2, 2],
      ]),
    );
    expect(pred.map((p) => p.label)).toEqual(['x', 'y', 'xy']);
    expect(pred[1]!.probability).toBeGreaterThan(0.999);
  });

  it('learns Gaussian classes, choosing k and the metric by cross-validation', () => {
    const { x, labels } = syntheticClasses({ classes: 3, perClass: 50, dim: 64, separation: 8, seed: 4 });
    const s = stratifiedSplit(labels, 0.2, { seed: 1 });
    const head = trainKnn(
      selectRows(x, s.train),
      s.train.map((i) => labels[i]!),
      { metric: 'auto' },
    );
    const acc = evaluateHead(
      head,
      selectRows(x, s.val),
      s.val.map((i) => labels[i]!),
    ).accuracy;
    expect(acc).toBeGreaterThanOrEqual(0.85);
    const cv = head.state().fit['cv'] as { candidates: { metric: string; k: number }[] };
    expect(cv.candidates.length).toBeGreaterThan(10);
    expect(cv.candidates).toContainEqual(expect.objectContaining({ metric: head.metric, k: head.k }));
    // same seed, same choice
    const again = trainKnn(
      selectRows(x, s.train),
      s.train.map((i) => labels[i]!),
      { metric: 'auto' },
    );
    expect(again.toJSON()).toEqual(head.toJSON());
  });

  it('keeps groups together while choosing k', () => {
    // every row has a near twin (an "augmented copy"): without groups the twin is in training for
    // most validation rows, its 1/distance vote decides, and cross-validation looks too good
    const base = syntheticClasses({ classes: 2, perClass: 30, dim: 16, separation: 2, seed: 9 });
    const rows: number[][] = [];
    const labels: string[] = [];
    const groups: number[] = [];
    for (let i = 0; i < base.x.rows; i++) {
      const r = Array.from(base.x.data.subarray(i * 16, (i + 1) * 16));
      rows.push(
        r,
        r.map((v) => v * 1.0001),
      );
      labels.push(base.labels[i]!, base.labels[i]!);
      groups.push(i, i);
    }
    const x = fromRows(rows);
    const leaky = trainKnn(x, labels, { metric: 'euclidean' });
    const grouped = trainKnn(x, labels, { metric: 'euclidean', groups });
    const acc = (h: KnnHead) => (h.state().fit['cv'] as { accuracy: number }).accuracy;
    expect(acc(leaky)).toBeGreaterThan(acc(grouped) + 0.1);
  });

  it('defaults to cosine on square-rooted rows, with k from cross-validation', () => {
    const { x, labels } = syntheticClasses({ classes: 2, perClass: 20, dim: 8, seed: 5 });
    const head = trainKnn(x, labels);
    expect(head.metric).toBe('cosine');
    expect(head.scaling.kind).toBe('sqrt');
    const cv = head.state().fit['cv'] as { candidates: { k: number }[] };
    expect(cv.candidates.map((c) => c.k)).toEqual([1, 3, 5, 7, 9, 11, 15, 21, 31]);
    // stored rows are the scaled, normalised training rows
    const r0 = Array.from(x.data.subarray(0, 8), Math.sqrt);
    const norm = Math.hypot(...r0);
    r0.forEach((v, j) => expect(head.train.data[j]).toBeCloseTo(v / norm, 6));
  });

  it('rejects bad options', () => {
    const x = fromRows([[1], [2]]);
    for (const opts of [{ k: 0 }, { k: 1.5 }, { metric: 'manhattan' as 'cosine' }]) {
      try {
        trainKnn(x, ['a', 'b'], opts);
        throw new Error('no error');
      } catch (e) {
        expect(isConvlensError(e) && e.code).toBe('E_USAGE');
      }
    }
  });
});
