import { describe, expect, it } from 'vitest';
import { Random, matrix, type Matrix } from '../../src/core/index.js';
import { pca } from '../../src/projection/index.js';
import { symmetricEigen } from '../../src/projection/linalg.js';

/** n×d data with variance decaying like 1/i along random directions, an offset mean and noise. */
function decaying(n: number, d: number, rank: number, seed: number): Matrix {
  const r = new Random(seed);
  const basis = Array.from({ length: rank }, () => Float64Array.from({ length: d }, () => r.normal() / Math.sqrt(d)));
  const m = matrix(n, d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < rank; a++) {
      const z = (r.normal() * 4) / Math.sqrt(a + 1);
      const b = basis[a]!;
      for (let j = 0; j < d; j++) m.data[i * d + j]! += z * b[j]!;
    }
    for (let j = 0; j < d; j++) m.data[i * d + j]! += 0.05 * r.normal() + 3;
  }
  return m;
}

/** Eigenvalues (largest first) of the covariance (divisor n − 1), straight from the definition. */
function exactCovarianceEigen(m: Matrix) {
  const { rows: n, cols: d, data } = m;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += data[i * d + j]! / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const ca = data[i * d + a]! - mean[a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! += (ca * (data[i * d + b]! - mean[b]!)) / (n - 1);
    }
  }
  return { cov, mean, ...symmetricEigen(cov, d) };
}

describe('symmetricEigen', () => {
  it('gives orthonormal eigenvectors with A v = λ v, largest first', () => {
    const n = 25;
    const r = new Random(5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = r.normal();
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      if (k > 0) expect(values[k]!).toBeLessThanOrEqual(values[k - 1]!);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[k * n + j]!;
        expect(Math.abs(av - values[k]! * vectors[k * n + i]!)).toBeLessThan(1e-10);
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += vectors[k * n + j]! * vectors[l * n + j]!;
        expect(Math.abs(dot - (k === l ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
    // trace is preserved
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    expect(values.reduce((s, v) => s + v, 0)).toBeCloseTo(trace, 10);
  });
});

describe('pca', () => {
  const m = decaying(320, 200, 120, 1);
  const exact = exactCovarianceEigen(m);
  const result = pca(m, { nComponents: 50 });

  it('randomised: top-50 explained variances within 1% of the exact eigen-decomposition', () => {
    expect(result.method).toBe('randomized');
    for (let c = 0; c < 50; c++) {
      const rel = Math.abs(result.explainedVariance[c]! - exact.values[c]!) / exact.values[c]!;
      expect(rel, `component ${c}`).toBeLessThan(0.01);
    }
    // the first components are essentially exact, and span the same axes
    for (let c = 0; c < 10; c++) {
      expect(Math.abs(result.explainedVariance[c]! - exact.values[c]!) / exact.values[c]!).toBeLessThan(1e-6);
      let dot = 0;
      for (let j = 0; j < 200; j++) dot += result.components.data[c * 200 + j]! * exact.vectors[c * 200 + j]!;
      expect(Math.abs(dot)).toBeGreaterThan(0.9999);
    }
  });

  it('returns orthonormal components, the mean, coordinates of the centred rows and variance ratios', () => {
    const { components, coords, mean, explainedVariance, explainedVarianceRatio, totalVariance } = result;
    expect(components.rows).toBe(50);
    expect(coords.rows).toBe(320);
    expect(coords.cols).toBe(50);
    for (let a = 0; a < 50; a++) {
      for (let b = 0; b < 50; b++) {
        let dot = 0;
        for (let j = 0; j < 200; j++) dot += components.data[a * 200 + j]! * components.data[b * 200 + j]!;
        expect(Math.abs(dot - (a === b ? 1 : 0))).toBeLessThan(1e-5);
      }
    }
    for (let j = 0; j < 200; j++) expect(mean[j]!).toBeCloseTo(exact.mean[j]!, 4);
    // coords are U·Σ as sklearn's fit_transform: the projection on the components up to the part
    // of each row outside the found subspace, negligible for the leading components
    for (const [c, tolerance] of [
      [0, 1e-5],
      [5, 1e-4],
      [49, 0.05],
    ] as const) {
      let diff2 = 0;
      for (let i = 0; i < 320; i++) {
        let s = 0;
        for (let j = 0; j < 200; j++) s += (m.data[i * 200 + j]! - mean[j]!) * components.data[c * 200 + j]!;
        diff2 += (coords.data[i * 50 + c]! - s) ** 2 / 320;
      }
      expect(Math.sqrt(diff2 / explainedVariance[c]!), `component ${c}`).toBeLessThan(tolerance);
    }
    for (const c of [0, 10, 49]) {
      let v = 0;
      for (let i = 0; i < 320; i++) v += coords.data[i * 50 + c]! ** 2 / 319;
      expect(v / explainedVariance[c]!).toBeCloseTo(1, 4);
    }
    let trace = 0;
    for (let j = 0; j < 200; j++) trace += exact.cov[j * 200 + j]!;
    expect(totalVariance / trace).toBeCloseTo(1, 8);
    expect(explainedVarianceRatio[0]! * totalVariance).toBeCloseTo(explainedVariance[0]!, 8);
  });

  it('is deterministic for a seed, on one thread or two, with sklearn svd_flip signs', () => {
    const again = pca(m, { nComponents: 50, threads: 2 });
    expect(Array.from(again.coords.data)).toEqual(Array.from(result.coords.data));
    expect(Array.from(again.components.data)).toEqual(Array.from(result.components.data));
    // largest |coordinate| positive in each component
    for (let c = 0; c < 50; c++) {
      let best = 0;
      for (let i = 0; i < 320; i++) if (Math.abs(result.coords.data[i * 50 + c]!) > Math.abs(best)) best = result.coords.data[i * 50 + c]!;
      expect(best).toBeGreaterThan(0);
    }
  });

  it('can run the power iterations on a sample of the rows and stay close', () => {
    const sampled = pca(m, { nComponents: 50, sampleRows: 200 });
    for (let c = 0; c < 10; c++) {
      expect(Math.abs(sampled.explainedVariance[c]! - exact.values[c]!) / exact.values[c]!, `component ${c}`).toBeLessThan(0.01);
    }
    const captured = (r: typeof result): number => r.explainedVarianceRatio.reduce((a, b) => a + b, 0);
    expect(captured(sampled)).toBeGreaterThan(captured(result) * 0.99);
    expect(captured(sampled)).toBeLessThanOrEqual(captured(result) + 1e-12);
  });

  it('decomposes narrow data exactly, through the covariance or the Gram matrix', () => {
    const narrow = decaying(150, 30, 30, 2);
    const ref = exactCovarianceEigen(narrow);
    const r = pca(narrow, { nComponents: 5 });
    expect(r.method).toBe('exact');
    for (let c = 0; c < 5; c++) expect(r.explainedVariance[c]! / ref.values[c]!).toBeCloseTo(1, 9);
    const few = decaying(40, 150, 30, 3);
    const refFew = exactCovarianceEigen(few);
    const g = pca(few, { nComponents: 10 });
    expect(g.method).toBe('exact');
    for (let c = 0; c < 10; c++) expect(g.explainedVariance[c]! / refFew.values[c]!).toBeCloseTo(1, 6);
  });

  it('handles data of lower rank than the basis and rejects bad input', () => {
    const r = new Random(4);
    const lowRank = matrix(300, 200);
    for (let i = 0; i < 300; i++) {
      const z = [r.normal(), r.normal(), r.normal()];
      for (let j = 0; j < 200; j++) lowRank.data[i * 200 + j] = z[j % 3]! * (1 + (j % 7));
    }
    const res = pca(lowRank, { nComponents: 10 });
    expect(res.method).toBe('randomized');
    expect(res.explainedVarianceRatio.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(res.explainedVariance[5]!).toBeLessThan(1e-6);
    expect(() => pca(lowRank, { nComponents: 0 })).toThrow(/nComponents/);
    const bad = matrix(3, 2, Float32Array.from([1, 2, 3, NaN, 5, 6]));
    expect(() => pca(bad)).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
  });
});
