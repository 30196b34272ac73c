/**
 * The dense kernels of this folder, run as tiny ONNX graphs in onnxruntime-node: its MLAS GEMM is
 * the fastest matrix product reachable from Node here (single query ~ one pass over memory, batches
 * compute-bound), and it reads our Float32Arrays in place (no copy of the N×D data per call).
 * The graphs are written by hand with a minimal protobuf encoder: four ops do not justify a
 * protobuf dependency.
 */
import * as ort from 'onnxruntime-node';

// ---- minimal protobuf writer (wire types 0 = varint, 2 = length-delimited) ----

class ProtoWriter {
  private readonly bytes: number[] = [];

  private varint(value: number): void {
    let v = value;
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  int(field: number, value: number): this {
    this.varint(field * 8);
    this.varint(value);
    return this;
  }

  raw(field: number, data: Uint8Array): this {
    this.varint(field * 8 + 2);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  str(field: number, s: string): this {
    return this.raw(field, new TextEncoder().encode(s));
  }

  msg(field: number, fill: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    fill(w);
    return this.raw(field, w.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

/** onnx.TensorProto.DataType values used here. */
const FLOAT = 1;
const INT64 = 7;

type Dim = number | string;

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  ints?: Record<string, number | number[]>;
}

interface GraphSpec {
  inputs: [name: string, elem: number, dims: Dim[]][];
  outputs: [name: string, elem: number, dims: Dim[]][];
  nodes: NodeSpec[];
}

function valueInfo(w: ProtoWriter, field: number, [name, elem, dims]: [string, number, Dim[]]): void {
  w.msg(field, (v) => {
    v.str(1, name); // ValueInfoProto.name
    v.msg(2, (t) =>
      t.msg(1, (tt) => {
        // TypeProto.tensor_type
        tt.int(1, elem);
        tt.msg(2, (shape) => {
          for (const d of dims) shape.msg(1, (dd) => (typeof d === 'number' ? dd.int(1, d) : dd.str(2, d)));
        });
      }),
    );
  });
}

/** Serialise a single-graph ModelProto (IR 8, default domain opset 17). */
export function encodeModel(spec: GraphSpec): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, 8); // ir_version
  w.str(2, 'convlens-search'); // producer_name
  w.msg(7, (g) => {
    spec.nodes.forEach((n, i) => {
      g.msg(1, (nw) => {
        for (const x of n.inputs) nw.str(1, x);
        for (const x of n.outputs) nw.str(2, x);
        nw.str(3, `${n.op.toLowerCase()}_${i}`);
        nw.str(4, n.op);
        for (const [name, value] of Object.entries(n.ints ?? {})) {
          nw.msg(5, (a) => {
            a.str(1, name);
            if (Array.isArray(value)) {
              for (const v of value) a.int(8, v); // AttributeProto.ints
              a.int(20, 7); // type INTS
            } else {
              a.int(3, value); // AttributeProto.i
              a.int(20, 2); // type INT
            }
          });
        }
      });
    });
    g.str(2, 'search');
    for (const x of spec.inputs) valueInfo(g, 11, x);
    for (const x of spec.outputs) valueInfo(g, 12, x);
  });
  w.msg(8, (o) => o.int(2, 17)); // opset_import: default domain, version 17
  return w.finish();
}

// ---- the graphs ----

/** S[B,N] = Q[B,D] · X[N,D]ᵀ */
const GEMM = encodeModel({
  inputs: [
    ['Q', FLOAT, ['B', 'D']],
    ['X', FLOAT, ['N', 'D']],
  ],
  outputs: [['S', FLOAT, ['B', 'N']]],
  nodes: [{ op: 'Gemm', inputs: ['Q', 'X'], outputs: ['S'], ints: { transB: 1 } }],
});

/** Y[B,N] = A[B,K] · W[N,K]ᵀ + C[N] */
const AFFINE = encodeModel({
  inputs: [
    ['A', FLOAT, ['B', 'K']],
    ['W', FLOAT, ['N', 'K']],
    ['C', FLOAT, ['N']],
  ],
  outputs: [['Y', FLOAT, ['B', 'N']]],
  nodes: [{ op: 'Gemm', inputs: ['A', 'W', 'C'], outputs: ['Y'], ints: { transB: 1 } }],
});

/** N2[N] = Σ_d X[N,d]² */
const SQUARED_NORMS = encodeModel({
  inputs: [['X', FLOAT, ['N', 'D']]],
  outputs: [['N2', FLOAT, ['N']]],
  nodes: [{ op: 'ReduceSumSquare', inputs: ['X'], outputs: ['N2'], ints: { axes: [1], keepdims: 0 } }],
});

/**
 * Pairs (b, n) with Q[b]·X[n] ≥ QT[b]·XN[n], as NonZero's [2, count] int64 coordinates: the
 * comparison runs inside ORT so a B×N block of scores never crosses into JavaScript.
 */
const PAIRS = encodeModel({
  inputs: [
    ['Q', FLOAT, ['B', 'D']],
    ['X', FLOAT, ['N', 'D']],
    ['QT', FLOAT, ['B', 1]],
    ['XN', FLOAT, [1, 'N']],
  ],
  outputs: [['P', INT64, [2, 'M']]],
  nodes: [
    { op: 'Gemm', inputs: ['Q', 'X'], outputs: ['S'], ints: { transB: 1 } },
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
export async function dotProducts(q: Float32Array, b: number, x: Float32Array, n: number, d: number, threads: number): Promise<Float32Array> {
  if (b === 0 || n === 0) return new Float32Array(b * n);
  const s = await session('gemm', threads);
  const out = await s.run({ Q: tensor(q, [b, d]), X: tensor(x, [n, d]) });
  return out.S!.data as Float32Array;
}

/** A · Wᵀ + c for A (b×k) and W (n×k): a b×n Float32Array. */
export async function affine(a: Float32Array, b: number, w: Float32Array, n: number, k: number, c: Float32Array, threads: number): Promise<Float32Array> {
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
