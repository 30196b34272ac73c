/**
 * A linear head: probabilities = softmax(scale(x) · Wᵀ + b). The softmax head (cross-entropy) and
 * the SVM head (hinge loss, decision values calibrated by a temperature folded into W and b) both
 * predict through this one class, so they also export to ONNX the same way.
 */
import { ConvlensError, matrix, type Matrix } from '../core/index.js';
import { crossDots } from './linalg.js';
import { applyScaling, scalingFromState, scalingRowSteps, scalingState, type Scaling } from './scaling.js';
import { BaseHead, type HeadState } from './types.js';

/**
 * The head as plain linear algebra for an ONNX graph:
 * `probabilities = Softmax(Gemm(rows(x), weight, bias))` where `rows` applies, in order,
 * the signed square root when `sqrt` (ONNX: Mul(Sign(x), Sqrt(Abs(x)))) and the row
 * L2-normalisation when `l2Normalize` (ONNX: LpNormalization(p=2, axis=1)).
 * Standardisation (if any) is folded into `weight` and `bias`.
 */
export interface LinearExport {
  sqrt: boolean;
  l2Normalize: boolean;
  /** D×C (Gemm's B with transB = 0): logits = x · weight + bias. */
  weight: Matrix;
  /** C values. */
  bias: Float32Array;
}

export class LinearHead extends BaseHead {
  readonly type: 'softmax' | 'svm';
  readonly classes: readonly string[];
  readonly dim: number;
  /** C×D, row c = weights of class c in the scaled feature space. */
  readonly weight: Matrix;
  readonly bias: Float32Array;
  readonly scaling: Scaling;
  private readonly config: Record<string, unknown>;
  private readonly fit: Record<string, unknown>;

  constructor(args: {
    type: 'softmax' | 'svm';
    classes: readonly string[];
    weight: Matrix;
    bias: Float32Array;
    scaling: Scaling;
    config: Record<string, unknown>;
    fit: Record<string, unknown>;
  }) {
    super();
    this.type = args.type;
    this.classes = [...args.classes];
    this.weight = args.weight;
    this.dim = args.weight.cols;
    this.bias = args.bias;
    this.scaling = args.scaling;
    this.config = args.config;
    this.fit = args.fit;
  }

  /** Raw logits (N×C, float64) for already-scaled rows. */
  logitsScaled(xs: Matrix): Float64Array {
    const c = this.classes.length;
    const z = new Float64Array(xs.rows * c);
    crossDots(xs.data, xs.rows, this.weight.data, c, this.dim, z);
    for (let i = 0; i < xs.rows; i++) for (let k = 0; k < c; k++) z[i * c + k] += this.bias[k]!;
    return z;
  }

  predictProba(x: Matrix): Matrix {
    this.checkInput(x);
    const c = this.classes.length;
    const z = this.logitsScaled(applyScaling(x, this.scaling));
    const p = new Float32Array(z.length);
    for (let i = 0; i < x.rows; i++) softmaxRow(z, i * c, c, p);
    return matrix(x.rows, c, p);
  }

  linearExport(): LinearExport {
    const c = this.classes.length;
    const d = this.dim;
    const w = this.weight.data;
    const weight = new Float32Array(d * c);
    const bias = new Float64Array(this.bias);
    const { mean, std } = this.scaling;
    for (let k = 0; k < c; k++) {
      for (let j = 0; j < d; j++) {
        const wkj = mean && std ? w[k * d + j]! / std[j]! : w[k * d + j]!;
        weight[j * c + k] = wkj;
        if (mean) bias[k] -= mean[j]! * wkj;
      }
    }
    const steps = scalingRowSteps(this.scaling);
    return { sqrt: steps.sqrt, l2Normalize: steps.l2, weight: matrix(d, c, weight), bias: Float32Array.from(bias) };
  }

  state(): HeadState {
    const sc = scalingState(this.scaling);
    return {
      type: this.type,
      classes: [...this.classes],
      dim: this.dim,
      config: { ...this.config, scaling: sc.json },
      fit: this.fit,
      arrays: { weight: this.weight, bias: matrix(1, this.bias.length, this.bias), ...sc.arrays },
    };
  }

  static fromState(s: HeadState): LinearHead {
    if (s.type !== 'softmax' && s.type !== 'svm') throw new ConvlensError('E_INTERNAL', `not a linear head: ${s.type}`);
    const c = s.classes.length;
    const weight = s.arrays['weight'];
    const bias = s.arrays['bias'];
    if (!weight || weight.rows !== c || weight.cols !== s.dim) {
      throw new ConvlensError('E_BAD_INPUT', `${s.type} head: 'weight' must be ${c}×${s.dim}`);
    }
    if (!bias || bias.rows * bias.cols !== c) throw new ConvlensError('E_BAD_INPUT', `${s.type} head: 'bias' must have ${c} values`);
    const { scaling, ...config } = s.config;
    return new LinearHead({
      type: s.type,
      classes: s.classes,
      weight,
      bias: bias.data,
      scaling: scalingFromState(scaling, s.arrays, s.dim),
      config,
      fit: s.fit,
    });
  }
}

/** Softmax of z[o..o+c) into out[o..o+c), stable for large logits. */
export function softmaxRow(z: Float64Array, o: number, c: number, out: Float32Array | Float64Array): void {
  let max = -Infinity;
  for (let k = 0; k < c; k++) max = Math.max(max, z[o + k]!);
  let sum = 0;
  for (let k = 0; k < c; k++) sum += Math.exp(z[o + k]! - max);
  for (let k = 0; k < c; k++) out[o + k] = Math.exp(z[o + k]! - max) / sum;
}
