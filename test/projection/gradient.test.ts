import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/index.js';
import { conditionalProbabilities, jointProbabilities, type JointP } from '../../src/projection/affinities.js';
import { GradientEngine } from '../../src/projection/gradient.js';
import { exactKnnSteps } from '../../src/projection/knn.js';
import { drain } from '../../src/projection/steps.js';

const n = 1200;

function setup(): { p: JointP; y: Float64Array } {
  const r = new Random(9);
  const d = 8;
  const x = Float64Array.from({ length: n * d }, (_, t) => r.normal() + (Math.floor(t / d) % 5) * 2);
  const nn = drain(exactKnnSteps(x, n, d, 31));
  const p = jointProbabilities(nn, conditionalProbabilities(nn, 10).values);
  // a layout with dense clumps, sparse regions and a few exact duplicates
  const y = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const c = i % 5;
    y[2 * i] = 10 * Math.cos(c) + r.normal() * (c === 0 ? 0.05 : 2);
    y[2 * i + 1] = 10 * Math.sin(c) + r.normal() * (c === 0 ? 0.05 : 2);
  }
  for (let i = 0; i < 10; i++) {
    y[2 * (i + 100)] = y[2 * i]!;
    y[2 * (i + 100) + 1] = y[2 * i + 1]!;
  }
  return { p, y };
}

/** The exact t-SNE gradient and KL (Z over all pairs). */
function exact(p: JointP, y: Float64Array, exaggeration: number) {
  let z = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j) z += 1 / (1 + (y[2 * i]! - y[2 * j]!) ** 2 + (y[2 * i + 1]! - y[2 * j + 1]!) ** 2);
    }
  }
  const grad = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const dx = y[2 * i]! - y[2 * j]!;
      const dy = y[2 * i + 1]! - y[2 * j + 1]!;
      const q = 1 / (1 + dx * dx + dy * dy);
      grad[2 * i]! -= (4 * q * q * dx) / z;
      grad[2 * i + 1]! -= (4 * q * q * dy) / z;
    }
  }
  let kl = 0;
  for (let i = 0; i < n; i++) {
    for (let e = p.indptr[i]!; e < p.indptr[i + 1]!; e++) {
      const j = p.indices[e]!;
      const dx = y[2 * i]! - y[2 * j]!;
      const dy = y[2 * i + 1]! - y[2 * j + 1]!;
      const q = 1 / (1 + dx * dx + dy * dy);
      const pe = p.values[e]! * exaggeration;
      grad[2 * i]! += 4 * pe * q * dx;
      grad[2 * i + 1]! += 4 * pe * q * dy;
      kl += pe * Math.log(pe / (q / z));
    }
  }
  return { grad, kl };
}

function relativeError(a: Float64Array, b: Float64Array): number {
  let e = 0,
    s = 0;
  for (let t = 0; t < a.length; t++) {
    e += (a[t]! - b[t]!) ** 2;
    s += b[t]! ** 2;
  }
  return Math.sqrt(e / s);
}

describe('t-SNE gradient (grouped Barnes-Hut)', () => {
  const { p, y } = setup();
  const reference = exact(p, y, 12);
  const engines: GradientEngine[] = [];
  const engine = (threads: number): GradientEngine => {
    const g = new GradientEngine(p, threads);
    g.y.set(y);
    engines.push(g);
    return g;
  };
  afterEach(() => engines.splice(0).forEach((g) => g.close()));

  it('is exact with θ = 0 (gradient and KL)', () => {
    const grad = new Float64Array(2 * n);
    const kl = engine(1).compute(0, 12, true, grad);
    expect(relativeError(grad, reference.grad)).toBeLessThan(1e-10);
    expect(kl).toBeCloseTo(reference.kl, 8);
  });

  it('stays within 1% of the exact gradient with θ = 0.5', () => {
    const grad = new Float64Array(2 * n);
    const kl = engine(1).compute(0.5, 12, true, grad);
    expect(relativeError(grad, reference.grad)).toBeLessThan(0.01);
    expect(Math.abs(kl - reference.kl) / reference.kl).toBeLessThan(0.01);
    expect(Number.isNaN(engine(1).compute(0.5, 12, false, grad))).toBe(true);
  });

  it('gives bit-identical results on two threads', () => {
    const one = new Float64Array(2 * n);
    const two = new Float64Array(2 * n);
    const klOne = engine(1).compute(0.5, 1, true, one);
    const threaded = engine(2);
    expect(threaded.threaded).toBe(true);
    // several rounds: the worker starts while the first one runs
    let klTwo = NaN;
    for (let round = 0; round < 3; round++) klTwo = threaded.compute(0.5, 1, true, two);
    expect(threaded.threaded).toBe(true);
    expect(klTwo).toBe(klOne);
    expect(Array.from(two)).toEqual(Array.from(one));
  });
});
