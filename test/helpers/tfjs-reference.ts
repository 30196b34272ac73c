/**
 * The independent reference for converter parity: @tensorflow/tfjs (its own Keras layers
 * implementation) on the WebAssembly backend, loading the same TF.js layers model files.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let ready: Promise<void> | undefined;
export function tfReady(): Promise<void> {
  ready ??= tf.setBackend('wasm').then((ok) => {
    if (!ok) throw new Error('tfjs wasm backend unavailable');
  });
  return ready;
}

export async function loadTfModel(modelJson: string): Promise<tf.LayersModel> {
  await tfReady();
  const json = JSON.parse(readFileSync(modelJson, 'utf8'));
  const weightSpecs = json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const data = Buffer.concat(
    json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(join(dirname(modelJson), p)))),
  );
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}

/** Run a model cut at the named layers on NHWC input; outputs flattened per item. */
export async function runTf(
  model: tf.LayersModel,
  outputs: string[],
  nhwc: Float32Array,
  shape: [number, number, number, number],
): Promise<Float32Array[]> {
  const cut = tf.model({ inputs: model.inputs, outputs: outputs.map((o) => model.getLayer(o).output as tf.SymbolicTensor) });
  const res = cut.predict(tf.tensor4d(nhwc, shape));
  const list = Array.isArray(res) ? res : [res];
  const out = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
  list.forEach((t) => t.dispose());
  return out;
}

/** Save a tfjs model as model.json + one weights shard in `dir` (like the converter's input). */
export async function saveTfModel(model: tf.LayersModel, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      writeFileSync(join(dir, 'weights.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
      writeFileSync(
        join(dir, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return join(dir, 'model.json');
}

export { tf };
