/**
 * Static int8 quantization of a converted backbone, in the QDQ form ONNX Runtime fuses into
 * integer kernels: each quantized activation is QuantizeLinear → DequantizeLinear around the
 * float op, so ORT's graph optimizer rewrites DQ → Conv → Q into QLinearConv, DQ → Add → Q into
 * QLinearAdd and DQ → MaxPool → Q into a uint8 MaxPool (checked against its optimized-model
 * output in the tests).
 *
 * - Weights: int8, symmetric, one scale per output channel; biases int32 at scale s_x·s_w.
 * - Activations: uint8, one scale and zero point per tensor, from calibrated ranges. A ReLU's
 *   output has zero point 0, so ORT drops the ReLU into the quantization step.
 * - What stays float: global average pooling and the dense layer (2 M of the 4 G multiply-adds,
 *   so integer kernels would save nothing there and cost accuracy), hence the embedding
 *   (`avg_pool`) is an average of dequantized values, not itself rounded to 8 bits.
 *
 * First `foldGraph` makes the converted graph quantization-friendly (BatchNormalization folded
 * into the Conv before it, zero padding into the next Conv/MaxPool, Identity nodes dropped,
 * two-input Sum as Add); `quantizationPoints` names the tensors to calibrate; `quantizeGraph`
 * writes the QDQ graph from their ranges.
 */
import { ConvlensError } from '../core/errors.js';
import { attr, floatTensor, TensorType, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../onnx/index.js';

/** Observed (or clipped) range of one activation tensor. */
export interface TensorRange {
  min: number;
  max: number;
}

const floatsOf = (t: OnnxTensor): Float32Array => {
  if (t.dataType !== TensorType.FLOAT) throw new ConvlensError('E_INTERNAL', `${t.name}: expected a float tensor`);
  return new Float32Array(t.raw.slice().buffer);
};

const int64sOf = (t: OnnxTensor): number[] => Array.from(new BigInt64Array(t.raw.slice().buffer), Number);

function intsAttr(n: OnnxNode, name: string): number[] | undefined {
  const a = n.attributes?.[name];
  return a?.kind === 'ints' ? a.value : undefined;
}

function consumersOf(nodes: OnnxNode[]): Map<string, OnnxNode[]> {
  const m = new Map<string, OnnxNode[]>();
  for (const n of nodes) for (const i of n.inputs) m.set(i, [...(m.get(i) ?? []), n]);
  return m;
}

/**
 * The same function as `graph`, rewritten for quantization (and no slower in float: ORT makes
 * these folds itself when it optimizes a session).
 */
export function foldGraph(graph: OnnxGraph): OnnxGraph {
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const init = new Map(graph.initializers.map((t) => [t.name, t]));

  // Identity nodes: their consumers read the input directly
  const rename = new Map<string, string>();
  const resolve = (name: string): string => rename.get(name) ?? name;
  let nodes: OnnxNode[] = [];
  for (const n of graph.nodes) {
    const inputs = n.inputs.map(resolve);
    if (n.opType === 'Identity' && !outputs.has(n.outputs[0]!)) rename.set(n.outputs[0]!, inputs[0]!);
    else nodes.push({ ...n, inputs, attributes: { ...n.attributes } });
  }

  const producer = new Map<string, OnnxNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const consumers = consumersOf(nodes);
  const only = (tensor: string): OnnxNode | undefined => {
    const c = consumers.get(tensor);
    return c?.length === 1 && !outputs.has(tensor) ? c[0] : undefined;
  };
  const removed = new Set<OnnxNode>();

  for (const n of nodes) {
    if (n.opType === 'Pad') {
      // zero padding of H and W only, read by one Conv (or by a MaxPool over a ReLU's output,
      // where max with 0 and max with -inf padding agree: every window holds a real value ≥ 0)
      const mode = n.attributes?.mode;
      const pads = n.inputs[1] !== undefined ? init.get(n.inputs[1]) : undefined;
      const next = only(n.outputs[0]!);
      if (!pads || n.inputs.length > 2 || (mode && (mode.kind !== 'string' || mode.value !== 'constant')) || !next) continue;
      const [n0, c0, top, left, n1, c1, bottom, right] = int64sOf(pads);
      if (n0 || c0 || n1 || c1) continue;
      const nonNegative = producer.get(n.inputs[0]!)?.opType === 'Relu';
      if (next.opType !== 'Conv' && !(next.opType === 'MaxPool' && nonNegative)) continue;
      const p = intsAttr(next, 'pads') ?? [0, 0, 0, 0];
      next.attributes!.pads = attr.ints([p[0]! + top!, p[1]! + left!, p[2]! + bottom!, p[3]! + right!]);
      next.inputs[0] = n.inputs[0]!;
      removed.add(n);
    } else if (n.opType === 'BatchNormalization') {
      const conv = producer.get(n.inputs[0]!);
      if (conv?.opType !== 'Conv' || only(n.inputs[0]!) !== n) continue;
      const [gamma, beta, mean, variance] = n.inputs.slice(1).map((name) => init.get(name));
      const kernel = init.get(conv.inputs[1]!);
      if (!gamma || !beta || !mean || !variance || !kernel) continue;
      const eps = n.attributes?.epsilon?.kind === 'float' ? n.attributes.epsilon.value : 1e-5;
      const [g, b, m, v] = [gamma, beta, mean, variance].map(floatsOf) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const w = floatsOf(kernel);
      const oldBias = conv.inputs[2] !== undefined ? floatsOf(init.get(conv.inputs[2])!) : new Float32Array(g.length);
      const perOut = w.length / g.length;
      const bias = new Float32Array(g.length);
      for (let o = 0; o < g.length; o++) {
        const s = g[o]! / Math.sqrt(v[o]! + eps);
        for (let i = o * perOut; i < (o + 1) * perOut; i++) w[i] = w[i]! * s;
        bias[o] = (oldBias[o]! - m[o]!) * s + b[o]!;
      }
      const kName = `${conv.name}/kernel_bn`;
      const bName = `${conv.name}/bias_bn`;
      init.set(kName, floatTensor(kName, kernel.dims, w));
      init.set(bName, floatTensor(bName, [g.length], bias));
      conv.inputs = [conv.inputs[0]!, kName, bName];
      conv.outputs = [n.outputs[0]!];
      removed.add(n);
    } else if (n.opType === 'Sum' && n.inputs.length === 2) {
      n.opType = 'Add';
    }
  }
  nodes = nodes.filter((n) => !removed.has(n));
  const used = new Set(nodes.flatMap((n) => n.inputs));
  return { ...graph, nodes, initializers: [...init.values()].filter((t) => used.has(t.name)) };
}

/** One quantized tensor: its own calibrated range, or (after a MaxPool) its input's. */
export interface QuantizationPoint {
  tensor: string;
  /** the tensor whose range this one uses (itself unless a MaxPool passes it through) */
  rangeOf: string;
}

/**
 * The activation tensors a QDQ graph quantizes, in graph order: every Conv's input and output,
 * every Add's inputs and output, every MaxPool's input and output. An output read only by a
 * ReLU is quantized after the ReLU instead.
 */
export function quantizationPoints(graph: OnnxGraph): QuantizationPoint[] {
  const consumers = consumersOf(graph.nodes);
  const points = new Map<string, string>();
  const afterRelu = (t: string): string => {
    const c = consumers.get(t);
    return c?.length === 1 && c[0]!.opType === 'Relu' ? c[0]!.outputs[0]! : t;
  };
  const add = (tensor: string, rangeOf = tensor): void => {
    if (!points.has(tensor)) points.set(tensor, rangeOf);
  };
  for (const n of graph.nodes) {
    if (n.opType === 'Conv') {
      add(n.inputs[0]!);
      add(afterRelu(n.outputs[0]!));
    } else if (n.opType === 'Add') {
      for (const i of n.inputs) add(i);
      add(afterRelu(n.outputs[0]!));
    } else if (n.opType === 'MaxPool') {
      add(n.inputs[0]!);
      add(n.outputs[0]!, points.get(n.inputs[0]!));
    }
  }
  return [...points].map(([tensor, rangeOf]) => ({ tensor, rangeOf }));
}

/** The tensors whose ranges calibration must measure. */
export const calibratedTensors = (points: QuantizationPoint[]): string[] =>
  points.filter((p) => p.rangeOf === p.tensor).map((p) => p.tensor);

/**
 * The float graph with every calibrated tensor as an extra output, for collecting ranges: whole
 * (for histograms), or with `minmax` only its minimum and maximum over the batch (`<name>/min`,
 * `<name>/max`), reduced by ONNX Runtime instead of copied out.
 */
export function calibrationGraph(graph: OnnxGraph, tensors: string[], options: { minmax?: boolean } = {}): OnnxGraph {
  if (!options.minmax) {
    return {
      ...graph,
      outputs: [
        ...graph.outputs,
        ...tensors.map((name) => ({ name, elemType: TensorType.FLOAT, shape: ['batch', `${name}_c`, `${name}_h`, `${name}_w`] })),
      ],
    };
  }
  const reduce = tensors.flatMap((t) =>
    (['Min', 'Max'] as const).map((op) => ({
      opType: `Reduce${op}`,
      name: `${t}/${op.toLowerCase()}`,
      inputs: [t],
      outputs: [`${t}/${op.toLowerCase()}`],
      attributes: { keepdims: attr.int(0) },
    })),
  );
  return {
    ...graph,
    nodes: [...graph.nodes, ...reduce],
    outputs: [...graph.outputs, ...reduce.map((n) => ({ name: n.outputs[0]!, elemType: TensorType.FLOAT, shape: [] }))],
  };
}

interface Affine {
  scale: number;
  zeroPoint: number;
}

/** uint8 parameters covering [min, max] (widened to hold 0 exactly, as ONNX requires). */
export function uint8Params(range: TensorRange): Affine {
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  if (!Number.isFinite(min) || !Number.isFinite(max))
    throw new ConvlensError('E_MODEL', `calibration range [${min}, ${max}] is not finite`);
  const scale = max > min ? (max - min) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))) };
}

const tensorOfBytes = (name: string, dims: number[], dataType: OnnxTensor['dataType'], data: ArrayBufferView): OnnxTensor => ({
  name,
  dims,
  dataType,
  raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
});

/**
 * The QDQ int8 graph of a folded float graph, given each calibrated tensor's range.
 */
export function quantizeGraph(graph: OnnxGraph, ranges: ReadonlyMap<string, TensorRange>): OnnxGraph {
  const points = new Map(quantizationPoints(graph).map((p) => [p.tensor, p.rangeOf]));
  const init = new Map(graph.initializers.map((t) => [t.name, t]));
  const params = new Map<string, Affine>();
  const extra: OnnxTensor[] = [];
  for (const [tensor, rangeOf] of points) {
    const range = ranges.get(rangeOf);
    if (!range) throw new ConvlensError('E_MODEL', `no calibrated range for ${rangeOf}`);
    const p = uint8Params(range);
    params.set(tensor, p);
    extra.push(
      floatTensor(`${tensor}/scale`, [], Float32Array.of(p.scale)),
      tensorOfBytes(`${tensor}/zero_point`, [], TensorType.UINT8, Uint8Array.of(p.zeroPoint)),
    );
  }

  const nodes: OnnxNode[] = [];
  const quantize = (tensor: string): void => {
    if (!params.has(tensor)) return;
    nodes.push({
      opType: 'QuantizeLinear',
      name: `${tensor}/quantize`,
      inputs: [tensor, `${tensor}/scale`, `${tensor}/zero_point`],
      outputs: [`${tensor}/q`],
    });
  };
  // one DequantizeLinear per consumer, so each fused group owns its own
  const dequantized = (tensor: string, consumer: OnnxNode): string => {
    if (!params.has(tensor)) return tensor;
    const out = `${tensor}/dq/${consumer.name}`;
    nodes.push({
      opType: 'DequantizeLinear',
      name: out,
      inputs: [`${tensor}/q`, `${tensor}/scale`, `${tensor}/zero_point`],
      outputs: [out],
    });
    return out;
  };

  for (const i of graph.inputs) quantize(i.name);
  const replaced = new Set<string>();
  for (const n of graph.nodes) {
    const inputs = n.inputs.map((i) => dequantized(i, n));
    if (n.opType === 'Conv' && params.has(n.inputs[0]!)) {
      const sx = params.get(n.inputs[0]!)!.scale;
      const kernel = init.get(n.inputs[1]!);
      if (!kernel) throw new ConvlensError('E_MODEL', `${n.name}: its kernel is not a constant`);
      const { tensors, scales } = quantizeKernel(kernel);
      extra.push(...tensors);
      replaced.add(kernel.name);
      inputs[1] = `${kernel.name}/dq`;
      nodes.push({
        opType: 'DequantizeLinear',
        name: `${kernel.name}/dq`,
        inputs: [`${kernel.name}/int8`, `${kernel.name}/scale`, `${kernel.name}/zero_point`],
        outputs: [`${kernel.name}/dq`],
        attributes: { axis: attr.int(0) },
      });
      if (n.inputs[2] !== undefined) {
        const bias = init.get(n.inputs[2]);
        if (!bias) throw new ConvlensError('E_MODEL', `${n.name}: its bias is not a constant`);
        extra.push(...quantizeBias(bias, sx, scales));
        replaced.add(bias.name);
        inputs[2] = `${bias.name}/dq`;
        nodes.push({
          opType: 'DequantizeLinear',
          name: `${bias.name}/dq`,
          inputs: [`${bias.name}/int32`, `${bias.name}/scale`, `${bias.name}/zero_point`],
          outputs: [`${bias.name}/dq`],
          attributes: { axis: attr.int(0) },
        });
      }
    }
    nodes.push({ ...n, inputs });
    for (const o of n.outputs) quantize(o);
  }

  return {
    ...graph,
    nodes,
    initializers: [...graph.initializers.filter((t) => !replaced.has(t.name)), ...extra],
  };
}

/** int8 symmetric, per output channel (axis 0). */
function quantizeKernel(kernel: OnnxTensor): { tensors: OnnxTensor[]; scales: Float32Array } {
  const w = floatsOf(kernel);
  const outs = kernel.dims[0]!;
  const per = w.length / outs;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outs);
  for (let o = 0; o < outs; o++) {
    let m = 0;
    for (let i = o * per; i < (o + 1) * per; i++) m = Math.max(m, Math.abs(w[i]!));
    const s = m > 0 ? m / 127 : 1;
    scales[o] = s;
    for (let i = o * per; i < (o + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i]! / s)));
  }
  return {
    tensors: [
      tensorOfBytes(`${kernel.name}/int8`, kernel.dims, TensorType.INT8, q),
      floatTensor(`${kernel.name}/scale`, [outs], scales),
      tensorOfBytes(`${kernel.name}/zero_point`, [outs], TensorType.INT8, new Int8Array(outs)),
    ],
    scales,
  };
}

/** int32 at scale s_x·s_w[o], zero point 0: what an integer convolution adds to its accumulator. */
function quantizeBias(bias: OnnxTensor, inputScale: number, kernelScales: Float32Array): OnnxTensor[] {
  const b = floatsOf(bias);
  const q = new Int32Array(b.length);
  const scales = new Float32Array(b.length);
  for (let o = 0; o < b.length; o++) {
    scales[o] = inputScale * kernelScales[o]!;
    q[o] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(b[o]! / scales[o]!)));
  }
  return [
    tensorOfBytes(`${bias.name}/int32`, bias.dims, TensorType.INT32, q),
    floatTensor(`${bias.name}/scale`, [b.length], scales),
    tensorOfBytes(`${bias.name}/zero_point`, [b.length], TensorType.INT32, new Int32Array(b.length)),
  ];
}
