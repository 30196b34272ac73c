/**
 * Synthetic embeddings for tests and benchmarks that behave like a ConvNet's pooled features
 * rather than uniform noise: latent points (a few dozen dimensions) in clusters of varying spread,
 * each cluster made of smaller groups (like photos of one scene within a category), mapped
 * through a fixed random layer and a ReLU (non-negative, about a third of the values zero), plus
 * per-value noise so that they are not low-rank. Random pairs have cosine ≈ 0.5 and a row's
 * nearest neighbours ≈ 0.9, with few pairs above 0.95, so nearest-neighbour structure exists
 * without being trivial.
 *
 * Row i depends only on (seed, i), so a large set can be produced block by block with `start`.
 */
import { Random, matrix, type Matrix } from '../../src/core/index.js';
import { affine } from '../../src/search/onnx.js';

export interface SyntheticOptions {
  /** Vector length (default 2048). */
  dims?: number;
  /** Number of clusters (default 100). */
  clusters?: number;
  /** Latent dimensions (default 48). */
  latent?: number;
  /** Index of the first row to produce (default 0). */
  start?: number;
  /** Uniform noise amplitude added before the ReLU (default 1.2). */
  noise?: number;
  seed?: number;
}

/** Groups per cluster, and their spread relative to the cluster's. */
const GROUPS = 20;
const GROUP_SPREAD = 0.5;

interface Model {
  centers: Float32Array;
  groups: Float32Array;
  spreads: Float32Array;
  weights: Float32Array;
  bias: Float32Array;
}

const models = new Map<string, Model>();

function model(dims: number, clusters: number, latent: number, seed: number): Model {
  const key = `${dims}/${clusters}/${latent}/${seed}`;
  let m = models.get(key);
  if (m === undefined) {
    const rng = new Random(seed);
    const centers = Float32Array.from({ length: clusters * latent }, () => rng.normal());
    const spreads = Float32Array.from({ length: clusters }, () => 0.4 + 0.5 * rng.next());
    const groups = Float32Array.from({ length: clusters * GROUPS * latent }, () => rng.normal());
    const weights = Float32Array.from({ length: dims * latent }, () => rng.normal() / Math.sqrt(latent));
    const bias = Float32Array.from({ length: dims }, () => 0.4 + 0.5 * rng.normal());
    m = { centers, groups, spreads, weights, bias };
    models.set(key, m);
  }
  return m;
}

/** Rows [start, start + rows) of the synthetic set described by `opts`. */
export async function syntheticEmbeddings(rows: number, opts: SyntheticOptions = {}): Promise<Matrix> {
  const dims = opts.dims ?? 2048;
  const clusters = opts.clusters ?? 100;
  const latent = opts.latent ?? 48;
  const start = opts.start ?? 0;
  const noise = opts.noise ?? 1.2;
  const seed = opts.seed ?? 1;
  const { centers, groups, spreads, weights, bias } = model(dims, clusters, latent, seed);
  const z = new Float32Array(rows * latent);
  const rngs: Random[] = [];
  for (let r = 0; r < rows; r++) {
    // one generator per row, seeded from (seed, row): any block reproduces the same rows
    const rng = new Random((Math.imul(seed, 0x9e3779b1) ^ (start + r)) >>> 0);
    const c = rng.int(clusters);
    const g = (c * GROUPS + rng.int(GROUPS)) * latent;
    const s = spreads[c]!;
    for (let j = 0; j < latent; j++) z[r * latent + j] = centers[c * latent + j]! + s * (groups[g + j]! + GROUP_SPREAD * rng.normal());
    rngs.push(rng);
  }
  const y = await affine(z, rows, weights, dims, latent, bias, 0);
  for (let r = 0; r < rows; r++) {
    const rng = rngs[r]!;
    for (let j = r * dims, end = j + dims; j < end; j++) {
      const v = y[j]! + noise * (rng.next() - 0.5);
      y[j] = v > 0 ? v : 0;
    }
  }
  return matrix(rows, dims, y);
}
