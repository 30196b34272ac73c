/**
 * Exact reduction of an L2-regularised linear problem with fewer rows than dimensions
 * (hundreds of photos × 2048-d embeddings).
 *
 * The optimal weights of mean-loss + (λ/2)‖W‖² lie in the span of the training rows, so with an
 * orthonormal basis Q of that span (X = Z·Qᵀ) the problem over W (C×D) is the same problem over
 * V = W·Q (C×r) on the features Z = X·Q, with the same penalty ‖V‖² — exactly, for any subset of
 * the rows too (cross-validation folds). A pivoted Cholesky factor of the Gram matrix, X·Xᵀ = L·Lᵀ,
 * gives Z = L directly: row j (in pivot order) has only j+1 non-zeros, so a pass over Z costs about
 * n²/2 instead of n·D. For 600 × 2048 that is ~7× less work per objective evaluation.
 */
import { accumulateTN, gatherRows, gram } from './linalg.js';
import { complement } from './split.js';

export interface Reduced {
  /** n×r features, row j = original row order[j]; zero beyond lens[j] values. */
  z: Float32Array;
  n: number;
  r: number;
  lens: Int32Array;
  /** order[j] = original row of reduced row j; pos is its inverse. */
  order: Int32Array;
  pos: Int32Array;
  /** The factor in float64 (n×r), for lifting weights back. */
  l: Float64Array;
}

/** Relative size (squared) under which a remaining direction counts as already spanned. */
const RANK_TOL = 1e-10;

/** Reduce when it pays: the Gram matrix costs n²·D/2 and each pass then saves n·(D − n/2). */
export function worthReducing(n: number, d: number): boolean {
  return n <= d;
}

/** Null when every row is zero (nothing to learn from the features). */
export function reduceRows(x: Float32Array, n: number, d: number): Reduced | null {
  const g = gram(x, n, d);
  const diag = new Float64Array(n);
  for (let i = 0; i < n; i++) diag[i] = g[i * n + i]!;
  const maxDiag = Math.max(0, ...diag);
  // pivoted (outer-product) Cholesky; row i of the factor (original order) at lrow[i*n ..]
  const lrow = new Float64Array(n * n);
  const piv: number[] = [];
  const done = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    let p = -1;
    for (let i = 0; i < n; i++) if (!done[i] && (p < 0 || diag[i]! > diag[p]!)) p = i;
    if (p < 0 || !(diag[p]! > RANK_TOL * maxDiag)) break;
    done[p] = 1;
    piv.push(p);
    const ljj = Math.sqrt(diag[p]!);
    const po = p * n;
    lrow[po + j] = ljj;
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const io = i * n;
      let s = g[io + p]!;
      for (let k = 0; k < j; k++) s -= lrow[io + k]! * lrow[po + k]!;
      const v = s / ljj;
      lrow[io + j] = v;
      diag[i] -= v * v;
    }
  }
  if (piv.length === 0) return null;
  const r = piv.length;
  // rows never pivoted (in the span of the others) follow the pivots
  const order = Int32Array.from([...piv, ...Array.from({ length: n }, (_, i) => i).filter((i) => !done[i])]);
  const pos = new Int32Array(n);
  order.forEach((o, j) => (pos[o] = j));
  const z = new Float32Array(n * r);
  const l = new Float64Array(n * r);
  const lens = new Int32Array(n);
  for (let j = 0; j < n; j++) {
    const o = order[j]!;
    lens[j] = Math.min(j + 1, r);
    for (let k = 0; k < lens[j]!; k++) {
      const v = lrow[o * n + k]!;
      l[j * r + k] = v;
      z[j * r + k] = v;
    }
  }
  return { z, n, r, lens, order, pos, l };
}

/**
 * Weights in the reduced space (C×r) → weights on the original features (C×D): W = V·L₁⁻¹·X_piv,
 * L₁ the leading r×r block of the factor and X_piv the pivot rows of X.
 */
export function liftWeights(red: Reduced, x: Float32Array, d: number, v: Float64Array, c: number): Float64Array {
  const { r, l, order } = red;
  // M = V·L₁⁻¹, row by row: back substitution on L₁ᵀ
  const m = new Float64Array(r * c);
  for (let k = 0; k < c; k++) {
    for (let j = r - 1; j >= 0; j--) {
      let s = v[k * r + j]!;
      for (let i = j + 1; i < r; i++) s -= m[i * c + k]! * l[i * r + j]!;
      m[j * c + k] = s / l[j * r + j]!;
    }
  }
  const xp = new Float32Array(r * d);
  for (let j = 0; j < r; j++) xp.set(x.subarray(order[j]! * d, (order[j]! + 1) * d), j * d);
  const w = new Float64Array(c * d);
  accumulateTN(m, xp, r, d, c, w);
  return w;
}

/** Rows (with labels) a linear head is fitted on, possibly in the reduced space. */
export interface Problem {
  x: Float32Array;
  n: number;
  d: number;
  y: Int32Array;
  /** Row i is zero beyond lens[i] values (reduced problems only). */
  lens?: Int32Array;
}

export interface LinearProblem {
  full: Problem;
  /** Training and validation parts for validation rows given by original index. */
  fold(val: readonly number[]): { train: Problem; val: Problem };
  /** Weights fitted on this problem's features (C×d) → weights on the scaled embeddings (C×D). */
  lift(w: Float64Array, c: number): Float64Array;
}

/** The scaled training rows as a problem, reduced when that pays (see worthReducing). */
export function linearProblem(x: Float32Array, n: number, d: number, y: Int32Array): LinearProblem {
  const red = worthReducing(n, d) ? reduceRows(x, n, d) : null;
  if (!red) {
    return {
      full: { x, n, d, y },
      fold: (val) => {
        const tr = complement(n, val);
        return { train: subProblem(x, d, y, tr), val: subProblem(x, d, y, val) };
      },
      lift: (w) => w,
    };
  }
  const yR = Int32Array.from(red.order, (o) => y[o]!);
  return {
    full: { x: red.z, n, d: red.r, y: yR, lens: red.lens },
    fold: (val) => {
      const vr = val.map((i) => red.pos[i]!).sort((a, b) => a - b);
      const tr = complement(n, vr);
      return { train: subProblem(red.z, red.r, yR, tr, red.lens), val: subProblem(red.z, red.r, yR, vr, red.lens) };
    },
    lift: (w, c) => liftWeights(red, x, d, w, c),
  };
}

function subProblem(x: Float32Array, d: number, y: Int32Array, rows: readonly number[], lens?: Int32Array): Problem {
  return {
    x: gatherRows(x, d, rows),
    n: rows.length,
    d,
    y: Int32Array.from(rows, (i) => y[i]!),
    ...(lens ? { lens: Int32Array.from(rows, (i) => lens[i]!) } : {}),
  };
}
