/**
 * A dense row-major float32 matrix: the one shape embeddings travel in between modules
 * (collection -> search / projection / heads). Rows are items, columns are dimensions.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) {
    throw new RangeError(`matrix: data length ${d.length} is not ${rows}×${cols}`);
  }
  return { rows, cols, data: d };
}

/** Row i as a view (no copy). */
export function row(m: Matrix, i: number): Float32Array {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}

/** Stack equal-length vectors into a new matrix. */
export function fromRows(rows: ArrayLike<number>[], cols?: number): Matrix {
  const c = cols ?? (rows.length > 0 ? rows[0]!.length : 0);
  const m = matrix(rows.length, c);
  rows.forEach((r, i) => {
    if (r.length !== c) throw new RangeError(`fromRows: row ${i} has ${r.length} values, expected ${c}`);
    m.data.set(r as ArrayLike<number>, i * c);
  });
  return m;
}

/** True when every value is finite (no NaN, no Infinity). */
export function allFinite(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/** Fraction of exactly-zero values (ReLU sparsity of a representation). */
export function zeroFraction(v: ArrayLike<number>): number {
  let z = 0;
  for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
  return v.length === 0 ? 0 : z / v.length;
}
