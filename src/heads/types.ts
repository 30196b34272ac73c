import { ConvlensError, matrix, type Matrix } from '../core/index.js';

export type HeadType = 'softmax' | 'knn' | 'svm';

/** One ranked class for one input row. `index` is the position in `head.classes`. */
export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/**
 * Everything a head needs to be rebuilt: small JSON (`config`) plus named float32 arrays.
 * `saveModelDir` writes each array as `<name>.npy`; `toJSON` inlines them as base64.
 */
export interface HeadState {
  type: HeadType;
  classes: string[];
  dim: number;
  /** Hyper-parameters and feature scaling, as trained (chosen or given). */
  config: Record<string, unknown>;
  /** How the hyper-parameters were chosen (cross-validation scores, iterations), for people. */
  fit: Record<string, unknown>;
  arrays: Record<string, Matrix>;
}

/** The interface all heads share. */
export interface Head {
  readonly type: HeadType;
  readonly classes: readonly string[];
  /** Embedding width the head was trained on. */
  readonly dim: number;
  /** N×C class probabilities, rows summing to 1. */
  predictProba(x: Matrix): Matrix;
  /** Top-1 per row. */
  predict(x: Matrix): Prediction[];
  /** Top-`n` per row, most probable first (ties: lower class index first). */
  predictTop(x: Matrix, n: number): Prediction[][];
  state(): HeadState;
  /** Self-contained JSON (arrays as base64 little-endian float32); `loadHead` reverses it. */
  toJSON(): HeadJSON;
}

export interface HeadJSON {
  type: HeadType;
  classes: string[];
  dim: number;
  config: Record<string, unknown>;
  fit: Record<string, unknown>;
  arrays: Record<string, { shape: [number, number]; base64: string }>;
}

/** predict / predictTop / toJSON on top of predictProba, shared by every head. */
export abstract class BaseHead implements Head {
  abstract readonly type: HeadType;
  abstract readonly classes: readonly string[];
  abstract readonly dim: number;
  abstract predictProba(x: Matrix): Matrix;
  abstract state(): HeadState;

  predict(x: Matrix): Prediction[] {
    return this.predictTop(x, 1).map((r) => r[0]!);
  }

  predictTop(x: Matrix, n: number): Prediction[][] {
    const p = this.predictProba(x);
    const c = this.classes.length;
    const top = Math.max(1, Math.min(Math.floor(n), c));
    const out: Prediction[][] = [];
    for (let i = 0; i < p.rows; i++) {
      const order = Array.from({ length: c }, (_, k) => k);
      const rowP = p.data.subarray(i * c, (i + 1) * c);
      order.sort((a, b) => rowP[b]! - rowP[a]! || a - b);
      out.push(order.slice(0, top).map((k) => ({ index: k, label: this.classes[k]!, probability: rowP[k]! })));
    }
    return out;
  }

  toJSON(): HeadJSON {
    const s = this.state();
    const arrays: HeadJSON['arrays'] = {};
    for (const [name, m] of Object.entries(s.arrays)) {
      arrays[name] = {
        shape: [m.rows, m.cols],
        base64: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('base64'),
      };
    }
    return { type: s.type, classes: s.classes, dim: s.dim, config: s.config, fit: s.fit, arrays };
  }

  /** Guard every entry point: a wrong width means embeddings from another model or layer. */
  protected checkInput(x: Matrix): void {
    if (x.cols !== this.dim) {
      throw new ConvlensError('E_SETTINGS_MISMATCH', `${this.type} head expects ${this.dim}-d embeddings, got ${x.cols}-d`);
    }
  }
}

/** Decode a `HeadJSON` array entry (base64 float32) back into a matrix. */
export function decodeJSONArray(name: string, a: { shape: [number, number]; base64: string }): Matrix {
  const buf = Buffer.from(a.base64, 'base64');
  const [rows, cols] = a.shape;
  if (buf.length !== rows * cols * 4) {
    throw new ConvlensError('E_BAD_INPUT', `head JSON: array '${name}' has ${buf.length} bytes, expected ${rows}×${cols} float32`);
  }
  const data = new Float32Array(rows * cols);
  Buffer.from(data.buffer).set(buf);
  return matrix(rows, cols, data);
}
