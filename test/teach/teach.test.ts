import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLabelledSet, type LabelledItem } from '../../src/teach/index.js';
import { matrix } from '../../src/core/index.js';
import { loadModelDir, saveModelDir, stratifiedSplit } from '../../src/heads/index.js';
import { loadImage } from '../../src/image/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { exportModel, trainOnLabelled } from '../../src/teach/index.js';
import { hasStackTrace, jsonLines, runCli } from '../helpers/cli.js';
import { FLOWERS } from '../helpers/flowers.js';
import { skipNote } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'convlens-teach-'));

describe.skipIf(!FLOWERS)(FLOWERS ? 'teaching new classes on the shared flowers' : skipNote('the flower training tests'), () => {
  let lens: ConvLens;
  let items: LabelledItem[];
  beforeAll(async () => {
    lens = await ConvLens.load({ resize: 'crop' });
    items = await readLabelledSet(join(FLOWERS!, 'labels.tsv'));
  });
  afterAll(async () => {
    await lens.dispose();
  });

  it('softmax head: validation accuracy, save -> load predicts the same, ONNX export gives the same top-1', async () => {
    const r = await trainOnLabelled(items, lens, { head: 'softmax', val: 0.2, seed: 0, refit: false });
    console.log(
      `flowers crop softmax: validation accuracy ${r.report!.accuracy.toFixed(3)} (n=${r.report!.n}), ` +
        `training ${r.seconds.train.toFixed(1)}s`,
    );
    expect(r.report!.accuracy).toBeGreaterThanOrEqual(0.86);
    expect(r.counts).toMatchObject({ labelled: 750, embedded: 750, train: 600, val: 150 });

    const dir = join(tmp, 'softmax');
    const s = lens.settings;
    saveModelDir(dir, r.head, { backbone: { model: s.model, layer: s.layer, resize: s.resize, dim: s.dim }, metrics: r.report });
    const loaded = loadModelDir(dir);

    // the validation images, embedded again through the pipeline
    const { val } = stratifiedSplit(
      items.map((it) => it.label),
      0.2,
      { seed: 0 },
    );
    const valItems = val.map((i) => items[i]!);
    const emb = matrix(valItems.length, 2048);
    let i = 0;
    for await (const { outcome } of lens.process(valItems.map((it) => it.path))) {
      if (!outcome.ok) throw outcome.error;
      emb.data.set(outcome.embedding, i++ * 2048);
    }
    expect(Array.from(loaded.head.predictProba(emb).data)).toEqual(Array.from(r.head.predictProba(emb).data));

    const onnxPath = join(tmp, 'flowers.onnx');
    exportModel(dir, onnxPath);
    const session = await ort.InferenceSession.create(onnxPath);
    const classes = loaded.head.classes; // the exported outputs follow the head's class order
    expect(readFileSync(onnxPath).includes(Buffer.from(JSON.stringify(classes)))).toBe(true); // ...recorded in the metadata
    const expected = loaded.head.predict(emb);
    let agree = 0;
    for (let b = 0; b < valItems.length; b += 25) {
      const chunk = valItems.slice(b, b + 25);
      const pixels = new Uint8Array(chunk.length * 224 * 224 * 3);
      for (let j = 0; j < chunk.length; j++) pixels.set((await loadImage(chunk[j]!.path, { resize: 'crop' })).rgb, j * 224 * 224 * 3);
      const out = await session.run({ image: new ort.Tensor('uint8', pixels, [chunk.length, 224, 224, 3]) });
      const p = out.probabilities!.data as Float32Array;
      for (let j = 0; j < chunk.length; j++) {
        const row = Array.from(p.subarray(j * 5, j * 5 + 5));
        const top = row.indexOf(Math.max(...row));
        if (classes[top] === expected[b + j]!.label) agree++;
      }
    }
    await session.release();
    expect(agree).toBe(valItems.length);
  });

  it('k-NN head chooses k by cross-validation and generalises', async () => {
    const r = await trainOnLabelled(items, lens, { head: 'knn', val: 0.2, seed: 0, refit: false });
    console.log(`flowers crop knn: validation accuracy ${r.report!.accuracy.toFixed(3)}, k=${JSON.stringify(r.head.state().config['k'])}`);
    expect(r.report!.accuracy).toBeGreaterThanOrEqual(0.8);
  });

  it('augmentation adds views of the training images only', async () => {
    const few = items.filter((_, i) => i % 15 === 0); // 50 images, 10 per class
    const r = await trainOnLabelled(few, lens, { head: 'softmax', val: 0.2, seed: 1, augment: ['flip'], refit: false });
    expect(r.counts.augmented).toBe(r.counts.train);
    expect(r.report!.n).toBe(r.counts.val);
  });

  it('test-time augmentation (train --tta): recorded in the model, used by predict, evaluate and the ONNX export', async () => {
    const tsv = join(tmp, 'tta.tsv');
    const few = items.filter((_, i) => i % 10 === 0); // 75 images, 15 per class
    writeFileSync(tsv, ['path\tlabel', ...few.map((it) => `${it.path}\t${it.label}`)].join('\n'));
    const model = join(tmp, 'tta-model');
    const t = await runCli(['train', tsv, '--out', model, '--tta', '--val', '0', '--json']);
    expect(t.code, t.stderr).toBe(0);
    const meta = JSON.parse(readFileSync(join(model, 'convlens-model.json'), 'utf8'));
    expect(meta.backbone.tta).toBe('flip');
    const others = items.filter((_, i) => i % 10 === 5).slice(0, 12);
    const p = await runCli(['predict', ...others.map((it) => it.path), '--model', model, '--json', '--top', '5']);
    expect(p.code, p.stderr).toBe(0);
    const predicted = jsonLines(p.stdout);

    // predict's probabilities are the head on the mean of the two views
    const loaded = loadModelDir(model);
    const mean = matrix(others.length, 2048);
    for (const [v, variant] of [undefined, { flip: true }].entries()) {
      let i = 0;
      for await (const { outcome } of lens.process(
        others.map((it) => it.path),
        variant ? { variant } : {},
      )) {
        if (!outcome.ok) throw outcome.error;
        for (let k = 0; k < 2048; k++) mean.data[i * 2048 + k]! += outcome.embedding[k]! / 2;
        i++;
      }
      expect(v === 0 || i === others.length).toBe(true);
    }
    const expected = loaded.head.predictTop(mean, 5);
    predicted.forEach((r: { predictions: { label: string; probability: number }[] }, i: number) => {
      expect(r.predictions.map((x) => x.label)).toEqual(expected[i]!.map((x) => x.label));
      expect(r.predictions[0]!.probability).toBeCloseTo(expected[i]![0]!.probability, 5);
    });

    // the exported file embeds the image and its mirror in one pass and averages them
    const onnxPath = join(tmp, 'tta.onnx');
    expect((await runCli(['export', '--model', model, '--out', onnxPath])).code).toBe(0);
    const session = await ort.InferenceSession.create(onnxPath);
    const pixels = new Uint8Array(others.length * 224 * 224 * 3);
    for (const [j, it] of others.entries()) pixels.set((await loadImage(it.path, { resize: 'crop' })).rgb, j * 224 * 224 * 3);
    const out = await session.run({ image: new ort.Tensor('uint8', pixels, [others.length, 224, 224, 3]) });
    await session.release();
    const emb = out.embedding!.data as Float32Array;
    let worst = 0;
    for (let k = 0; k < mean.data.length; k++) worst = Math.max(worst, Math.abs(emb[k]! - mean.data[k]!));
    expect(worst).toBeLessThan(1e-3);
    const probs = out.probabilities!.data as Float32Array;
    const classes = loaded.head.classes;
    for (let j = 0; j < others.length; j++) {
      const row = Array.from(probs.subarray(j * 5, j * 5 + 5));
      expect(classes[row.indexOf(Math.max(...row))]).toBe(expected[j]![0]!.label);
    }

    // evaluate --mistakes lists the wrong predictions, most confident first
    const e = await runCli(['evaluate', join(FLOWERS!, 'labels.tsv'), '--model', model, '--mistakes', '3', '--json']);
    const report = jsonLines(e.stdout)[0];
    expect(report.accuracy).toBeGreaterThan(0.75); // 735 of the 750 never seen in training
    expect(report.mistakes).toHaveLength(3);
    for (const m of report.mistakes) expect(m.predicted).not.toBe(m.label);
    const sorted = [...report.mistakes].sort((a: { probability: number }, b: { probability: number }) => b.probability - a.probability);
    expect(report.mistakes).toEqual(sorted);
  });

  it('CLI: train -> predict -> evaluate -> export, with JSON output and clear errors', async () => {
    const tsv = join(tmp, 'small.tsv');
    const small = items.filter((it, i) => (it.label === 'rose' || it.label === 'sunflower') && i % 5 === 0);
    writeFileSync(tsv, ['path\tlabel', ...small.map((it) => `${it.path}\t${it.label}`), `${join(tmp, 'missing.jpg')}\trose`].join('\n'));
    const model = join(tmp, 'cli-model');
    const t = await runCli(['train', tsv, '--out', model, '--resize', 'crop', '--json']);
    expect(t.code).toBe(2); // the missing file is reported, the rest trained
    const [summary] = jsonLines(t.stdout);
    expect(summary.classes).toEqual(['rose', 'sunflower']);
    expect(summary.failed).toEqual([{ path: join(tmp, 'missing.jpg'), code: 'E_NOT_FOUND', message: expect.any(String) }]);
    expect(summary.metrics.accuracy).toBeGreaterThan(0.7);
    expect(JSON.parse(readFileSync(join(model, 'convlens-model.json'), 'utf8')).backbone).toMatchObject({
      resize: 'crop',
      layer: 'avg_pool',
      dim: 2048,
    });

    const rose = items.find((it) => it.label === 'rose' && !small.includes(it))!.path;
    const p = await runCli(['predict', rose, join(tmp, 'nope.png'), '--model', model, '--json', '--top', '2']);
    expect(p.code).toBe(2);
    const [ok, bad] = jsonLines(p.stdout);
    expect(ok.file).toBe(rose);
    expect(ok.predictions.map((x: { label: string }) => x.label).sort()).toEqual(['rose', 'sunflower']);
    expect(bad.error.code).toBe('E_NOT_FOUND');

    const e = await runCli(['evaluate', tsv, '--model', model, '--json']);
    expect(jsonLines(e.stdout)[0].accuracy).toBeGreaterThan(0.9); // its own training images

    const knn = join(tmp, 'cli-knn');
    await runCli(['train', tsv, '--out', knn, '--head', 'knn', '--resize', 'crop', '--val', '0']);
    const x = await runCli(['export', '--model', knn, '--out', join(tmp, 'knn.onnx')]);
    expect(x.code).toBe(1);
    expect(x.stderr).toContain('cannot be exported to ONNX');
    const bad2 = await runCli(['predict', rose, '--model', join(tmp, 'no-model')]);
    expect(bad2.code).toBe(1);
    expect(bad2.stderr).toMatch(/no such model directory/);
    expect(hasStackTrace(bad2.stderr + x.stderr)).toBe(false);
  });
});
