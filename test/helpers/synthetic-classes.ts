/**
 * Seeded synthetic "embeddings" for tests, benchmarks and examples: Gaussian classes in high
 * dimension, passed through a ReLU like ResNet's pooled features (non-negative, many zeros).
 */
import { matrix, Random, type Matrix } from '../../src/core/index.js';

export interface SyntheticOptions {
  classes?: number;
  perClass?: number;
  dim?: number;
  /**
   * Expected distance between two class means in units of the noise standard deviation
   * (before the ReLU). About 3 gives overlapping classes; 10 nearly separable ones.
   */
  separation?: number;
  seed?: number;
}

export interface SyntheticData {
  x: Matrix;
  /** 'c0', 'c1', ...; rows are interleaved by class (row i has class i mod classes). */
  labels: string[];
}

export function syntheticClasses(options: SyntheticOptions = {}): SyntheticData {
  const c = options.classes ?? 5;
  const per = options.perClass ?? 100;
  const d = options.dim ?? 2048;
  const sep = options.separation ?? 4;
  const rng = new Random(options.seed ?? 1);
  // E‖μa − μb‖² = 2·s²·d for entries N(0, s²): pick s so that distance is `sep` noise units
  const s = sep / Math.sqrt(2 * d);
  const means = new Float64Array(c * d);
  for (let i = 0; i < means.length; i++) means[i] = 0.5 + s * rng.normal();
  const n = c * per;
  const x = matrix(n, d);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % c;
    labels.push(`c${k}`);
    for (let j = 0; j < d; j++) x.data[i * d + j] = Math.max(0, means[k * d + j]! + rng.normal());
  }
  return { x, labels };
}
