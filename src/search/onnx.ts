/**
 * The dense kernels of this folder, run as tiny ONNX graphs in onnxruntime-node: its MLAS GEMM is
 * the fastest matrix product reachable from Node here (single query ~ one pass over memory, batches
 * compute-bound), and it reads our Float32Arrays in place (no copy of the N×D data per call).
 * The graphs are written with the converter's ONNX encoder.
 */
// the ONNX module first: it sets the environment ONNX Runtime reads when it starts
import { attr, encodeModel, TensorType, type AttributeValue, type Dim, type TensorTypeCode } from '../onnx/index.js';
import * as ort from 'onnxruntime-node';

const { FLOAT, INT64 } = TensorType;

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

interface GraphSpec {
  inputs: [name: string, elem: TensorTypeCode, dims: Dim[]][];
  outputs: [name: string, elem: TensorTypeCode, dims: Dim[]][];
  nodes: NodeSpec[];
}

/** A single-graph model (default domain, opset 17) from a compact description. */
export function graphModel(spec: GraphSpec): Uint8Array {
  const valueInfo = ([name, elemType, shape]: [string, TensorTypeCode, Dim[]]) => ({ name, elemType, shape });
  return encodeModel({
    producerName: 'convlens-search',
    producerVersion: '1',
    opsetVersion: 17,
    graph: {
      name: 'search',
      nodes: spec.nodes.map((n, i) => ({
        opType: n.op,
        name: `${n.op.toLowerCase()}_${i}`,
        inputs: n.inputs,
        outputs: n.outputs,
        attributes: n.attributes ?? {},
      })),
      initializers: [],
      inputs: spec.inputs.map(valueInfo),
      outputs: spec.outputs.map(valueInfo),
    },
  });
}

// ---- the graphs ----

/** S[B,N] = Q[B,D] · X[N,D]ᵀ */
const GEMM = graphModel({
  inputs: [
    ['Q', FLOAT, ['B', 'D']],
    ['X', FLOAT, ['N', 'D']],
  ],
  outputs: [['S', FLOAT, ['B', 'N']]],
  nodes: [{ op: 'Gemm', inputs: ['Q', 'X'], outputs: ['S'], attributes: { transB: attr.int(1) } }],
});

/** Y[B,N] = A[B,K] · W[N,K]ᵀ + C[N] */
const AFFINE = graphModel({
  inputs: [
    ['A', FLOAT, ['B', 'K']],
    ['W', FLOAT, ['N', 'K']],
    ['C', FLOAT, ['N']],
  ],
  outputs: [['Y', FLOAT, ['B', 'N']]],
  nodes: [{ op: 'Gemm', inputs: ['A', 'W', 'C'], outputs: ['Y'], attributes: { transB: attr.int(1) } }],
});

/** N2[N] = Σ_d X[N,d]² */
const SQUARED_NORMS = graphModel({
  inputs: [['X', FLOAT, ['N', 'D']]],
  outputs: [['N2', FLOAT, ['N']]],
  nodes: [{ op: 'ReduceSumSquare', inputs: ['X'], outputs: ['N2'], attributes: { axes: attr.ints([1]), keepdims: attr.int(0) } }],
});

/**
 * Pairs (b, n) with Q[b]·X[n] ≥ QT[b]·XN[n], as NonZero's [2, count] int64 coordinates: the
 * comparison runs inside ORT so a B×N block of scores never crosses into JavaScript.
 */
const PAIRS = graphModel({
  inputs: [
    ['Q', FLOAT, ['B', 'D']],
    ['X', FLOAT, ['N', 'D']],
    ['QT', FLOAT, ['B', 1]],
    ['XN', FLOAT, [1, 'N']],
  ],
  outputs: [['P', INT64, [2, 'M']]],
  nodes: [
    { op: 'Gemm', inputs: ['Q', 'X'], outputs: ['S'], attributes: { transB: attr.int(1) } },
    { op: 'Mul', inputs: ['QT', 'XN'], outputs: ['T'] },
    { op: 'GreaterOrEqual', inputs: ['S', 'T'], outputs: ['G'] },
    { op: 'NonZero', inputs: ['G'], outputs: ['P'] },
  ],
});

type GraphName = 'gemm' | 'affine' | 'norms' | 'pairs';
const MODELS: Record<GraphName, Uint8Array> = { gemm: GEMM, affine: AFFINE, norms: SQUARED_NORMS, pairs: PAIRS };
const sessions = new Map<string, Promise<ort.InferenceSession>>();

function session(name: GraphName, threads: number): Promise<ort.InferenceSession> {
  const key = `${name}/${threads}`;
  let s = sessions.get(key);
  if (s === undefined) {
    s = ort.InferenceSession.create(MODELS[name], {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // no busy-waiting between calls: the machine is shared with decoding and inference
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    sessions.set(key, s);
  }
  return s;
}

function tensor(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

/** Query rows per ORT call so that one float32 output block stays near 64 MB. */
export function blockRows(outputCols: number): number {
  return Math.max(1, Math.floor((16 * 1024 * 1024) / Math.max(1, outputCols)));
}

/**
 * Dot products of `q` (b×d, row-major) with every row of `x` (n×d): a b×n Float32Array.
 * `threads` 0 lets ORT use every core.
 */
export async function dotProducts(
  q: Float32Array,
  b: number,
  x: Float32Array,
  n: number,
  d: number,
  threads: number,
): Promise<Float32Array> {
  if (b === 0 || n === 0) return new Float32Array(b * n);
  const s = await session('gemm', threads);
  const out = await s.run({ Q: tensor(q, [b, d]), X: tensor(x, [n, d]) });
  return out.S!.data as Float32Array;
}

/** A · Wᵀ + c for A (b×k) and W (n×k): a b×n Float32Array. */
export async function affine(
  a: Float32Array,
  b: number,
  w: Float32Array,
  n: number,
  k: number,
  c: Float32Array,
  threads: number,
): Promise<Float32Array> {
  const s = await session('affine', threads);
  const out = await s.run({ A: tensor(a, [b, k]), W: tensor(w, [n, k]), C: tensor(c, [n]) });
  return out.Y!.data as Float32Array;
}

/** Σ x² of every row of x (n×d), in float32. */
export async function squaredNorms(x: Float32Array, n: number, d: number, threads: number): Promise<Float32Array> {
  if (n === 0) return new Float32Array(0);
  const s = await session('norms', threads);
  const out = await s.run({ X: tensor(x, [n, d]) });
  return out.N2!.data as Float32Array;
}

/**
 * Index pairs (i, j), i over the b rows of q and j over the n rows of x, whose dot product is at
 * least qt[i]·xn[j]. Returns the flat pair coordinates (i0, j0, i1, j1, ...).
 */
export async function pairsAbove(
  q: Float32Array,
  b: number,
  x: Float32Array,
  n: number,
  d: number,
  qt: Float32Array,
  xn: Float32Array,
  threads: number,
): Promise<{ rows: BigInt64Array; cols: BigInt64Array }> {
  const s = await session('pairs', threads);
  const out = await s.run({ Q: tensor(q, [b, d]), X: tensor(x, [n, d]), QT: tensor(qt, [b, 1]), XN: tensor(xn, [1, n]) });
  const p = out.P!;
  const data = p.data as BigInt64Array;
  const m = p.dims[1] ?? 0;
  return { rows: data.subarray(0, m), cols: data.subarray(m, 2 * m) };
}
