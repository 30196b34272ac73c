/**
 * One self-contained ONNX classifier: preprocessing + backbone (up to the embedding layer) + a
 * linear head + softmax, runnable by any ONNX Runtime (node, web, python) with no convlens code.
 *
 * Input  `image`: uint8 [batch, 224, 224, 3], RGB, already resized as the model's resize mode says
 *                 (recorded in the metadata as `convlens.resize`).
 * Outputs `probabilities`: float32 [batch, classes]; `embedding`: float32 [batch, dim].
 * Metadata: `convlens.classes` (JSON list of class names, output order), `convlens.resize`,
 * `convlens.backbone`, `convlens.layer`, `convlens.input`.
 */
import { ConvlensError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { CAFFE_MEAN_BGR } from '../image/preprocess.js';
import { buildBackboneGraph, CONVERTER_VERSION, ONNX_OPSET } from './convert.js';
import { GRAPH_INPUT } from './keras-to-onnx.js';
import { attr, encodeModel, floatTensor, int64Tensor, TensorType, type OnnxNode } from '../onnx/index.js';
import { getBackbone } from './registry.js';

/** A linear head as ONNX needs it: logits = rows(x) · weight + bias. */
export interface LinearHeadGraph {
  /** signed square root of every value first */
  sqrt: boolean;
  /** then divide each row by its L2 norm */
  l2Normalize: boolean;
  /** D×C */
  weight: Matrix;
  bias: Float32Array;
}

export interface ExportOptions {
  model: string;
  layer: string;
  resize: string;
  classes: readonly string[];
  head: LinearHeadGraph;
  /** free text stored as the model's doc string */
  description?: string;
  /** the embedding is the mean of the image's and its mirror's (a model trained with test-time augmentation) */
  mirrored?: boolean;
}

export const EXPORT_INPUT = 'image';

export function exportClassifierOnnx(options: ExportOptions): Uint8Array {
  const spec = getBackbone(options.model);
  const { head, classes } = options;
  const converted = buildBackboneGraph(spec, [options.layer]);
  const dim = converted.outputDims[options.layer]!;
  const [c, h, w] = converted.inputShape;
  if (head.weight.rows !== dim || head.weight.cols !== classes.length || head.bias.length !== classes.length) {
    throw new ConvlensError(
      'E_BAD_INPUT',
      `head shape ${head.weight.rows}×${head.weight.cols} does not fit ${dim}-d embeddings and ${classes.length} classes`,
    );
  }
  const g = converted.graph;

  // preprocessing: uint8 NHWC RGB -> float NCHW BGR minus the ImageNet means (Keras "caffe")
  const pre: OnnxNode[] = [
    { opType: 'Cast', name: 'pre/cast', inputs: [EXPORT_INPUT], outputs: ['pre/float'], attributes: { to: attr.int(TensorType.FLOAT) } },
    { opType: 'Transpose', name: 'pre/nchw', inputs: ['pre/float'], outputs: ['pre/rgb'], attributes: { perm: attr.ints([0, 3, 1, 2]) } },
    {
      opType: 'Gather',
      name: 'pre/bgr',
      inputs: ['pre/rgb', 'pre/bgr_order'],
      outputs: ['pre/bgr_out'],
      attributes: { axis: attr.int(1) },
    },
    { opType: 'Sub', name: 'pre/mean', inputs: ['pre/bgr_out', 'pre/mean_bgr'], outputs: [options.mirrored ? 'pre/image' : GRAPH_INPUT] },
  ];
  const init = [int64Tensor('pre/bgr_order', [3], [2, 1, 0]), floatTensor('pre/mean_bgr', [1, 3, 1, 1], Float32Array.from(CAFFE_MEAN_BGR))];
  if (options.mirrored) {
    // the batch followed by its mirror images (width reversed) through the backbone in one pass
    pre.push(
      {
        opType: 'Slice',
        name: 'pre/mirror',
        inputs: ['pre/image', 'pre/flip_start', 'pre/flip_end', 'pre/flip_axis', 'pre/flip_step'],
        outputs: ['pre/mirrored'],
      },
      {
        opType: 'Concat',
        name: 'pre/both',
        inputs: ['pre/image', 'pre/mirrored'],
        outputs: [GRAPH_INPUT],
        attributes: { axis: attr.int(0) },
      },
    );
    init.push(
      int64Tensor('pre/flip_start', [1], [-1]),
      int64Tensor('pre/flip_end', [1], [-(2 ** 53)]),
      int64Tensor('pre/flip_axis', [1], [3]),
      int64Tensor('pre/flip_step', [1], [-1]),
      int64Tensor('tta/shape', [3], [2, -1, dim]),
    );
  }

  // head: [mean of the two views] -> [sqrt] -> [l2] -> Gemm -> Softmax
  const post: OnnxNode[] = [];
  let x = options.layer;
  if (options.mirrored) {
    post.push(
      { opType: 'Reshape', name: 'tta/views', inputs: [x, 'tta/shape'], outputs: ['tta/views'] },
      {
        opType: 'ReduceMean',
        name: 'tta/mean',
        inputs: ['tta/views'],
        outputs: ['tta/mean'],
        attributes: { axes: attr.ints([0]), keepdims: attr.int(0) },
      },
    );
    x = 'tta/mean';
  }
  const embedding = x;
  if (head.sqrt) {
    post.push(
      { opType: 'Abs', name: 'head/abs', inputs: [x], outputs: ['head/abs'] },
      { opType: 'Sqrt', name: 'head/sqrt', inputs: ['head/abs'], outputs: ['head/sqrt'] },
      { opType: 'Sign', name: 'head/sign', inputs: [x], outputs: ['head/sign'] },
      { opType: 'Mul', name: 'head/signed_sqrt', inputs: ['head/sign', 'head/sqrt'], outputs: ['head/signed_sqrt'] },
    );
    x = 'head/signed_sqrt';
  }
  if (head.l2Normalize) {
    post.push({
      opType: 'LpNormalization',
      name: 'head/l2',
      inputs: [x],
      outputs: ['head/l2'],
      attributes: { axis: attr.int(1), p: attr.int(2) },
    });
    x = 'head/l2';
  }
  post.push(
    { opType: 'Gemm', name: 'head/dense', inputs: [x, 'head/weight', 'head/bias'], outputs: ['head/logits'] },
    { opType: 'Softmax', name: 'head/softmax', inputs: ['head/logits'], outputs: ['probabilities'], attributes: { axis: attr.int(-1) } },
    { opType: 'Identity', name: 'embedding/out', inputs: [embedding], outputs: ['embedding'] },
  );
  init.push(floatTensor('head/weight', [dim, classes.length], head.weight.data), floatTensor('head/bias', [classes.length], head.bias));

  return encodeModel({
    graph: {
      name: `${spec.id}+head`,
      nodes: [...pre, ...g.nodes, ...post],
      initializers: [...init, ...g.initializers],
      inputs: [{ name: EXPORT_INPUT, elemType: TensorType.UINT8, shape: ['batch', h, w, c] }],
      outputs: [
        { name: 'probabilities', elemType: TensorType.FLOAT, shape: ['batch', classes.length] },
        { name: 'embedding', elemType: TensorType.FLOAT, shape: ['batch', dim] },
      ],
    },
    opsetVersion: ONNX_OPSET,
    producerName: 'convlens',
    producerVersion: CONVERTER_VERSION,
    docString: options.description ?? `${spec.description} + linear head (${classes.length} classes)`,
    metadata: {
      'convlens.classes': JSON.stringify(classes),
      'convlens.resize': options.resize,
      'convlens.backbone': spec.id,
      'convlens.layer': options.layer,
      'convlens.input': `uint8 [batch, ${h}, ${w}, ${c}] RGB, resized with convlens resize mode "${options.resize}"`,
      ...(options.mirrored ? { 'convlens.tta': 'flip: embedding = mean of the image and its mirror' } : {}),
    },
  });
}
