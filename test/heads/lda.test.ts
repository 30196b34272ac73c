import { describe, expect, it } from 'vitest';
import { encodeLabels, evaluateHead, selectRows, stratifiedSplit, trainSoftmax } from '../../src/heads/index.js';
import { syntheticClasses } from '../helpers/synthetic-classes.js';
import { ldaWeights } from '../../src/heads/lda.js';
import { linearProblem } from '../../src/heads/reduce.js';

/** Solve A·x = b (A small, dense, SPD) by Gaussian elimination: the reference for CG. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]!]);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const f = m[j]![i]! / m[i]![i]!;
      for (let k = i; k <= n; k++) m[j]![k]! -= f * m[i]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i]![n]!;
    for (let k = i + 1; k < n; k++) s -= m[i]![k]! * x[k]!;
    x[i] = s / m[i]![i]!;
  }
  return x;
}

describe('shrinkage LDA prior', () => {
  const { x, labels } = syntheticClasses({ classes: 3, perClass: 12, dim: 10, separation: 4, seed: 8 });
  const { y } = encodeLabels(labels);
  const n = x.rows;
  const d = x.cols;

  it('solves (1 − α)·S_w + α·v·I against the class means', () => {
    const alpha = 0.3;
    const lda = ldaWeights({ x: x.data, n, d, y }, 3, alpha, d);
    const means = [0, 1, 2].map((k) => {
      const rows = [...Array(n).keys()].filter((i) => y[i] === k);
      return Array.from({ length: d }, (_, j) => rows.reduce((a, i) => a + x.data[i * d + j]!, 0) / rows.length);
    });
    const sw = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < n; i++) {
      const r = Array.from({ length: d }, (_, j) => x.data[i * d + j]! - means[y[i]!]![j]!);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) sw[a]![b]! += (r[a]! * r[b]!) / n;
    }
    const v = sw.reduce((a, r, i) => a + r[i]!, 0) / d;
    const sigma = sw.map((r, a) => r.map((s, b) => (1 - alpha) * s + (a === b ? alpha * v : 0)));
    for (let k = 0; k < 3; k++) {
      const w = solve(sigma, means[k]!);
      for (let j = 0; j < d; j++) expect(lda.w[k * d + j]).toBeCloseTo(w[j]!, 6);
      const dot = means[k]!.reduce((a, m, j) => a + m * w[j]!, 0);
      expect(lda.b[k]).toBeCloseTo(-0.5 * dot + Math.log(1 / 3), 6);
    }
  });

  it('gives the same decisions in the reduced space as in full', () => {
    // 36 rows in 60-d: the reduced problem holds the same LDA, expressed in its own coordinates
    const wide = syntheticClasses({ classes: 3, perClass: 12, dim: 60, separation: 4, seed: 9 });
    const lp = linearProblem(wide.x.data, 36, 60, y);
    const full = ldaWeights({ x: wide.x.data, n: 36, d: 60, y }, 3, 0.5, 60);
    const red = ldaWeights(lp.full, 3, 0.5, 60);
    const lifted = lp.lift(red.w, 3);
    for (let i = 0; i < full.w.length; i++) expect(lifted[i]).toBeCloseTo(full.w[i]!, 5);
    for (let k = 0; k < 3; k++) expect(red.b[k]).toBeCloseTo(full.b[k]!, 5);
  });

  it('softmax with the LDA prior learns, records its calibration, and is no worse than weight decay', () => {
    const data = syntheticClasses({ classes: 4, perClass: 40, dim: 256, separation: 5, seed: 13 });
    const s = stratifiedSplit(data.labels, 0.25, { seed: 1 });
    const xTr = selectRows(data.x, s.train);
    const yTr = s.train.map((i) => data.labels[i]!);
    const xVa = selectRows(data.x, s.val);
    const yVa = s.val.map((i) => data.labels[i]!);
    const withPrior = trainSoftmax(xTr, yTr);
    const config = withPrior.state().config;
    expect(config['prior']).toBe('lda');
    expect(config['priorTemperature']).toBeGreaterThan(0);
    const accPrior = evaluateHead(withPrior, xVa, yVa).accuracy;
    const accZero = evaluateHead(trainSoftmax(xTr, yTr, { prior: 'zero' }), xVa, yVa).accuracy;
    expect(accPrior).toBeGreaterThanOrEqual(0.85);
    expect(accPrior).toBeGreaterThanOrEqual(accZero - 0.05);
  });
});
