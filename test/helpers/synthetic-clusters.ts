/**
 * Seeded Gaussian clusters: the synthetic data of the projection tests and benchmark, small to
 * describe exactly so that other tools (scikit-learn, via .npy) can be run on identical input.
 *
 * Recipe (all draws from one Random(seed), in this order): for each cluster c and dimension j,
 * centre[c][j] = separation · normal(); then for each point i (label i mod clusters) and
 * dimension j, x[i][j] = centre[label][j] + normal(); stored as float32.
 */
import { Random, matrix, type Matrix } from '../../src/core/index.js';

export interface ClusterData {
  data: Matrix;
  labels: Int32Array;
}

export function gaussianClusters(n: number, dim: number, clusters: number, seed: number, separation = 1): ClusterData {
  const random = new Random(seed);
  const centres = new Float64Array(clusters * dim);
  for (let t = 0; t < centres.length; t++) centres[t] = separation * random.normal();
  const data = matrix(n, dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    labels[i] = c;
    for (let j = 0; j < dim; j++) data.data[i * dim + j] = centres[c * dim + j]! + random.normal();
  }
  return { data, labels };
}
