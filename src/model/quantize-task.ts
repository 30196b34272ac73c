/**
 * Making the int8 model, as a task (core/tasks.ts) so that a minute of calibration never blocks
 * the caller's event loop: convert the float model, measure each quantized tensor's range on the
 * calibration images (unless a stored calibration already has them), write the QDQ graph, and
 * check that ONNX Runtime really runs its convolutions as integer kernels.
 */
import { rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import '../onnx/index.js';
import * as ort from 'onnxruntime-node';
import { ConvlensError } from '../core/errors.js';
import { tempPathFor, writeArtefact } from '../core/files.js';
import type { TaskContext } from '../core/tasks.js';
import { loadImage } from '../image/decode.js';
import { caffePreprocess } from '../image/preprocess.js';
import { encodeModel, nodeOpTypes, type OnnxGraph } from '../onnx/index.js';
import { buildBackboneGraph, CONVERTER_VERSION, ONNX_OPSET } from './convert.js';
import { QUANTIZER_VERSION, rangesOf, writeCalibration, type CalibrationRecord, type CalibrationSet } from './calibration.js';
import { GRAPH_INPUT } from './keras-to-onnx.js';
import { calibratedTensors, calibrationGraph, foldGraph, quantizationPoints, quantizeGraph } from './quantize.js';
import { RangeObserver, rangeMethodName } from './range-observer.js';
import { getBackbone } from './registry.js';

export interface QuantizeInput {
  model: string;
  outputs: string[];
  /** digest of the float model's sources and converter */
  sources: string;
  cacheDir: string;
  /** where the int8 model is written */
  path: string;
  /** ranges already measured, or a set to measure them on */
  calibration: { record: CalibrationRecord } | { set: CalibrationSet };
  threads: number;
}

export interface KernelCount {
  /** convolutions ONNX Runtime runs as integer kernels (QLinearConv) */
  integer: number;
  /** convolutions left in float */
  float: number;
}

export interface QuantizeResult {
  calibration: Omit<CalibrationRecord, 'ranges'>;
  convolutions: KernelCount;
  /** seconds spent measuring ranges (0 when a stored calibration was used) */
  calibrationSeconds: number;
}

export type QuantizeProgress = { stage: 'calibrating'; done: number; total: number } | { stage: 'quantizing' };

const encode = (graph: OnnxGraph, doc: string): Uint8Array =>
  encodeModel({ graph, opsetVersion: ONNX_OPSET, producerName: 'convlens', producerVersion: CONVERTER_VERSION, docString: doc });

const sessionOptions = (threads: number): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
});

/** How ONNX Runtime runs the convolutions of a model, from its optimized graph. */
export async function countKernels(model: Uint8Array | string, scratch: string): Promise<KernelCount> {
  const options = { ...sessionOptions(1), optimizedModelFilePath: scratch };
  const session =
    typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  try {
    await session.release();
    const ops = nodeOpTypes(await readFile(scratch));
    return {
      integer: ops.filter((o) => o.endsWith('QLinearConv')).length,
      float: ops.filter((o) => o === 'Conv' || o.endsWith('FusedConv') || o.endsWith('NchwcConv')).length,
    };
  } finally {
    rmSync(scratch, { force: true });
  }
}

const scalar = (t: ort.Tensor | undefined): number => (t!.data as Float32Array)[0]!;

async function measure(
  graph: OnnxGraph,
  input: QuantizeInput,
  set: CalibrationSet,
  ctx: TaskContext<QuantizeProgress>,
): Promise<CalibrationRecord> {
  const tensors = calibratedTensors(quantizationPoints(graph));
  const minmax = set.method.kind === 'minmax';
  const session = await ort.InferenceSession.create(
    encode(calibrationGraph(graph, tensors, { minmax }), 'calibration'),
    sessionOptions(input.threads),
  );
  const observers = new Map(tensors.map((t) => [t, new RangeObserver(set.method)]));
  const skipped: CalibrationRecord['skipped'] = [];
  const itemSize = 3 * 224 * 224;
  const batchSize = 4;
  const total = set.files.length * set.views.length;
  let done = 0;
  let views = 0;
  let batch = new Float32Array(batchSize * itemSize);
  let n = 0;
  const flush = async (): Promise<void> => {
    if (n === 0) return;
    const out = await session.run({ [GRAPH_INPUT]: new ort.Tensor('float32', batch.subarray(0, n * itemSize), [n, 3, 224, 224]) });
    for (const t of tensors) {
      try {
        if (minmax) observers.get(t)!.observeExtremes(scalar(out[`${t}/min`]), scalar(out[`${t}/max`]), n);
        else observers.get(t)!.observe(out[t]!.data as Float32Array);
      } catch (e) {
        throw new ConvlensError('E_MODEL', `calibration: the float model gives a ${(e as Error).message} at ${t}`);
      }
    }
    views += n;
    n = 0;
    batch = new Float32Array(batchSize * itemSize);
  };
  try {
    for (const file of set.files) {
      for (const view of set.views) {
        ctx.signal.throwIfAborted();
        try {
          const image = await loadImage(file, { resize: view.resize, ...(view.variant ? { variant: view.variant } : {}) });
          caffePreprocess(image.rgb, batch, n * itemSize);
          n++;
        } catch (e) {
          if (view === set.views[0]) skipped.push({ file, reason: (e as Error).message });
          done += set.views.length - 1;
          break; // an image that cannot be read fails in every view
        } finally {
          ctx.progress({ stage: 'calibrating', done: ++done, total });
        }
        if (n === batchSize) await flush();
      }
    }
    await flush();
  } finally {
    await session.release();
  }
  if (views === 0)
    throw new ConvlensError('E_BAD_INPUT', `none of the ${set.files.length} calibration images could be read`, { file: set.source });
  const method = set.method;
  return {
    id: set.id,
    model: input.model,
    sources: input.sources,
    quantizer: QUANTIZER_VERSION,
    method: rangeMethodName(method),
    source: set.source,
    images: set.files.length - skipped.length,
    views,
    skipped,
    ranges: Object.fromEntries(
      [...observers].map(([t, o]) => {
        const r = o.range(method);
        return [t, [r.min, r.max]];
      }),
    ),
  };
}

export async function quantize(input: QuantizeInput, ctx: TaskContext<QuantizeProgress>): Promise<QuantizeResult> {
  const spec = getBackbone(input.model);
  const graph = foldGraph(buildBackboneGraph(spec, input.outputs).graph);
  let record: CalibrationRecord;
  let calibrationSeconds = 0;
  if ('record' in input.calibration) {
    record = input.calibration.record;
  } else {
    const t0 = performance.now();
    record = await measure(graph, input, input.calibration.set, ctx);
    calibrationSeconds = (performance.now() - t0) / 1000;
    writeCalibration(input.cacheDir, record);
  }
  ctx.progress({ stage: 'quantizing' });
  const bytes = encode(
    quantizeGraph(graph, rangesOf(record)),
    `${spec.description}; int8 (calibration ${record.id}: ${record.views} views of ${record.images} images, ${record.method}); ` +
      `outputs: ${input.outputs.join(', ')}`,
  );
  const convolutions = await countKernels(bytes, `${tempPathFor(input.path)}.optimized`);
  if (convolutions.integer === 0) {
    throw new ConvlensError(
      'E_MODEL',
      `ONNX Runtime ran none of the int8 model's convolutions as integer kernels (${convolutions.float} in float)`,
    );
  }
  writeArtefact(input.path, bytes, {
    model: spec.id,
    sources: input.sources,
    converter: CONVERTER_VERSION,
    quantizer: QUANTIZER_VERSION,
    calibration: record.id,
    outputs: input.outputs,
    convolutions,
  });
  const { ranges: _ranges, ...summary } = record;
  return { calibration: summary, convolutions, calibrationSeconds };
}
