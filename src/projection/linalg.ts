/**
 * Small dense linear algebra for the projections: a symmetric eigen-solver for the l×l problems
 * (Rayleigh-Ritz in PCA, exact PCA of narrow data) and row orthonormalisation for subspace
 * iteration. Everything here is O(n³) on small n; the big passes over the data live in pca.ts.
 */
import type { Random } from '../core/index.js';

export interface SymmetricEigen {
  /** Eigenvalues, largest first. */
  values: Float64Array;
  /** Eigenvectors as rows (n×n row-major): row k belongs to values[k]. */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations:
 * slow for big n but accurate to machine precision, which is what the small Ritz problems need.
 */
export function symmetricEigen(matrixData: ArrayLike<number>, n: number): SymmetricEigen {
  const a = Float64Array.from(matrixData);
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: ${a.length} values for ${n}×${n}`);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i]! * a[i]!;
  const tol = total * 1e-30;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= tol) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        a[p * n + q] = 0;
        a[q * n + p] = 0;
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]! || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, k) => {
    values[k] = a[col * n + col]!;
    for (let i = 0; i < n; i++) vectors[k * n + i] = v[i * n + col]!;
  });
  return { values, vectors };
}

/**
 * Orthonormalises the rows of q (rows×cols, row-major) in place by modified Gram-Schmidt, run twice
 * for stability. A row that vanishes (the data has lower rank than the basis) is replaced by a fresh
 * random direction, so the basis always has full rank.
 */
export function orthonormalizeRows(q: Float64Array, rows: number, cols: number, random: Random): void {
  for (let i = 0; i < rows; i++) {
    const oi = i * cols;
    for (let attempt = 0; ; attempt++) {
      let before = 0;
      for (let d = 0; d < cols; d++) before += q[oi + d]! * q[oi + d]!;
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          const oj = j * cols;
          let dot = 0;
          for (let d = 0; d < cols; d++) dot += q[oi + d]! * q[oj + d]!;
          for (let d = 0; d < cols; d++) q[oi + d]! -= dot * q[oj + d]!;
        }
      }
      let after = 0;
      for (let d = 0; d < cols; d++) after += q[oi + d]! * q[oi + d]!;
      if (after > 1e-24 * before && after > 1e-300) {
        const inv = 1 / Math.sqrt(after);
        for (let d = 0; d < cols; d++) q[oi + d]! *= inv;
        break;
      }
      if (attempt >= 5) throw new RangeError(`orthonormalizeRows: cannot find ${rows} independent directions in ${cols} dimensions`);
      for (let d = 0; d < cols; d++) q[oi + d] = random.normal();
    }
  }
}
