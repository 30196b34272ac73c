import { describe, expect, it } from 'vitest';
import { evaluateHead, selectRows, stratifiedSplit, trainSoftmax, trainSvm } from '../../src/heads/index.js';
import { syntheticClasses } from '../helpers/synthetic-classes.js';
import { fitTemperature } from '../../src/heads/cv.js';

describe('trainSvm', () => {
  const { x, labels } = syntheticClasses({ classes: 4, perClass: 40, dim: 256, separation: 6, seed: 12 });
  const s = stratifiedSplit(labels, 0.25, { seed: 3 });
  const xTr = selectRows(x, s.train);
  const yTr = s.train.map((i) => labels[i]!);
  const xVa = selectRows(x, s.val);
  const yVa = s.val.map((i) => labels[i]!);

  it('learns Gaussian classes with calibrated probabilities', () => {
    const head = trainSvm(xTr, yTr);
    expect(head.type).toBe('svm');
    const acc = evaluateHead(head, xVa, yVa).accuracy;
    expect(acc).toBeGreaterThanOrEqual(0.85);
    const soft = evaluateHead(trainSoftmax(xTr, yTr), xVa, yVa).accuracy;
    expect(Math.abs(acc - soft)).toBeLessThan(0.1);
    const st = head.state();
    expect(st.fit['converged']).toBe(true);
    expect(st.config['temperature']).toBeGreaterThan(0);
    const p = head.predictProba(xVa);
    for (let i = 0; i < p.rows; i++) expect(p.data.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('is deterministic for a seed', () => {
    expect(trainSvm(xTr, yTr, { seed: 5, l2: 0.5 }).toJSON()).toEqual(trainSvm(xTr, yTr, { seed: 5, l2: 0.5 }).toJSON());
  });

  it('fits the temperature that minimises log-loss', () => {
    // decision values whose calibrated temperature is known: p(correct) = e^{T}/(e^{T}+1) with
    // 3 of 4 rows right at margin 1 → optimum where sigmoid(T) = 3/4, T = ln 3
    const z = Float64Array.from([1, 0, 1, 0, 1, 0, 1, 0]);
    const y = Int32Array.from([0, 0, 0, 1]);
    expect(fitTemperature(z, y, 2)).toBeCloseTo(Math.log(3), 4);
  });
});
