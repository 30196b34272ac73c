import { describe, expect, it } from 'vitest';
import { isConvlensError, matrix, Random, type Matrix } from '../../src/core/index.js';
import {
  encodeLabels,
  evaluateHead,
  LinearHead,
  SCALING_KINDS,
  selectRows,
  softmaxObjective,
  stratifiedSplit,
  svmObjective,
  trainSoftmax,
} from '../../src/heads/index.js';
import { syntheticClasses } from '../helpers/synthetic-classes.js';
import { lbfgs } from '../../src/heads/lbfgs.js';
import { linearProblem } from '../../src/heads/reduce.js';
import { applyScaling, fitScaling } from '../../src/heads/scaling.js';

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const rng = new Random(seed);
  return matrix(
    rows,
    cols,
    Float32Array.from({ length: rows * cols }, () => rng.normal()),
  );
}

function split(x: Matrix, labels: string[], seed = 42) {
  const s = stratifiedSplit(labels, 0.25, { seed });
  return {
    xTr: selectRows(x, s.train),
    yTr: s.train.map((i) => labels[i]!),
    xVa: selectRows(x, s.val),
    yVa: s.val.map((i) => labels[i]!),
  };
}

function expectCode(f: () => unknown, code: string): void {
  try {
    f();
  } catch (e) {
    expect(isConvlensError(e) ? e.code : e).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('linear objectives', () => {
  it('have the gradient of their finite differences, dense and reduced (softmax and SVM)', () => {
    // logits use float32 copies of the weights: float32 θ and a power-of-two step keep θ ± h exact
    const n = 24;
    const d = 9;
    const c = 3;
    const x = randomMatrix(n, d, 3);
    const y = Int32Array.from({ length: n }, (_, i) => i % c);
    const reduced = linearProblem(randomMatrix(n, 40, 4).data, n, 40, y).full;
    expect(reduced.lens).toBeDefined();
    const cases = [softmaxObjective, svmObjective].flatMap(
      (o) =>
        [
          [o, { x: x.data, n, d, y }],
          [o, reduced],
        ] as const,
    );
    for (const [[objective, p], centred] of cases.flatMap(
      (k) =>
        [
          [k, false],
          [k, true],
        ] as const,
    )) {
      const rng = new Random(5);
      const center = centred ? Float64Array.from({ length: c * p.d }, () => rng.normal()) : undefined;
      const f = objective(p, c, { lambda: 0.05, center });
      const theta = Float64Array.from(Float32Array.from({ length: c * p.d + c }, () => 0.3 * rng.normal()));
      const g = new Float64Array(theta.length);
      f(theta, g);
      const scratch = new Float64Array(theta.length);
      const h = 2 ** -12;
      for (let j = 0; j < theta.length; j++) {
        const t = Float64Array.from(theta);
        t[j] = theta[j]! + h;
        const fp = f(t, scratch);
        t[j] = theta[j]! - h;
        const fm = f(t, scratch);
        expect(Math.abs((fp - fm) / (2 * h) - g[j]!)).toBeLessThan(1e-6 + 1e-4 * Math.abs(g[j]!));
      }
    }
  });

  it('reduced problem gives the same model as the full one', () => {
    // 60 rows in 200-d: trainSoftmax reduces (and centres); compare with L-BFGS on the centred,
    // scaled features in full
    const { x, labels } = syntheticClasses({ classes: 3, perClass: 20, dim: 200, separation: 5, seed: 2 });
    const { y } = encodeLabels(labels);
    const xs = applyScaling(x, fitScaling(x, 'sqrt'));
    const n = x.rows;
    const d = x.cols;
    const mean = new Float64Array(d);
    xs.data.forEach((v, i) => (mean[i % d] += v / n));
    const xc = Float32Array.from(xs.data, (v, i) => v - mean[i % d]!);
    const head = trainSoftmax(x, labels, { l2: 0.5, prior: 'zero', scaling: 'sqrt' });
    const r = lbfgs(softmaxObjective({ x: xc, n, d, y }, 3, { lambda: 0.5 }), new Float64Array(3 * d + 3), {
      gradientTolerance: 1e-9,
      maxIterations: 5000,
    });
    for (let i = 0; i < 3 * d; i++) expect(head.weight.data[i]).toBeCloseTo(r.x[i]!, 4);
    // the head folds the centring into its bias
    for (let k = 0; k < 3; k++) {
      const shift = Array.from(mean).reduce((a, m, j) => a + m * r.x[k * d + j]!, 0);
      expect(head.bias[k]).toBeCloseTo(r.x[3 * d + k]! - shift, 4);
    }
  });
});

describe('trainSoftmax', () => {
  const data = syntheticClasses({ classes: 4, perClass: 40, dim: 256, separation: 6, seed: 11 });
  const s = split(data.x, data.labels);

  it('learns Gaussian classes and chooses λ by cross-validation', () => {
    const head = trainSoftmax(s.xTr, s.yTr);
    const report = evaluateHead(head, s.xVa, s.yVa);
    expect(report.accuracy).toBeGreaterThanOrEqual(0.85);
    const st = head.state();
    const cv = st.fit['cv'] as { candidates: { l2: number; accuracy: number }[]; folds: number };
    expect(cv.folds).toBe(5);
    expect(cv.candidates.map((c) => c.l2)).toContain(st.config['l2']);
    expect(head.classes).toEqual(['c0', 'c1', 'c2', 'c3']);
    const p = head.predictProba(s.xVa);
    for (let i = 0; i < p.rows; i++) {
      const row = p.data.subarray(i * 4, i * 4 + 4);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
  });

  it('is deterministic for a seed', () => {
    const a = trainSoftmax(s.xTr, s.yTr, { seed: 7 }).toJSON();
    const b = trainSoftmax(s.xTr, s.yTr, { seed: 7 }).toJSON();
    expect(b).toEqual(a);
  });

  it('predictTop ranks classes and predict is its first entry', () => {
    const head = trainSoftmax(s.xTr, s.yTr, { l2: 1 });
    const top = head.predictTop(s.xVa, 3);
    const one = head.predict(s.xVa);
    top.forEach((t, i) => {
      expect(t).toHaveLength(3);
      expect(t[0]).toEqual(one[i]);
      expect(t[0]!.probability).toBeGreaterThanOrEqual(t[1]!.probability);
      expect(t[1]!.probability).toBeGreaterThanOrEqual(t[2]!.probability);
      expect(head.classes[t[0]!.index]).toBe(t[0]!.label);
    });
    expect(head.predictTop(s.xVa, 99)[0]).toHaveLength(4);
  });

  it('linearExport reproduces predictProba for every scaling', () => {
    for (const scaling of SCALING_KINDS) {
      const head = trainSoftmax(s.xTr, s.yTr, { l2: 0.1, scaling });
      const ex = head.linearExport();
      const p = head.predictProba(s.xVa);
      const c = head.classes.length;
      for (let i = 0; i < s.xVa.rows; i++) {
        let v = Array.from(s.xVa.data.subarray(i * 256, (i + 1) * 256));
        if (ex.sqrt) v = v.map((a) => Math.sign(a) * Math.sqrt(Math.abs(a)));
        if (ex.l2Normalize) {
          const norm = Math.hypot(...v);
          v = v.map((a) => a / norm);
        }
        const z = Array.from({ length: c }, (_, k) => v.reduce((a, xv, j) => a + xv * ex.weight.data[j * c + k]!, ex.bias[k]!));
        const m = Math.max(...z);
        const e = z.map((a) => Math.exp(a - m));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let k = 0; k < c; k++) expect(e[k]! / sum).toBeCloseTo(p.data[i * c + k]!, 4);
      }
    }
  });

  it('respects a given class order', () => {
    const classes = ['c3', 'c1', 'c0', 'c2'];
    const head = trainSoftmax(s.xTr, s.yTr, { l2: 1, classes });
    expect(head.classes).toEqual(classes);
    expect(evaluateHead(head, s.xVa, s.yVa).accuracy).toBeGreaterThan(0.85);
  });

  it('trains without cross-validation when there are too few rows', () => {
    const x = randomMatrix(2, 8, 1);
    const head = trainSoftmax(x, ['a', 'b']);
    expect(head).toBeInstanceOf(LinearHead);
    expect(head.predict(x).map((p) => p.label)).toEqual(['a', 'b']);
  });

  it('rejects unusable inputs with codes', () => {
    const x = randomMatrix(4, 8, 1);
    expectCode(() => trainSoftmax(x, ['a', 'a', 'a', 'a']), 'E_BAD_INPUT');
    expectCode(() => trainSoftmax(x, ['a', 'b', 'a']), 'E_BAD_INPUT');
    expectCode(() => trainSoftmax(x, ['a', 'b', 'a', 'b'], { classes: ['a'] }), 'E_BAD_INPUT');
    expectCode(() => trainSoftmax(x, ['a', 'b', 'a', 'b'], { l2: -1 }), 'E_USAGE');
    const bad = matrix(4, 8, Float32Array.from(x.data));
    bad.data[9] = NaN;
    expectCode(() => trainSoftmax(bad, ['a', 'b', 'a', 'b']), 'E_BAD_INPUT');
    const head = trainSoftmax(x, ['a', 'b', 'a', 'b'], { l2: 1 });
    expectCode(() => head.predict(randomMatrix(1, 9, 2)), 'E_SETTINGS_MISMATCH');
  });
});
