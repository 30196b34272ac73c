/**
 * Feature scaling stored inside a head, so `predict` applies exactly what training applied.
 * Steps, each optional, in this order:
 *  - `sqrt`: signed square root of every value, sign(v)·√|v| ("power normalisation": damps the
 *    few large activations of pooled CNN features);
 *  - `l2`: divide each row by its L2 norm;
 *  - `standardize`: per dimension, subtract the mean and divide by the standard deviation
 *    (both fitted on the training rows).
 * A kind names its steps joined by '+', e.g. 'sqrt+l2'; 'none' has none.
 */
import { ConvlensError, matrix, type Matrix } from '../core/index.js';

export type ScalingKind =
  'none' | 'sqrt' | 'l2' | 'standardize' | 'sqrt+l2' | 'sqrt+standardize' | 'l2+standardize' | 'sqrt+l2+standardize';
export const SCALING_KINDS: readonly ScalingKind[] = [
  'none',
  'sqrt',
  'l2',
  'standardize',
  'sqrt+l2',
  'sqrt+standardize',
  'l2+standardize',
  'sqrt+l2+standardize',
];

export interface Scaling {
  kind: ScalingKind;
  /** Per-dimension mean and standard deviation (standardising kinds only). */
  mean?: Float32Array;
  std?: Float32Array;
}

const usesSqrt = (k: ScalingKind): boolean => k.split('+').includes('sqrt');
const usesL2 = (k: ScalingKind): boolean => k.split('+').includes('l2');
const usesStd = (k: ScalingKind): boolean => k.split('+').includes('standardize');

export function isScalingKind(v: unknown): v is ScalingKind {
  return typeof v === 'string' && (SCALING_KINDS as readonly string[]).includes(v);
}

/** Fit a scaling on training rows. */
export function fitScaling(x: Matrix, kind: ScalingKind): Scaling {
  if (!usesStd(kind)) return { kind };
  const { rows: n, cols: d } = x;
  const src = rowSteps(x, kind).data;
  const mean = new Float64Array(d);
  const sq = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let k = 0; k < d; k++) mean[k] += src[o + k]!;
  }
  for (let k = 0; k < d; k++) mean[k] /= n;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let k = 0; k < d; k++) {
      const v = src[o + k]! - mean[k]!;
      sq[k] += v * v;
    }
  }
  let maxStd = 0;
  const std = new Float32Array(d);
  for (let k = 0; k < d; k++) {
    std[k] = Math.sqrt(sq[k]! / n);
    maxStd = Math.max(maxStd, std[k]!);
  }
  // dimensions that are (nearly) constant on the training rows, e.g. ReLU units that never fire:
  // dividing by ~0 would blow up noise at predict time, so leave them unscaled
  for (let k = 0; k < d; k++) if (!(std[k]! > 1e-6 * maxStd)) std[k] = 1;
  return { kind, mean: Float32Array.from(mean), std };
}

/** The per-row steps (sqrt, l2) of a kind; the input itself when there are none. */
function rowSteps(x: Matrix, kind: ScalingKind): Matrix {
  let m = x;
  if (usesSqrt(kind))
    m = matrix(
      x.rows,
      x.cols,
      x.data.map((v) => Math.sign(v) * Math.sqrt(Math.abs(v))),
    );
  if (usesL2(kind)) m = l2Rows(m);
  return m;
}

/** Apply a fitted scaling; returns a new matrix (the input is not modified). */
export function applyScaling(x: Matrix, s: Scaling): Matrix {
  if (s.kind === 'none') return x;
  const steps = rowSteps(x, s.kind);
  const out = steps === x ? matrix(x.rows, x.cols, Float32Array.from(x.data)) : steps;
  if (usesStd(s.kind)) {
    const mean = s.mean!;
    const std = s.std!;
    const d = x.cols;
    const data = out.data;
    for (let i = 0; i < x.rows; i++) {
      const o = i * d;
      for (let k = 0; k < d; k++) data[o + k] = (data[o + k]! - mean[k]!) / std[k]!;
    }
  }
  return out;
}

/** Rows divided by their L2 norm (zero rows stay zero). */
export function l2Rows(x: Matrix): Matrix {
  const { rows: n, cols: d } = x;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += x.data[o + k]! * x.data[o + k]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < d; k++) out[o + k] = x.data[o + k]! * inv;
  }
  return matrix(n, d, out);
}

/** JSON part and array part of a scaling, for a head's state. */
export function scalingState(s: Scaling): { json: { kind: ScalingKind }; arrays: Record<string, Matrix> } {
  const arrays: Record<string, Matrix> = {};
  if (s.mean && s.std) {
    arrays['scaling_mean'] = matrix(1, s.mean.length, s.mean);
    arrays['scaling_std'] = matrix(1, s.std.length, s.std);
  }
  return { json: { kind: s.kind }, arrays };
}

export function scalingFromState(json: unknown, arrays: Record<string, Matrix>, dim: number): Scaling {
  const kind = (json as { kind?: unknown } | undefined)?.kind;
  if (!isScalingKind(kind)) {
    throw new ConvlensError('E_BAD_INPUT', `unknown feature scaling ${JSON.stringify(kind)} (known: ${SCALING_KINDS.join(', ')})`);
  }
  if (!usesStd(kind)) return { kind };
  const mean = arrays['scaling_mean'];
  const std = arrays['scaling_std'];
  if (!mean || !std || mean.rows * mean.cols !== dim || std.rows * std.cols !== dim) {
    throw new ConvlensError('E_BAD_INPUT', `feature scaling '${kind}' needs scaling_mean and scaling_std arrays of ${dim} values`);
  }
  return { kind, mean: mean.data, std: std.data };
}

/** The per-row steps predict applies before the (standardisation-folded) linear layer. */
export function scalingRowSteps(s: Scaling): { sqrt: boolean; l2: boolean } {
  return { sqrt: usesSqrt(s.kind), l2: usesL2(s.kind) };
}
