/**
 * Keras functional model (as read from a TF.js layers model) -> ONNX graph.
 *
 * Tensors inside the graph are NCHW, ONNX Runtime's native layout, so the graph input is the
 * Keras-preprocessed image as [batch, channels, height, width]. Any layer can be a graph output
 * ("cut at a layer", the seed's `Model(input, layer.output)`); 4-D outputs are transposed back to
 * NHWC and flattened so they equal Keras' `output.reshape(n, -1)`. Only the layers and configs
 * this converter knows are accepted; anything else is an E_UNSUPPORTED_LAYER error naming it.
 */
import { ConvlensError } from '../core/errors.js';
import { attr, floatTensor, int64Tensor, TensorType, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../onnx/index.js';
import type { KerasLayer, LayersModel, Weight } from './tfjs-layers.js';

export const GRAPH_INPUT = 'input';

/** Shape of one item (no batch dim): [C, H, W] for images and feature maps, [F] for vectors. */
type ItemShape = number[];

export interface ConvertOptions {
  /** Layer names whose outputs become graph outputs, in this order. */
  outputs: string[];
}

export interface ConvertedGraph {
  graph: OnnxGraph;
  /** Input item shape [C, H, W]. */
  inputShape: [number, number, number];
  /** Flattened size of each output, by layer name. */
  outputDims: Record<string, number>;
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];

  node(opType: string, name: string, inputs: string[], outputs: string[], attributes?: OnnxNode['attributes']): void {
    this.nodes.push({ opType, name, inputs, outputs, attributes });
  }

  weight(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(floatTensor(name, dims, data));
    return name;
  }

  int64(name: string, values: number[]): string {
    this.initializers.push(int64Tensor(name, [values.length], values));
    return name;
  }
}

const unsupported = (layer: KerasLayer, what: string): ConvlensError =>
  new ConvlensError('E_UNSUPPORTED_LAYER', `layer ${layer.name} (${layer.className}): ${what} is not supported`);

function pair(layer: KerasLayer, key: string, fallback?: [number, number]): [number, number] {
  const v = layer.config[key] ?? fallback;
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  throw unsupported(layer, `${key}=${JSON.stringify(v)}`);
}

function requireChannelsLast(layer: KerasLayer): void {
  const f = layer.config.data_format;
  if (f !== undefined && f !== 'channels_last') throw unsupported(layer, `data_format=${String(f)}`);
}

function getWeight(model: LayersModel, layer: KerasLayer, suffix: string): Weight {
  const w = model.weights.get(`${layer.name}/${suffix}`);
  if (!w) throw new ConvlensError('E_MODEL', `layer ${layer.name}: weight ${layer.name}/${suffix} is missing`);
  return w;
}

/** TF "same" padding: output = ceil(in / stride), extra padding at the end. */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

function windowOutput(size: number, kernel: number, stride: number, dilation: number, padTotal: number): number {
  return Math.floor((size + padTotal - ((kernel - 1) * dilation + 1)) / stride) + 1;
}

/** Activation layer or fused `activation` config -> ONNX op (null for linear). */
function activationOp(layer: KerasLayer, activation: unknown): string | null {
  switch (activation) {
    case undefined:
    case 'linear':
      return null;
    case 'relu':
      return 'Relu';
    case 'softmax':
      return 'Softmax';
    case 'sigmoid':
      return 'Sigmoid';
    case 'tanh':
      return 'Tanh';
    default:
      throw unsupported(layer, `activation ${JSON.stringify(activation)}`);
  }
}

function emitActivation(b: GraphBuilder, layer: KerasLayer, op: string | null, input: string, output: string, shape: ItemShape): void {
  if (op === null) {
    b.node('Identity', `${layer.name}/identity`, [input], [output]);
  } else if (op === 'Softmax') {
    if (shape.length !== 1) throw unsupported(layer, 'softmax over a feature map');
    b.node('Softmax', `${layer.name}/softmax`, [input], [output], { axis: attr.int(-1) });
  } else {
    b.node(op, `${layer.name}/${op.toLowerCase()}`, [input], [output]);
  }
}

/** Keras [kh, kw, in, out] -> ONNX [out, in, kh, kw]. */
function convKernelToOihw(w: Weight): Float32Array {
  const [kh, kw, cin, cout] = w.shape as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) {
          out[((o * cin + i) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * cout + o]!;
        }
  return out;
}

const tensorOf = (layerName: string): string => `${layerName}:0`;

export function kerasToOnnx(model: LayersModel, options: ConvertOptions): ConvertedGraph {
  const byName = new Map(model.layers.map((l) => [l.name, l]));
  if (options.outputs.length === 0) throw new ConvlensError('E_USAGE', 'kerasToOnnx: at least one output layer is needed');
  for (const o of options.outputs) {
    if (!byName.has(o)) {
      throw new ConvlensError(
        'E_USAGE',
        `no layer named "${o}" in ${model.name} (e.g. ${model.layers
          .slice(-3)
          .map((l) => l.name)
          .join(', ')})`,
      );
    }
  }
  if (model.inputLayers.length !== 1)
    throw new ConvlensError('E_UNSUPPORTED_LAYER', `${model.name}: models with ${model.inputLayers.length} inputs are not supported`);

  // Keep only the layers the requested outputs depend on.
  const needed = new Set<string>();
  const stack = [...options.outputs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    const layer = byName.get(n);
    if (!layer) throw new ConvlensError('E_MODEL', `${model.name}: inbound layer ${n} does not exist`);
    stack.push(...layer.inbound);
  }

  const b = new GraphBuilder();
  const shapes = new Map<string, ItemShape>();
  let inputShape: [number, number, number] | undefined;

  for (const layer of model.layers) {
    if (!needed.has(layer.name)) continue;
    const out = tensorOf(layer.name);
    const inputs = layer.inbound.map(tensorOf);
    const inShapes = layer.inbound.map((n) => shapes.get(n)!);
    const x = inputs[0]!;
    const s = inShapes[0]!;
    const cfg = layer.config;

    switch (layer.className) {
      case 'InputLayer': {
        const shape = (cfg.batch_input_shape ?? cfg.batch_shape) as (number | null)[] | undefined;
        if (!shape || shape.length !== 4 || shape.slice(1).some((d) => typeof d !== 'number')) {
          throw unsupported(layer, `input shape ${JSON.stringify(shape)} (need [batch, height, width, channels])`);
        }
        const [, h, w, c] = shape as number[];
        inputShape = [c!, h!, w!];
        b.node('Identity', `${layer.name}/identity`, [GRAPH_INPUT], [out]);
        shapes.set(layer.name, [c!, h!, w!]);
        break;
      }
      case 'ZeroPadding2D': {
        requireChannelsLast(layer);
        const p = cfg.padding;
        let top: number, bottom: number, left: number, right: number;
        if (typeof p === 'number') [top, bottom, left, right] = [p, p, p, p];
        else if (Array.isArray(p) && p.every((v) => typeof v === 'number')) [top, bottom, left, right] = [p[0], p[0], p[1], p[1]];
        else if (Array.isArray(p) && p.every((v) => Array.isArray(v)))
          [[top, bottom], [left, right]] = p as [[number, number], [number, number]];
        else throw unsupported(layer, `padding=${JSON.stringify(p)}`);
        const pads = b.int64(`${layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
        b.node('Pad', layer.name, [x, pads], [out], { mode: attr.string('constant') });
        shapes.set(layer.name, [s[0]!, s[1]! + top + bottom, s[2]! + left + right]);
        break;
      }
      case 'Conv2D': {
        requireChannelsLast(layer);
        if ((cfg.groups ?? 1) !== 1) throw unsupported(layer, `groups=${String(cfg.groups)}`);
        const [kh, kw] = pair(layer, 'kernel_size');
        const [sh, sw] = pair(layer, 'strides', [1, 1]);
        const [dh, dw] = pair(layer, 'dilation_rate', [1, 1]);
        const kernel = getWeight(model, layer, 'kernel');
        const [wkh, wkw, cin, cout] = kernel.shape as [number, number, number, number];
        if (wkh !== kh || wkw !== kw || cin !== s[0] || cout !== cfg.filters) {
          throw new ConvlensError('E_MODEL', `layer ${layer.name}: kernel shape ${kernel.shape.join('×')} does not match its config`);
        }
        let padH: [number, number], padW: [number, number];
        if (cfg.padding === 'valid')
          [padH, padW] = [
            [0, 0],
            [0, 0],
          ];
        else if (cfg.padding === 'same') [padH, padW] = [samePads(s[1]!, kh, sh, dh), samePads(s[2]!, kw, sw, dw)];
        else throw unsupported(layer, `padding=${JSON.stringify(cfg.padding)}`);
        const convInputs = [x, b.weight(`${layer.name}/kernel`, [cout, cin, kh, kw], convKernelToOihw(kernel))];
        if (cfg.use_bias !== false) convInputs.push(b.weight(`${layer.name}/bias`, [cout], getWeight(model, layer, 'bias').data));
        const act = activationOp(layer, cfg.activation);
        const convOut = act === null ? out : `${layer.name}/conv`;
        b.node('Conv', layer.name, convInputs, [convOut], {
          kernel_shape: attr.ints([kh, kw]),
          strides: attr.ints([sh, sw]),
          dilations: attr.ints([dh, dw]),
          pads: attr.ints([padH[0], padW[0], padH[1], padW[1]]),
        });
        const shape = [cout, windowOutput(s[1]!, kh, sh, dh, padH[0] + padH[1]), windowOutput(s[2]!, kw, sw, dw, padW[0] + padW[1])];
        if (act !== null) emitActivation(b, layer, act, convOut, out, shape);
        shapes.set(layer.name, shape);
        break;
      }
      case 'BatchNormalization': {
        const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis];
        const channelAxis = s.length === 3 ? 3 : 1; // Keras axis of channels (NHWC / NF)
        if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== channelAxis)) throw unsupported(layer, `axis=${JSON.stringify(cfg.axis)}`);
        const c = s[0]!;
        const ones = new Float32Array(c).fill(1);
        const gamma = cfg.scale === false ? ones : getWeight(model, layer, 'gamma').data;
        const beta = cfg.center === false ? new Float32Array(c) : getWeight(model, layer, 'beta').data;
        b.node(
          'BatchNormalization',
          layer.name,
          [
            x,
            b.weight(`${layer.name}/gamma`, [c], gamma),
            b.weight(`${layer.name}/beta`, [c], beta),
            b.weight(`${layer.name}/moving_mean`, [c], getWeight(model, layer, 'moving_mean').data),
            b.weight(`${layer.name}/moving_variance`, [c], getWeight(model, layer, 'moving_variance').data),
          ],
          [out],
          { epsilon: attr.float(typeof cfg.epsilon === 'number' ? cfg.epsilon : 1e-3) },
        );
        shapes.set(layer.name, s);
        break;
      }
      case 'Activation': {
        emitActivation(b, layer, activationOp(layer, cfg.activation), x, out, s);
        shapes.set(layer.name, s);
        break;
      }
      case 'Add': {
        if (inputs.length < 2) throw unsupported(layer, `${inputs.length} input(s)`);
        if (inShapes.some((t) => t.join() !== s.join()))
          throw unsupported(layer, `inputs of different shapes ${inShapes.map((t) => t.join('×')).join(' vs ')}`);
        b.node('Sum', layer.name, inputs, [out]);
        shapes.set(layer.name, s);
        break;
      }
      case 'MaxPooling2D': {
        requireChannelsLast(layer);
        const [ph, pw] = pair(layer, 'pool_size', [2, 2]);
        const [sh, sw] = cfg.strides === null || cfg.strides === undefined ? [ph, pw] : pair(layer, 'strides');
        let padH: [number, number], padW: [number, number];
        if (cfg.padding === 'valid')
          [padH, padW] = [
            [0, 0],
            [0, 0],
          ];
        else if (cfg.padding === 'same') [padH, padW] = [samePads(s[1]!, ph, sh, 1), samePads(s[2]!, pw, sw, 1)];
        else throw unsupported(layer, `padding=${JSON.stringify(cfg.padding)}`);
        b.node('MaxPool', layer.name, [x], [out], {
          kernel_shape: attr.ints([ph, pw]),
          strides: attr.ints([sh, sw]),
          pads: attr.ints([padH[0], padW[0], padH[1], padW[1]]),
        });
        shapes.set(layer.name, [
          s[0]!,
          windowOutput(s[1]!, ph, sh, 1, padH[0] + padH[1]),
          windowOutput(s[2]!, pw, sw, 1, padW[0] + padW[1]),
        ]);
        break;
      }
      case 'GlobalAveragePooling2D': {
        requireChannelsLast(layer);
        if (cfg.keepdims === true) throw unsupported(layer, 'keepdims=true');
        b.node('GlobalAveragePool', layer.name, [x], [`${layer.name}/pooled`]);
        b.node('Flatten', `${layer.name}/flatten`, [`${layer.name}/pooled`], [out], { axis: attr.int(1) });
        shapes.set(layer.name, [s[0]!]);
        break;
      }
      case 'Dense': {
        if (s.length !== 1) throw unsupported(layer, 'Dense on a feature map (only on flat vectors)');
        const kernel = getWeight(model, layer, 'kernel');
        const [fin, units] = kernel.shape as [number, number];
        if (fin !== s[0] || units !== cfg.units)
          throw new ConvlensError('E_MODEL', `layer ${layer.name}: kernel shape ${kernel.shape.join('×')} does not match its config`);
        const gemmInputs = [x, b.weight(`${layer.name}/kernel`, [fin, units], kernel.data)];
        if (cfg.use_bias !== false) gemmInputs.push(b.weight(`${layer.name}/bias`, [units], getWeight(model, layer, 'bias').data));
        const act = activationOp(layer, cfg.activation);
        const gemmOut = act === null ? out : `${layer.name}/linear`;
        b.node('Gemm', layer.name, gemmInputs, [gemmOut]);
        if (act !== null) emitActivation(b, layer, act, gemmOut, out, [units]);
        shapes.set(layer.name, [units]);
        break;
      }
      default:
        throw unsupported(layer, 'this layer type');
    }
  }

  if (!inputShape) throw new ConvlensError('E_MODEL', `${model.name}: no InputLayer`);

  const outputDims: Record<string, number> = {};
  for (const name of options.outputs) {
    const shape = shapes.get(name)!;
    if (shape.length === 3) {
      // NCHW -> NHWC -> [N, H*W*C], the order Keras flattens in
      b.node('Transpose', `${name}/to_nhwc`, [tensorOf(name)], [`${name}/nhwc`], { perm: attr.ints([0, 2, 3, 1]) });
      b.node('Flatten', `${name}/flatten_out`, [`${name}/nhwc`], [name], { axis: attr.int(1) });
    } else {
      b.node('Identity', `${name}/out`, [tensorOf(name)], [name]);
    }
    outputDims[name] = shape.reduce((a, c) => a * c, 1);
  }

  return {
    graph: {
      name: model.name,
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: [{ name: GRAPH_INPUT, elemType: TensorType.FLOAT, shape: ['batch', ...inputShape] }],
      outputs: options.outputs.map((name) => ({ name, elemType: TensorType.FLOAT, shape: ['batch', outputDims[name]!] })),
    },
    inputShape,
    outputDims,
  };
}
