/**
 * t-SNE input affinities: per-point Gaussian bandwidths found by binary search so that each
 * conditional distribution has the requested perplexity, then the symmetrised joint P (sparse),
 * as scikit-learn's _binary_search_perplexity and _joint_probabilities_nn.
 */
import type { KnnGraph } from './knn.js';

const PERPLEXITY_TOLERANCE = 1e-5;
const MAX_STEPS = 100;

export interface ConditionalP {
  /** n×k conditional probabilities p(j|i), aligned with the neighbour lists; rows sum to 1. */
  values: Float64Array;
  /** Precision β_i = 1 / (2σ_i²) per point (in squared-distance units). */
  betas: Float64Array;
}

/**
 * Binary search on β_i as scikit-learn (start at 1, double or halve until bracketed, then bisect,
 * up to 100 steps, tolerance 1e-5 on the entropy in nats). The distances are shifted by their
 * minimum before exponentiating; this leaves P unchanged and keeps it finite when all squared
 * distances are large (raw 2048-d embeddings), where scikit-learn's exp underflows.
 */
export function conditionalProbabilities(nn: KnnGraph, perplexity: number): ConditionalP {
  const { n, k, distances } = nn;
  const values = new Float64Array(n * k);
  const betas = new Float64Array(n);
  const target = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let dmin = Infinity;
    for (let t = 0; t < k; t++) dmin = Math.min(dmin, distances[o + t]!);
    let beta = 1;
    let betaMin = -Infinity;
    let betaMax = Infinity;
    for (let step = 0; step < MAX_STEPS; step++) {
      let sumP = 0;
      let sumDP = 0;
      for (let t = 0; t < k; t++) {
        const dd = distances[o + t]! - dmin;
        const p = Math.exp(-dd * beta);
        values[o + t] = p;
        sumP += p;
        sumDP += dd * p;
      }
      // sumP ≥ 1 (the nearest neighbour contributes exp(0)), so no division by zero
      const entropy = Math.log(sumP) + (beta * sumDP) / sumP;
      for (let t = 0; t < k; t++) values[o + t]! /= sumP;
      const diff = entropy - target;
      if (Math.abs(diff) <= PERPLEXITY_TOLERANCE) break;
      if (diff > 0) {
        betaMin = beta;
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2;
      } else {
        betaMax = beta;
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2;
      }
    }
    betas[i] = beta;
  }
  return { values, betas };
}

/** Symmetric sparse joint probabilities in CSR form; values sum to 1. */
export interface JointP {
  n: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/** P = (C + Cᵀ) / sum, C being the conditional probabilities on the kNN graph. */
export function jointProbabilities(nn: KnnGraph, conditional: Float64Array): JointP {
  const { n, k, indices: nbr } = nn;
  // row i gets its own neighbours and every j that has i as a neighbour; duplicates merge
  const count = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    count[i + 1]! += k;
    for (let t = 0; t < k; t++) count[nbr[i * k + t]! + 1]! += 1;
  }
  for (let i = 0; i < n; i++) count[i + 1]! += count[i]!;
  const cols = new Int32Array(count[n]!);
  const vals = new Float64Array(count[n]!);
  const fill = count.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = nbr[i * k + t]!;
      const v = conditional[i * k + t]!;
      cols[fill[i]!] = j;
      vals[fill[i]!++] = v;
      cols[fill[j]!] = i;
      vals[fill[j]!++] = v;
    }
  }
  const slot = new Int32Array(n).fill(-1);
  const dense = new Float64Array(n);
  const indptr = new Int32Array(n + 1);
  const outCols = new Int32Array(count[n]!);
  const outVals = new Float64Array(count[n]!);
  let nnz = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const rowStart = nnz;
    for (let e = count[i]!; e < count[i + 1]!; e++) {
      const j = cols[e]!;
      const s = slot[j]!;
      if (s >= rowStart) {
        outVals[s]! += vals[e]!;
      } else {
        slot[j] = nnz;
        outCols[nnz] = j;
        outVals[nnz++] = vals[e]!;
      }
    }
    // sorted columns: a fixed layout and summation order whatever the insertion order was
    for (let e = rowStart; e < nnz; e++) dense[outCols[e]!] = outVals[e]!;
    outCols.subarray(rowStart, nnz).sort();
    for (let e = rowStart; e < nnz; e++) {
      outVals[e] = dense[outCols[e]!]!;
      total += outVals[e]!;
    }
    indptr[i + 1] = nnz;
  }
  const sum = Math.max(total, Number.EPSILON);
  const values = outVals.slice(0, nnz);
  for (let e = 0; e < nnz; e++) values[e]! /= sum;
  return { n, indptr, indices: outCols.slice(0, nnz), values };
}
