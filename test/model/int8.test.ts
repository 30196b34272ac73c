/**
 * The int8 network: its graph (folding keeps the float function, ranges and parameters are right),
 * that ONNX Runtime runs it with integer kernels, that it gives the fp32 answers on the shared
 * ImageNet samples, the settings lock over precision, and its faults (damaged cache, unknown or
 * unreadable calibration). No timing here: speed is bench/int8.ts.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collection } from '../../src/collection/index.js';
import { Random } from '../../src/core/random.js';
import { onWarning } from '../../src/core/warn.js';
import { loadImage } from '../../src/image/index.js';
import { caffePreprocess } from '../../src/image/preprocess.js';
import { calibrationPath, DEFAULT_CALIBRATION } from '../../src/model/calibration.js';
import { Backbone, buildBackboneGraph, ensureConverted, ONNX_OPSET, resolveCacheDir, RESNET50 } from '../../src/model/index.js';
import { countKernels } from '../../src/model/quantize-task.js';
import { foldGraph, quantizationPoints, uint8Params } from '../../src/model/quantize.js';
import { parseRangeMethod, RangeObserver } from '../../src/model/range-observer.js';
import { encodeModel } from '../../src/onnx/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { hasStackTrace, jsonLines, runCli } from '../helpers/cli.js';
import { EXAMPLES, sharedDataPath, skipNote } from '../helpers/paths.js';

const IMAGENET = sharedDataPath('imagenet-100');

function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return d / Math.sqrt(na * nb);
}

const argmax = (p: Float32Array): number => p.indexOf(Math.max(...p));

const photos = ['skimage/astronaut.png', 'skimage/coffee.png', 'skimage/chelsea.png'].map((p) => join(EXAMPLES, p));

describe('range observer', () => {
  it('min/max and percentiles agree with a sorted reference', () => {
    const rng = new Random(3);
    const method = parseRangeMethod('p99.9')!;
    const o = new RangeObserver(method);
    const all: number[] = [];
    // batches of growing spread, so the histogram must widen (and merge bins) several times
    for (let b = 0; b < 6; b++) {
      const batch = Float32Array.from({ length: 20_000 }, () => rng.normal() * 2 ** b + (rng.next() < 0.001 ? 500 : 0));
      all.push(...batch);
      o.observe(batch);
    }
    all.sort((x, y) => x - y);
    expect(o.range({ kind: 'minmax' })).toEqual({ min: Math.fround(all[0]!), max: Math.fround(all.at(-1)!) });
    const r = o.range(method);
    const tail = Math.floor(all.length * 0.001);
    const refMax = all[all.length - 1 - tail]!;
    const refMin = all[tail]!;
    // within one bin (limit / 4096) of the exact order statistic
    const bin = 1024 / 4096;
    expect(Math.abs(r.max - refMax)).toBeLessThanOrEqual(bin);
    expect(Math.abs(r.min - refMin)).toBeLessThanOrEqual(bin);
    expect(r.max).toBeLessThan(400); // the outliers at +500 are clipped
  });

  it('refuses NaN and infinite activations, and reads method names strictly', () => {
    const o = new RangeObserver({ kind: 'minmax' });
    expect(() => o.observe(Float32Array.of(1, NaN, 2))).toThrow(/NaN/);
    expect(() => o.observeExtremes(-Infinity, 1, 1)).toThrow(/infinite/);
    expect(parseRangeMethod('minmax')).toEqual({ kind: 'minmax' });
    expect(parseRangeMethod('p99.999')).toEqual({ kind: 'percentile', percentile: 99.999 });
    for (const bad of ['p100', 'p50', 'max', 'p99.9x', '']) expect(parseRangeMethod(bad)).toBeNull();
  });

  it('uint8 parameters hold zero exactly and cover the range', () => {
    expect(uint8Params({ min: 0, max: 25.5 })).toEqual({ scale: 0.1, zeroPoint: 0 });
    const p = uint8Params({ min: -10, max: 30 });
    expect(p.zeroPoint).toBe(Math.round(10 / p.scale));
    expect(p.scale * (255 - p.zeroPoint)).toBeGreaterThanOrEqual(30 - p.scale); // the zero point is rounded: half a step either way
    expect(uint8Params({ min: 3, max: 7 }).zeroPoint).toBe(0); // widened to include 0
  });
});

describe('folding the float graph for quantization', () => {
  it('keeps the function: BatchNormalization into Conv, padding into Conv/MaxPool, no Identity', async () => {
    const converted = buildBackboneGraph(RESNET50, ['fc1000', 'avg_pool']);
    const folded = foldGraph(converted.graph);
    const ops = (g: typeof folded): Record<string, number> => {
      const c: Record<string, number> = {};
      for (const n of g.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
      return c;
    };
    expect(ops(converted.graph)['BatchNormalization']).toBe(53);
    const after = ops(folded);
    expect(after['BatchNormalization']).toBeUndefined();
    expect(after['Pad']).toBeUndefined();
    expect(after['Conv']).toBe(53);
    expect(after['Add']).toBe(16);
    expect(after['Identity']).toBe(2); // the two graph outputs only
    // every Conv and Add reads quantized inputs; a MaxPool output shares its input's range
    const points = quantizationPoints(folded);
    expect(points.filter((p) => p.rangeOf !== p.tensor)).toHaveLength(1);

    const image = await loadImage(photos[0]!, { resize: 'crop' });
    const x = new Float32Array(3 * 224 * 224);
    caffePreprocess(image.rgb, x);
    const run = async (g: typeof folded): Promise<Record<string, Float32Array>> => {
      const model = encodeModel({ graph: g, opsetVersion: ONNX_OPSET, producerName: 't', producerVersion: '0' });
      const s = await ort.InferenceSession.create(model);
      const out = await s.run({ input: new ort.Tensor('float32', x, [1, 3, 224, 224]) });
      await s.release();
      return { p: out['fc1000']!.data as Float32Array, e: out['avg_pool']!.data as Float32Array };
    };
    const [a, b] = [await run(converted.graph), await run(folded)];
    let maxDiff = 0;
    for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(a['p']![i]! - b['p']![i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    expect(cosine(a['e']!, b['e']!)).toBeGreaterThan(0.99999);
  });
});

describe('the int8 network', () => {
  let fp32: ConvLens;
  let int8: ConvLens;
  beforeAll(async () => {
    int8 = await ConvLens.load({ precision: 'int8', resize: 'crop' });
    fp32 = await ConvLens.load({ resize: 'crop' });
  });
  afterAll(async () => {
    await int8?.dispose();
    await fp32?.dispose();
  });

  it('runs every convolution as an integer kernel (ORT optimized model)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-int8-'));
    expect(await countKernels(int8.backbone.modelPath, join(dir, 'optimized.onnx'))).toEqual({ integer: 53, float: 0 });
    expect(int8.backbone.precision).toBe('int8');
    expect(int8.settings).toMatchObject({ precision: 'int8', calibration: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(fp32.settings.precision).toBeUndefined();
  });

  it('gives the same outputs as fp32 in the same form', async () => {
    const [a, b] = [await fp32.classify(photos), await int8.classify(photos)];
    expect(b.map((r) => r.file)).toEqual(a.map((r) => r.file));
    for (const [i, r] of b.entries()) {
      expect(r.predictions).toHaveLength(5);
      expect(r.predictions![0]!.index).toBe(a[i]!.predictions![0]!.index);
    }
    const e = await int8.embed([photos[0]!, join(EXAMPLES, 'missing.png')]);
    expect(e[0]!.embedding).toHaveLength(2048);
    expect(e[0]!.embedding!.every(Number.isFinite)).toBe(true);
    expect(e[1]!.error?.code).toBe('E_NOT_FOUND');
  });

  it.skipIf(!IMAGENET)('agrees with fp32 on the shared ImageNet samples (top-1, embeddings)', async () => {
    const files = readFileSync(join(IMAGENET!, 'labels.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
    const paths = files.map(([f]) => join(IMAGENET!, f!));
    const truth = files.map((f) => Number(f[3]));
    const run = async (lens: ConvLens): Promise<{ p: Float32Array; e: Float32Array }[]> => {
      const out: { p: Float32Array; e: Float32Array }[] = [];
      for await (const { outcome } of lens.process(paths)) {
        if (!outcome.ok) throw outcome.error;
        out.push({ p: outcome.probabilities, e: outcome.embedding });
      }
      return out;
    };
    const [a, b] = [await run(fp32), await run(int8)];
    const correct = (r: { p: Float32Array }[]): number => r.filter((x, i) => argmax(x.p) === truth[i]).length;
    const agree = a.filter((x, i) => argmax(x.p) === argmax(b[i]!.p)).length;
    const cos = a.map((x, i) => cosine(x.e, b[i]!.e));
    const mean = cos.reduce((s, c) => s + c, 0) / cos.length;
    console.log(
      `int8 vs fp32 (crop, ${a.length} images): top-1 ${correct(b)} vs ${correct(a)}, agreement ${agree}, ` +
        `cosine mean ${mean.toFixed(4)} min ${Math.min(...cos).toFixed(4)}`,
    );
    expect(agree).toBeGreaterThanOrEqual(95);
    expect(Math.abs(correct(b) - correct(a))).toBeLessThanOrEqual(2);
    expect(mean).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...cos)).toBeGreaterThan(0.95);
  });
  if (!IMAGENET) skipNote('int8 agreement on ImageNet samples');
});

describe('precision in the settings lock', () => {
  it('a collection keeps its precision: int8 by default afterwards, fp32 refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-int8-db-'));
    const folder = join(dir, 'photos');
    mkdirSync(folder);
    for (const p of photos) copyFileSync(p, join(folder, p.split('/').pop()!));
    const db = join(dir, 'c.db');
    const c = await Collection.open(db, { create: true, lens: { precision: 'int8' } });
    try {
      const s = await c.index([folder]);
      expect(s.indexed).toBe(3);
      expect(await c.settings()).toMatchObject({ precision: 'int8', calibration: expect.stringMatching(/^[0-9a-f]{16}$/) });
    } finally {
      await c.close();
    }
    const again = await Collection.open(db, {});
    try {
      const o = await again.lensOptions();
      expect(o.precision).toBe('int8');
      const { results } = await again.similar({ file: photos[1]! }, { k: 1 });
      expect(results[0]?.score).toBeGreaterThan(0.999); // the query went through the int8 network too
    } finally {
      await again.close();
    }
    await expect(Collection.open(db, { lens: { precision: 'fp32' } })).rejects.toMatchObject({
      code: 'E_SETTINGS_MISMATCH',
      message: /precision int8 \(asked: fp32\)/,
    });
    const r = await runCli(['index', folder, '--db', db, '--precision', 'fp32', '--json']);
    expect(r.code).toBe(1);
    expect(jsonLines(r.stdout).at(-1).error.code).toBe('E_SETTINGS_MISMATCH');
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe('int8 faults', () => {
  /** A model cache holding copies of what the int8 network needs, to damage without touching the real one. */
  async function cacheCopy(): Promise<{ dir: string; int8: string }> {
    const real = resolveCacheDir();
    const dir = mkdtempSync(join(tmpdir(), 'convlens-int8-cache-'));
    const b = await Backbone.load({ precision: 'int8' });
    const float = await ensureConverted(RESNET50, ['fc1000', 'avg_pool']);
    await b.dispose();
    const files = [b.modelPath, float.path, calibrationPath(real, b.calibration!)];
    for (const f of files) {
      const to = f.replace(real, dir);
      mkdirSync(join(to, '..'), { recursive: true });
      copyFileSync(f, to);
      copyFileSync(`${f}.json`, `${to}.json`);
    }
    return { dir, int8: b.modelPath.replace(real, dir) };
  }

  it('a damaged cached int8 model is made again from the stored ranges (no recalibration), never used', async () => {
    const { dir, int8 } = await cacheCopy();
    const bytes = readFileSync(int8);
    const middle = Math.floor(bytes.length / 2);
    for (let i = 0; i < 4096; i++) bytes[middle + i] = (i * 37) & 255;
    writeFileSync(int8, bytes);
    const warnings: string[] = [];
    onWarning((m) => warnings.push(m));
    try {
      const lens = await ConvLens.load({ precision: 'int8', cacheDir: dir });
      try {
        expect(warnings.join('\n')).toMatch(/cached int8 model .* cannot be trusted/);
        const [r] = await lens.classify([photos[2]!]);
        expect(r!.predictions![0]!.probability).toBeGreaterThan(0);
        expect(Number.isFinite(r!.predictions![0]!.probability)).toBe(true);
      } finally {
        await lens.dispose();
      }
    } finally {
      onWarning((m) => process.stderr.write(`convlens: warning: ${m}\n`));
    }
    expect(readFileSync(int8).equals(bytes)).toBe(false);
  });

  it('an unknown calibration id is a usage error naming the way to make one', async () => {
    await expect(ConvLens.load({ precision: 'int8', calibration: '0123456789abcdef' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: /no calibration "0123456789abcdef".*convlens quantize --calibrate DIR/,
    });
    await expect(ConvLens.load({ calibration: DEFAULT_CALIBRATION })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('quantize --calibrate skips an unreadable image, names it, and gives a usable calibration', async () => {
    const { dir } = await cacheCopy();
    const folder = join(dir, 'mine');
    mkdirSync(folder);
    copyFileSync(photos[0]!, join(folder, 'a.png'));
    copyFileSync(photos[1]!, join(folder, 'b.png'));
    writeFileSync(join(folder, 'broken.jpg'), Buffer.from('not a jpeg at all'));
    const r = await runCli(['quantize', '--calibrate', folder, '--cache-dir', dir, '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const [out] = jsonLines(r.stdout);
    expect(out.skipped).toHaveLength(1);
    expect(out.skipped[0].file).toMatch(/broken\.jpg$/);
    expect(out.images).toBe(2);
    expect(out.convolutions).toEqual({ integer: 53, float: 0 });
    expect(existsSync(out.model)).toBe(true);
    const c = await runCli(['classify', photos[2]!, '--precision', 'int8', '--calibration', out.calibration, '--cache-dir', dir, '--json']);
    expect(c.code, c.stderr).toBe(0);
    expect(jsonLines(c.stdout)[0].predictions[0].label).toBeTruthy();

    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const e = await runCli(['quantize', '--calibrate', empty, '--cache-dir', dir, '--json']);
    expect(e.code).toBe(1);
    expect(jsonLines(e.stdout)[0].error).toMatchObject({ code: 'E_NOT_FOUND', file: empty });
    expect(e.stderr.trim().split('\n')).toHaveLength(1);
    const m = await runCli(['quantize', '--method', 'p100', '--cache-dir', dir]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/--method must be minmax or pNN/);
  });
});
