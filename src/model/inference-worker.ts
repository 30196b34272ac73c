/**
 * The ONNX Runtime session of a Backbone, on its own thread. onnxruntime-node runs a session
 * synchronously on the calling thread; here that thread is this worker, so the main thread keeps
 * decoding the next images (and a server keeps answering) while the network runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import '../onnx/index.js';
import * as ort from 'onnxruntime-node';

export interface InferenceWorkerData {
  modelPath: string;
  threads: number;
  input: string;
  outputs: string[];
  inputShape: number[];
}

export type InferenceRequest = { type: 'run'; id: number; input: Float32Array; n: number } | { type: 'close' };

export type InferenceReply =
  | { type: 'ready'; outputShapes: Record<string, (number | string)[]> }
  | { type: 'result'; id: number; outputs: Record<string, Float32Array> }
  | { type: 'error'; id: number | null; message: string };

const data = workerData as InferenceWorkerData;
const port = parentPort!;

let session: ort.InferenceSession;
try {
  session = await ort.InferenceSession.create(data.modelPath, {
    intraOpNumThreads: data.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // no busy-waiting at the end of each layer: the spinning thread would take the core from
    // the image decoding that runs beside the network (index: +5-10% images/s, bare model -2%)
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const outputShapes: Record<string, (number | string)[]> = {};
  for (const m of session.outputMetadata)
    if (m.isTensor) outputShapes[m.name] = m.shape.map((d) => (typeof d === 'number' ? d : String(d)));
  port.postMessage({ type: 'ready', outputShapes } satisfies InferenceReply);
} catch (e) {
  port.postMessage({ type: 'error', id: null, message: (e as Error).message } satisfies InferenceReply);
  process.exit(0);
}

port.on('message', async (m: InferenceRequest) => {
  if (m.type === 'close') {
    await session.release();
    port.close();
    return;
  }
  try {
    const feeds = { [data.input]: new ort.Tensor('float32', m.input, [m.n, ...data.inputShape]) };
    const out = await session.run(feeds);
    const outputs: Record<string, Float32Array> = {};
    for (const name of data.outputs) outputs[name] = out[name]!.data as Float32Array;
    port.postMessage(
      { type: 'result', id: m.id, outputs } satisfies InferenceReply,
      Object.values(outputs).map((a) => a.buffer as ArrayBuffer),
    );
  } catch (e) {
    port.postMessage({ type: 'error', id: m.id, message: (e as Error).message } satisfies InferenceReply);
  }
});
