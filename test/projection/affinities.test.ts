import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/index.js';
import { conditionalProbabilities, jointProbabilities } from '../../src/projection/affinities.js';
import { exactKnnSteps } from '../../src/projection/knn.js';
import { drain } from '../../src/projection/steps.js';

function randomData(n: number, d: number, seed: number, scale = 1): Float64Array {
  const r = new Random(seed);
  // two blobs of different density, so the bandwidths differ from point to point
  return Float64Array.from(
    { length: n * d },
    (_, t) => scale * (r.normal() * (Math.floor(t / d) % 2 === 0 ? 1 : 0.2) + (Math.floor(t / d) % 2) * 3),
  );
}

function naiveKnn(x: Float64Array, n: number, d: number, k: number) {
  return Array.from({ length: n }, (_, i) => {
    const all: { j: number; dist: number }[] = [];
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let c = 0; c < d; c++) s += (x[i * d + c]! - x[j * d + c]!) ** 2;
      all.push({ j, dist: s });
    }
    all.sort((a, b) => a.dist - b.dist || a.j - b.j);
    return all.slice(0, k);
  });
}

describe('exact kNN', () => {
  it('matches a naive sort, nearest first, for n not a multiple of the block size', () => {
    const n = 203,
      d = 7,
      k = 12;
    const x = randomData(n, d, 1);
    const nn = drain(exactKnnSteps(x, n, d, k));
    const ref = naiveKnn(x, n, d, k);
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < k; t++) {
        expect(nn.indices[i * k + t]).toBe(ref[i]![t]!.j);
        expect(nn.distances[i * k + t]).toBeCloseTo(ref[i]![t]!.dist, 9);
      }
    }
  });

  it('breaks distance ties by index', () => {
    // points on a line at integer positions: neighbours at equal distance on both sides
    const n = 9;
    const x = Float64Array.from({ length: n }, (_, i) => i);
    const nn = drain(exactKnnSteps(x, n, 1, 2));
    expect(Array.from(nn.indices.subarray(4 * 2, 4 * 2 + 2))).toEqual([3, 5]);
  });
});

describe('perplexity calibration', () => {
  for (const [perplexity, scale] of [
    [30, 1],
    [5, 1],
    [30, 40],
  ] as const) {
    it(`reaches the entropy log(${perplexity}) for every point (data scale ${scale})`, () => {
      const n = 400,
        d = 10;
      const k = Math.floor(3 * perplexity + 1);
      const nn = drain(exactKnnSteps(randomData(n, d, 2, scale), n, d, k));
      const { values, betas } = conditionalProbabilities(nn, perplexity);
      for (let i = 0; i < n; i++) {
        let sum = 0,
          entropy = 0;
        for (let t = 0; t < k; t++) {
          const p = values[i * k + t]!;
          sum += p;
          if (p > 0) entropy -= p * Math.log(p);
        }
        expect(sum).toBeCloseTo(1, 12);
        expect(Math.abs(entropy - Math.log(perplexity))).toBeLessThan(1e-5);
        expect(betas[i]!).toBeGreaterThan(0);
      }
      // the dense blob (even rows) needs narrower kernels than the sparse one
      expect(betas[1]! > betas[0]!).toBe(true);
    });
  }

  it('symmetrises into a joint P that sums to 1 with p_ij = p_ji', () => {
    const n = 300,
      d = 5,
      perplexity = 10;
    const k = 31;
    const nn = drain(exactKnnSteps(randomData(n, d, 3), n, d, k));
    const cond = conditionalProbabilities(nn, perplexity).values;
    const p = jointProbabilities(nn, cond);
    const dense = new Float64Array(n * n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let e = p.indptr[i]!; e < p.indptr[i + 1]!; e++) {
        const j = p.indices[e]!;
        expect(j).not.toBe(i);
        if (e > p.indptr[i]!) expect(j).toBeGreaterThan(p.indices[e - 1]!);
        dense[i * n + j] = p.values[e]!;
        total += p.values[e]!;
      }
    }
    expect(total).toBeCloseTo(1, 12);
    let asymmetry = 0,
      error = 0;
    for (let i = 0; i < n; i++) {
      for (let t = 0; t < k; t++) {
        const j = nn.indices[i * k + t]!;
        asymmetry = Math.max(asymmetry, Math.abs(dense[i * n + j]! - dense[j * n + i]!));
        // (p(j|i) + p(i|j)) / 2n with p(i|j) zero unless i is among j's neighbours
        const back = nn.indices.subarray(j * k, (j + 1) * k).indexOf(i);
        const expected = (cond[i * k + t]! + (back >= 0 ? cond[j * k + back]! : 0)) / (2 * n);
        error = Math.max(error, Math.abs(dense[i * n + j]! - expected));
      }
    }
    expect(asymmetry).toBe(0);
    expect(error).toBeLessThan(1e-16);
  });
});
