/**
 * Shrinkage linear discriminant analysis on problem rows: the prior centre of the softmax head.
 *
 * w_k = Σ_α⁻¹·m_k, b_k = −½·m_kᵀ·w_k + log π_k, with m_k the class means, π_k the class shares and
 * Σ_α = (1 − α)·S_w + α·v·I the within-class covariance S_w shrunk towards its mean variance v
 * (v = tr S_w / D over the embedding width D). Σ_α is never formed: conjugate gradients apply it
 * as two passes over the rows per iteration, so the cost is the same for 600 rows in the reduced
 * space and for 10k rows × 2048 dims.
 */
import { accumulateTN, crossDots } from './linalg.js';
import type { Problem } from './reduce.js';

export interface LdaWeights {
  /** C×d weights and C biases in the problem's coordinates. */
  w: Float64Array;
  b: Float64Array;
}

export function ldaWeights(p: Problem, c: number, alpha: number, embeddingDim: number): LdaWeights {
  const { x, n, d, y, lens } = p;
  const count = new Float64Array(c);
  const means = new Float64Array(c * d);
  for (let i = 0; i < n; i++) {
    const k = y[i]!;
    count[k]++;
    const o = i * d;
    const len = lens ? lens[i]! : d;
    for (let j = 0; j < len; j++) means[k * d + j] += x[o + j]!;
  }
  for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) means[k * d + j] /= Math.max(count[k]!, 1);

  // tr S_w = mean_i ‖x_i − m_{y_i}‖² = mean_i ‖x_i‖² − Σ_k π_k ‖m_k‖²
  let trace = 0;
  for (let i = 0; i < n; i++) {
    const o = i * d;
    const len = lens ? lens[i]! : d;
    for (let j = 0; j < len; j++) trace += x[o + j]! * x[o + j]!;
  }
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += means[k * d + j]! * means[k * d + j]!;
    trace -= count[k]! * s;
  }
  const v = Math.max(trace / n, 0) / embeddingDim || 1;

  // Σ_α·U for the C columns of U at once (rows of u: one vector per class)
  const dots = new Float64Array(n * c);
  const mDots = new Float64Array(c * c);
  const u32 = new Float32Array(c * d);
  const apply = (u: Float64Array, out: Float64Array): void => {
    for (let i = 0; i < u.length; i++) u32[i] = u[i]!;
    crossDots(x, n, u32, c, d, dots, lens);
    for (let j = 0; j < c; j++) {
      for (let k = 0; k < c; k++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += means[j * d + t]! * u[k * d + t]!;
        mDots[j * c + k] = s;
      }
    }
    // a_ik = (x_i − m_{y_i})·u_k, scaled by (1 − α)/n
    const classSum = new Float64Array(c * c);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < c; k++) {
        const a = ((dots[i * c + k]! - mDots[y[i]! * c + k]!) * (1 - alpha)) / n;
        dots[i * c + k] = a;
        classSum[y[i]! * c + k] += a;
      }
    }
    out.fill(0);
    accumulateTN(dots, x, n, d, c, out, lens);
    for (let k = 0; k < c; k++) {
      for (let j = 0; j < c; j++) {
        const s = classSum[j * c + k]!;
        if (s !== 0) for (let t = 0; t < d; t++) out[k * d + t] -= s * means[j * d + t]!;
      }
      for (let t = 0; t < d; t++) out[k * d + t] += alpha * v * u[k * d + t]!;
    }
  };

  // conjugate gradients on Σ_α·w_k = m_k, all classes side by side
  const w = new Float64Array(c * d);
  const r = Float64Array.from(means);
  const q = Float64Array.from(r);
  const aq = new Float64Array(c * d);
  const rr = new Float64Array(c);
  const rr0 = new Float64Array(c);
  for (let k = 0; k < c; k++) rr[k] = rr0[k] = dotRange(r, r, k * d, d);
  for (let it = 0; it < 500; it++) {
    let active = false;
    for (let k = 0; k < c; k++) if (rr[k]! > 1e-16 * rr0[k]!) active = true;
    if (!active) break;
    apply(q, aq);
    for (let k = 0; k < c; k++) {
      const o = k * d;
      if (!(rr[k]! > 1e-16 * rr0[k]!)) continue;
      const step = rr[k]! / dotRange(q, aq, o, d);
      for (let t = 0; t < d; t++) {
        w[o + t] += step * q[o + t]!;
        r[o + t] -= step * aq[o + t]!;
      }
      const next = dotRange(r, r, o, d);
      const beta = next / rr[k]!;
      rr[k] = next;
      for (let t = 0; t < d; t++) q[o + t] = r[o + t]! + beta * q[o + t]!;
    }
  }
  const b = new Float64Array(c);
  for (let k = 0; k < c; k++) b[k] = -0.5 * dotRange(means, w, k * d, d) + Math.log(Math.max(count[k]!, 1) / n);
  return { w, b };
}

function dotRange(a: Float64Array, b: Float64Array, o: number, len: number): number {
  let s = 0;
  for (let t = 0; t < len; t++) s += a[o + t]! * b[o + t]!;
  return s;
}
