import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.js';
import { loadImage } from '../../src/image/index.js';
import { Backbone, kerasToOnnx, ONNX_OPSET, readLayersModel, RESNET50 } from '../../src/model/index.js';
import { encodeModel } from '../../src/onnx/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { CAT } from '../helpers/image-fixtures.js';
import { EXAMPLES } from '../helpers/paths.js';
import { loadTfModel, runTf, saveTfModel, tf, tfReady } from '../helpers/tfjs-reference.js';

function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let xx = 0; xx < w; xx++)
        for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch]!;
  return out;
}

async function runOnnx(modelJson: string, outputs: string[], nchw: Float32Array, dims: number[]): Promise<Float32Array[]> {
  const g = kerasToOnnx(readLayersModel(modelJson), { outputs });
  const session = await ort.InferenceSession.create(
    encodeModel({ graph: g.graph, opsetVersion: ONNX_OPSET, producerName: 'test', producerVersion: '0' }),
  );
  const res = await session.run({ input: new ort.Tensor('float32', nchw, dims) });
  await session.release();
  return outputs.map((o) => res[o]!.data as Float32Array);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

describe('Keras -> ONNX converter on small models (every layer type and config)', () => {
  let modelJson: string;
  const rng = new Random(7);
  beforeAll(async () => {
    await tfReady();
    // odd sizes so "same" padding is asymmetric, stride 2, dilation, pooling both ways
    const input = tf.input({ shape: [13, 11, 3], name: 'img' });
    let x = tf.layers
      .zeroPadding2d({
        padding: [
          [1, 2],
          [3, 0],
        ],
        name: 'pad',
      })
      .apply(input) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 6, kernelSize: [3, 5], strides: 2, padding: 'same', name: 'c_same_s2' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ axis: 3, epsilon: 0.01, name: 'bn' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu', name: 'act' }).apply(x) as tf.SymbolicTensor;
    const a = tf.layers
      .conv2d({ filters: 6, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'relu', name: 'c_dil' })
      .apply(x) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 6, kernelSize: 1, useBias: false, name: 'c_nobias' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool_same' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, padding: 'valid', name: 'pool_valid' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'tanh', name: 'c_tanh' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 5, activation: 'softmax', name: 'probs' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    // non-trivial BN statistics (fresh layers have mean 0, variance 1)
    const bn = model.getLayer('bn');
    bn.setWeights(
      bn.getWeights().map((w, i) =>
        tf.tensor(
          Array.from({ length: w.size }, () => (i === 3 ? 0.5 + rng.next() : rng.normal())),
          w.shape,
        ),
      ),
    );
    modelJson = await saveTfModel(model, mkdtempSync(join(tmpdir(), 'convlens-small-model-')));
  });

  it('matches tfjs at every cut point', async () => {
    const n = 2;
    const nhwc = Float32Array.from({ length: n * 13 * 11 * 3 }, () => rng.normal());
    const cuts = ['c_same_s2', 'act', 'sum', 'pool_same', 'pool_valid', 'gap', 'probs'];
    const model = await loadTfModel(modelJson);
    const ref = await runTf(model, cuts, nhwc, [n, 13, 11, 3]);
    const got = await runOnnx(modelJson, cuts, nhwcToNchw(nhwc, n, 13, 11, 3), [n, 3, 13, 11]);
    cuts.forEach((c, i) => expect(maxAbsDiff(got[i]!, ref[i]!), c).toBeLessThan(1e-4));
  });

  it('names an unsupported layer or config', () => {
    const json = JSON.parse(readFileSync(modelJson, 'utf8'));
    const layers = json.modelTopology.config.layers;
    const edit = (mutate: (l: any[]) => void): string => {
      const copy = structuredClone(json);
      mutate(copy.modelTopology.config.layers);
      const p = join(mkdtempSync(join(tmpdir(), 'convlens-bad-model-')), 'model.json');
      writeFileSync(p, JSON.stringify(copy));
      writeFileSync(join(p, '..', 'weights.bin'), readFileSync(join(modelJson, '..', 'weights.bin')));
      return p;
    };
    const conv = layers.findIndex((l: any) => l.name === 'c_dil');
    const cases: [string, (l: any[]) => void, RegExp][] = [
      ['layer type', (l) => (l[conv].class_name = 'SeparableConv2D'), /layer c_dil \(SeparableConv2D\): this layer type is not supported/],
      ['padding', (l) => (l[conv].config.padding = 'causal'), /layer c_dil \(Conv2D\): padding="causal" is not supported/],
      ['activation', (l) => (l[conv].config.activation = 'swish'), /layer c_dil \(Conv2D\): activation "swish" is not supported/],
      ['data format', (l) => (l[conv].config.data_format = 'channels_first'), /data_format=channels_first is not supported/],
    ];
    for (const [what, mutate, message] of cases) {
      const p = edit(mutate);
      expect(() => kerasToOnnx(readLayersModel(p), { outputs: ['probs'] }), what).toThrow(message);
      try {
        kerasToOnnx(readLayersModel(p), { outputs: ['probs'] });
      } catch (e) {
        expect((e as { code: string }).code).toBe('E_UNSUPPORTED_LAYER');
      }
    }
  });

  it('refuses an unknown output layer', () => {
    expect(() => kerasToOnnx(readLayersModel(modelJson), { outputs: ['nope'] })).toThrow(/no layer named "nope"/);
  });
});

describe('ResNet50 parity with tfjs (independent implementation of the same layers model)', () => {
  it('probabilities within 1e-4 and embeddings with cosine ≥ 0.9999 on 224×224 PNGs', async () => {
    // two real 224×224 PNG photos: no resize involved
    const pngs = await Promise.all(
      [CAT, join(EXAMPLES, 'skimage', 'coffee.png')].map((p) => sharp(p).resize(224, 224, { fit: 'cover' }).png().toBuffer()),
    );
    const n = pngs.length;
    // reference path: raw RGB -> tfjs ops for Keras' caffe preprocess_input -> tfjs ResNet50
    const rgb = await Promise.all(pngs.map((b) => sharp(b).removeAlpha().raw().toBuffer()));
    const nhwcRgb = new Float32Array(n * 224 * 224 * 3);
    rgb.forEach((r, i) => nhwcRgb.set(r, i * r.length));
    const pre = tf.tidy(() =>
      tf
        .tensor4d(nhwcRgb, [n, 224, 224, 3])
        .reverse(-1)
        .sub(tf.tensor1d([103.939, 116.779, 123.68])),
    );
    const preData = (await pre.data()) as Float32Array;
    pre.dispose();
    const model = await loadTfModel(RESNET50.modelJson());
    const [refP, refE] = await runTf(model, ['fc1000', 'avg_pool'], preData, [n, 224, 224, 3]);
    model.dispose();

    // convlens path: PNG bytes through the library
    const lens = await ConvLens.load({ resize: 'squash' });
    const results = [];
    for await (const { outcome } of lens.process(pngs)) results.push(outcome);
    await lens.dispose();
    let maxDp = 0;
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      maxDp = Math.max(maxDp, maxAbsDiff(r.probabilities, refP!.subarray(i * 1000, (i + 1) * 1000)));
      const cos = cosine(r.embedding, refE!.subarray(i * 2048, (i + 1) * 2048));
      console.log(`parity image ${i}: cosine ${cos}`);
      expect(cos).toBeGreaterThanOrEqual(0.9999);
    });
    console.log(`parity: max |Δp| = ${maxDp.toExponential(2)} over ${n}×1000 probabilities`);
    expect(maxDp).toBeLessThanOrEqual(1e-4);
  });

  it('cuts at an inner layer and flattens it in Keras (NHWC) order', async () => {
    const bb = await Backbone.load({ layer: 'activation_48' });
    expect(bb.dim).toBe(7 * 7 * 2048);
    const img = await loadImage(CAT);
    const x = new Float32Array(3 * 224 * 224);
    const { caffePreprocess } = await import('../../src/image/index.js');
    caffePreprocess(img.rgb, x);
    const { embeddings } = await bb.infer(x, 1);
    await bb.dispose();
    // global average over the 7×7 positions of the NHWC-flattened map equals avg_pool
    const avg = await Backbone.load({});
    const { embeddings: pooled } = await avg.infer(x, 1);
    await avg.dispose();
    const mean = new Float32Array(2048);
    for (let p = 0; p < 49; p++) for (let c = 0; c < 2048; c++) mean[c]! += embeddings[p * 2048 + c]! / 49;
    expect(maxAbsDiff(mean, pooled)).toBeLessThan(1e-4);
  });
});
