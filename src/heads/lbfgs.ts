/**
 * Limited-memory BFGS for smooth convex objectives (here: L2-regularised cross-entropy).
 * Deterministic: no randomness, so the result depends only on the data and the start point.
 * Backtracking (Armijo) line search is enough because the objective is strongly convex, which
 * keeps every curvature pair sᵀy positive.
 */

/** Returns f(x) and writes ∇f(x) into `grad`. */
export type Objective = (x: Float64Array, grad: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations?: number;
  /** Stop when max |∇f| ≤ gradientTolerance. */
  gradientTolerance?: number;
  /** Stop when the relative decrease of f over one iteration is below this. */
  relativeTolerance?: number;
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
}

export function lbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIter = options.maxIterations ?? 500;
  const gtol = options.gradientTolerance ?? 1e-5;
  const rtol = options.relativeTolerance ?? 1e-10;
  const mem = options.memory ?? 10;
  const n = x0.length;

  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let f = objective(x, g);
  let evaluations = 1;
  const sList: Float64Array[] = [];
  const yList: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(mem);
  const dir = new Float64Array(n);
  let xNew = new Float64Array(n);
  let gNew = new Float64Array(n);

  if (maxAbs(g) <= gtol) return { x, f, iterations: 0, evaluations, converged: true };

  for (let iter = 1; iter <= maxIter; iter++) {
    // two-loop recursion: dir = -H·g
    for (let i = 0; i < n; i++) dir[i] = -g[i]!;
    const k = sList.length;
    for (let j = k - 1; j >= 0; j--) {
      const a = rho[j]! * dot(sList[j]!, dir);
      alpha[j] = a;
      axpy(-a, yList[j]!, dir);
    }
    if (k > 0) {
      const yy = dot(yList[k - 1]!, yList[k - 1]!);
      scale(dir, 1 / (rho[k - 1]! * yy));
    }
    for (let j = 0; j < k; j++) {
      const b = rho[j]! * dot(yList[j]!, dir);
      axpy(alpha[j]! - b, sList[j]!, dir);
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // not a descent direction (numerical trouble): restart from steepest descent
      sList.length = 0;
      yList.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i]!;
      slope = dot(g, dir);
    }
    // first step without curvature information: a unit-length move
    let step = k === 0 ? Math.min(1, 1 / Math.sqrt(-slope)) : 1;
    let fNew = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = objective(xNew, gNew);
      evaluations++;
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew <= f)) return { x, f, iterations: iter, evaluations, converged: false };

    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (sList.length === mem) {
        sList.shift();
        yList.shift();
        rho.shift();
      }
      sList.push(s);
      yList.push(y);
      rho.push(1 / sy);
    }
    const fOld = f;
    [x, xNew] = [xNew, x];
    [g, gNew] = [gNew, g];
    f = fNew;
    if (maxAbs(g) <= gtol) return { x, f, iterations: iter, evaluations, converged: true };
    if (fOld - f <= rtol * Math.max(Math.abs(fOld), Math.abs(f), 1)) {
      return { x, f, iterations: iter, evaluations, converged: true };
    }
  }
  return { x, f, iterations: maxIter, evaluations, converged: false };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let i = 0; i < x.length; i++) y[i] += a * x[i]!;
}

function scale(x: Float64Array, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}

function maxAbs(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}
