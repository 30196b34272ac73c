/**
 * Scalar quantisation to int8. Per-row scales (row / max|row| · 127) keep the most precision and
 * suit cosine, which ignores each vector's scale. Euclidean distances need one scale for all rows,
 * so that the int8 vectors keep their relative lengths.
 *
 * Not usearch's own f32 → i8 cast: it divides by the L2 norm and truncates, which leaves a typical
 * 2048-d embedding component (≈ 0.02 of the norm) only two or three levels.
 */
import type { Matrix } from '../core/index.js';

function maxAbs(a: Float32Array, from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) {
    const v = a[i]!;
    const abs = v < 0 ? -v : v;
    if (abs > m) m = abs;
  }
  return m;
}

/** Round half away from zero by truncation: three times faster than Math.round plus a clamp here. */
function quantizeInto(src: Float32Array, from: number, to: number, inv: number, out: Int8Array, at: number): void {
  for (let i = from, j = at; i < to; i++, j++) {
    let v = src[i]! * inv;
    if (v > 127) v = 127;
    else if (v < -127) v = -127;
    out[j] = v >= 0 ? (v + 0.5) | 0 : -((0.5 - v) | 0);
  }
}

/** Every row scaled by its own max |value| to ±127. */
export function quantizeRowsPerRow(m: Matrix): Int8Array {
  const out = new Int8Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    const from = r * m.cols;
    const to = from + m.cols;
    const mx = maxAbs(m.data, from, to);
    if (mx > 0) quantizeInto(m.data, from, to, 127 / mx, out, from);
  }
  return out;
}

/** One vector scaled by its own max |value| (the query side of `quantizeRowsPerRow`). */
export function quantizeVectorPerRow(v: Float32Array): Int8Array {
  const out = new Int8Array(v.length);
  const mx = maxAbs(v, 0, v.length);
  if (mx > 0) quantizeInto(v, 0, v.length, 127 / mx, out, 0);
  return out;
}

/** The shared scale for `quantizeWithScale`: the largest |value| in the matrix maps to 127. */
export function globalScale(m: Matrix): number {
  const mx = maxAbs(m.data, 0, m.data.length);
  return mx > 0 ? mx / 127 : 1;
}

/** Values divided by `scale`, rounded and clamped to ±127 (queries outside the data's range saturate). */
export function quantizeWithScale(v: Float32Array, scale: number): Int8Array {
  const out = new Int8Array(v.length);
  quantizeInto(v, 0, v.length, 1 / scale, out, 0);
  return out;
}
