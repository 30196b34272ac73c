/**
 * Small dense kernels for the heads. Sizes are modest (up to ~10k × 2048 × tens of classes) and
 * plain JS runs them at 1-2 GMAC/s when several accumulators share each loaded value, so the
 * loops below block 2 rows × 4 outputs (or 4 outputs) at a time; sums are kept in float64.
 */

/**
 * g_j += Σ_i r[i*m + j] · a_i for rows a_i of A (n×d): the gradient Rᵀ A, G is m×d.
 * `lens`: row i of A is zero beyond its first lens[i] values (see reduce.ts), which are skipped.
 */
export function accumulateTN(r: Float64Array, a: Float32Array, n: number, d: number, m: number, g: Float64Array, lens?: Int32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * d;
    const ri = i * m;
    const len = lens ? lens[i]! : d;
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const r0 = r[ri + j]!,
        r1 = r[ri + j + 1]!,
        r2 = r[ri + j + 2]!,
        r3 = r[ri + j + 3]!;
      if (r0 === 0 && r1 === 0 && r2 === 0 && r3 === 0) continue;
      const g0 = j * d;
      const g1 = g0 + d;
      const g2 = g1 + d;
      const g3 = g2 + d;
      for (let k = 0; k < len; k++) {
        const x = a[o + k]!;
        g[g0 + k] += r0 * x;
        g[g1 + k] += r1 * x;
        g[g2 + k] += r2 * x;
        g[g3 + k] += r3 * x;
      }
    }
    for (; j < m; j++) {
      const r0 = r[ri + j]!;
      if (r0 === 0) continue;
      const g0 = j * d;
      for (let k = 0; k < len; k++) g[g0 + k] += r0 * a[o + k]!;
    }
  }
}

/**
 * out[i*m + j] = a_i · b_j for two float32 row sets (A n×d, B m×d): logits, decision values and
 * k-NN similarities. Products of two float32 values are exact in float64, so the only rounding is
 * in the sums. Blocks 2 rows of A against 4 rows of B; one kernel for every caller keeps V8 on a
 * single monomorphic path (mixing float32 and float64 operands here costs ~25%).
 * `lens`: row i of A is zero beyond its first lens[i] values, which the sums then skip.
 */
export function crossDots(a: Float32Array, n: number, b: Float32Array, m: number, d: number, out: Float64Array, lens?: Int32Array): void {
  let i = 0;
  for (; i + 2 <= n; i += 2) {
    const o = i * d;
    const p = o + d;
    const ro = i * m;
    const rp = ro + m;
    const len = lens ? Math.max(lens[i]!, lens[i + 1]!) : d;
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const w0 = j * d;
      const w1 = w0 + d;
      const w2 = w1 + d;
      const w3 = w2 + d;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0,
        t0 = 0,
        t1 = 0,
        t2 = 0,
        t3 = 0;
      for (let k = 0; k < len; k++) {
        const x = a[o + k]!;
        const y = a[p + k]!;
        const b0 = b[w0 + k]!,
          b1 = b[w1 + k]!,
          b2 = b[w2 + k]!,
          b3 = b[w3 + k]!;
        s0 += x * b0;
        s1 += x * b1;
        s2 += x * b2;
        s3 += x * b3;
        t0 += y * b0;
        t1 += y * b1;
        t2 += y * b2;
        t3 += y * b3;
      }
      out[ro + j] = s0;
      out[ro + j + 1] = s1;
      out[ro + j + 2] = s2;
      out[ro + j + 3] = s3;
      out[rp + j] = t0;
      out[rp + j + 1] = t1;
      out[rp + j + 2] = t2;
      out[rp + j + 3] = t3;
    }
    for (; j < m; j++) {
      const w0 = j * d;
      let s0 = 0,
        t0 = 0;
      for (let k = 0; k < len; k++) {
        const bv = b[w0 + k]!;
        s0 += a[o + k]! * bv;
        t0 += a[p + k]! * bv;
      }
      out[ro + j] = s0;
      out[rp + j] = t0;
    }
  }
  for (; i < n; i++) {
    const o = i * d;
    const len = lens ? lens[i]! : d;
    for (let j = 0; j < m; j++) {
      const w0 = j * d;
      let s = 0;
      for (let k = 0; k < len; k++) s += a[o + k]! * b[w0 + k]!;
      out[i * m + j] = s;
    }
  }
}

/** Squared L2 norm of each row of A (n×d). */
export function rowSquaredNorms(a: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * d;
    for (let k = 0; k < d; k++) {
      const v = a[o + k]!;
      s += v * v;
    }
    out[i] = s;
  }
  return out;
}

/** Copy the listed rows of A (n×d) into a new float32 array (|rows|×d). */
export function gatherRows(a: Float32Array, d: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(a.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

/** The Gram matrix A·Aᵀ (n×n, float64) of the rows of A (n×d); computes each block pair once. */
export function gram(a: Float32Array, n: number, d: number): Float64Array {
  const g = new Float64Array(n * n);
  const block = 64;
  for (let i0 = 0; i0 < n; i0 += block) {
    const rows = Math.min(block, n - i0);
    const cols = n - i0;
    const tmp = new Float64Array(rows * cols);
    crossDots(a.subarray(i0 * d, (i0 + rows) * d), rows, a.subarray(i0 * d), cols, d, tmp);
    for (let r = 0; r < rows; r++) {
      for (let j = r; j < cols; j++) {
        const v = tmp[r * cols + j]!;
        g[(i0 + r) * n + i0 + j] = v;
        g[(i0 + j) * n + i0 + r] = v;
      }
    }
  }
  return g;
}
