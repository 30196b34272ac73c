/**
 * fp32 vs int8, every figure in the same run: the bare network (batch 1/8/32, 1 and 2 threads,
 * images/s and CPU ms per image, the two precisions alternating), end-to-end `index`, accuracy on
 * the shared ImageNet samples (squash and crop, top-1/top-5), embedding agreement (cosine of the
 * avg_pool vectors), flower neighbour precision@5 and a softmax head's accuracy, and peak memory
 * (one child process per precision, so neither's memory counts against the other).
 *
 *   npm run bench -- int8 [--seconds S] [--rounds R]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collection } from '../src/collection/index.js';
import { matrix, type Matrix } from '../src/core/matrix.js';
import { Random } from '../src/core/random.js';
import { trainHead } from '../src/heads/index.js';
import { complement, selectRows, stratifiedKFold, stratifiedSplit } from '../src/heads/split.js';
import { Backbone, type Precision } from '../src/model/index.js';
import { ConvLens } from '../src/pipeline/index.js';
import { readLabelledSet } from '../src/teach/index.js';
import { SHARED_DATA } from '../test/helpers/paths.js';
import { BENCH_DIR, isMain, machine, peakRssMiB, writeResult } from './common.js';

const PRECISIONS: Precision[] = ['fp32', 'int8'];

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number, d = 1): number => +x.toFixed(d);

interface BareRow {
  threads: number;
  batch: number;
  fp32: { imagesPerSecond: number[]; cpuMsPerImage: number[] };
  int8: { imagesPerSecond: number[]; cpuMsPerImage: number[] };
}

async function timeBare(bb: Backbone, input: Float32Array, batch: number, seconds: number): Promise<{ ips: number; cpuMs: number }> {
  await bb.infer(input, batch); // warm-up
  let images = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await bb.infer(input, batch);
    images += batch;
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { ips: images / s, cpuMs: (cpu.user + cpu.system) / 1000 / images };
}

async function bare(seconds: number, rounds: number): Promise<BareRow[]> {
  const rows: BareRow[] = [];
  const rng = new Random(1);
  for (const threads of [1, 2]) {
    const models = { fp32: await Backbone.load({ threads }), int8: await Backbone.load({ threads, precision: 'int8' }) };
    for (const batch of [1, 8, 32]) {
      const input = Float32Array.from({ length: batch * models.fp32.inputSize }, () => rng.normal() * 50);
      const row: BareRow = {
        threads,
        batch,
        fp32: { imagesPerSecond: [], cpuMsPerImage: [] },
        int8: { imagesPerSecond: [], cpuMsPerImage: [] },
      };
      for (let r = 0; r < rounds; r++) {
        for (const p of r % 2 === 0 ? PRECISIONS : [...PRECISIONS].reverse()) {
          const t = await timeBare(models[p], input, batch, seconds);
          row[p].imagesPerSecond.push(round(t.ips));
          row[p].cpuMsPerImage.push(round(t.cpuMs));
        }
      }
      const f = median(row.fp32.imagesPerSecond);
      const q = median(row.int8.imagesPerSecond);
      console.log(
        `bare  threads=${threads} batch=${String(batch).padStart(2)}  fp32 ${f.toFixed(1).padStart(5)} images/s ` +
          `(${median(row.fp32.cpuMsPerImage)} CPU ms/image)  int8 ${q.toFixed(1).padStart(5)} images/s ` +
          `(${median(row.int8.cpuMsPerImage)} CPU ms/image)  ×${(q / f).toFixed(2)}`,
      );
      rows.push(row);
    }
    await models.fp32.dispose();
    await models.int8.dispose();
  }
  return rows;
}

/** Index the same folders into a fresh collection per precision, alternating, `rounds` times each. */
async function endToEnd(folders: string[], rounds: number): Promise<Record<Precision, number[]>> {
  const out: Record<Precision, number[]> = { fp32: [], int8: [] };
  for (let r = 0; r < rounds; r++) {
    for (const precision of r % 2 === 0 ? PRECISIONS : [...PRECISIONS].reverse()) {
      const dir = mkdtempSync(join(tmpdir(), 'convlens-bench-int8-'));
      const c = await Collection.open(join(dir, 'c.db'), { create: true, lens: { precision } });
      try {
        await c.lens(); // the network is loaded before the clock starts, as in a long run
        const s = await c.index(folders);
        out[precision].push(round(s.indexed / s.seconds));
        console.log(
          `index ${precision}: ${s.indexed} images in ${s.seconds.toFixed(1)} s = ${(s.indexed / s.seconds).toFixed(1)} images/s`,
        );
      } finally {
        await c.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return out;
}

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

async function outputsOf(
  precision: Precision,
  resize: 'squash' | 'crop',
  files: string[],
): Promise<{ p: Float32Array; e: Float32Array }[]> {
  const lens = await ConvLens.load({ precision, resize });
  try {
    const out: { p: Float32Array; e: Float32Array }[] = [];
    for await (const { outcome } of lens.process(files)) {
      if (!outcome.ok) throw outcome.error;
      out.push({ p: outcome.probabilities, e: outcome.embedding });
    }
    return out;
  } finally {
    await lens.dispose();
  }
}

const topK = (p: Float32Array, k: number): number[] => [...p.keys()].sort((a, b) => p[b]! - p[a]!).slice(0, k);

function cosineStats(a: { e: Float32Array }[], b: { e: Float32Array }[]): { mean: number; min: number } {
  const c = a.map((x, i) => cosine(x.e, b[i]!.e));
  return { mean: round(c.reduce((s, v) => s + v, 0) / c.length, 4), min: round(Math.min(...c), 4) };
}

async function imagenet(): Promise<Record<string, unknown> | null> {
  const dir = join(SHARED_DATA, 'imagenet-100');
  let rows: string[][];
  try {
    rows = readFileSync(join(dir, 'labels.tsv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
  } catch {
    console.log(`accuracy: skipped, ${dir} is absent`);
    return null;
  }
  const files = rows.map(([f]) => join(dir, f!));
  const truth = rows.map((r) => Number(r[3]));
  const result: Record<string, unknown> = { images: files.length };
  for (const resize of ['squash', 'crop'] as const) {
    const by = { fp32: await outputsOf('fp32', resize, files), int8: await outputsOf('int8', resize, files) };
    const acc = (k: number, p: Precision): number =>
      round(by[p].filter((x, i) => topK(x.p, k).includes(truth[i]!)).length / files.length, 3);
    const agreement = round(by.fp32.filter((x, i) => topK(x.p, 1)[0] === topK(by.int8[i]!.p, 1)[0]).length / files.length, 3);
    const r = {
      fp32: { top1: acc(1, 'fp32'), top5: acc(5, 'fp32') },
      int8: { top1: acc(1, 'int8'), top5: acc(5, 'int8') },
      top1Agreement: agreement,
      embeddingCosine: cosineStats(by.fp32, by.int8),
    };
    console.log(
      `imagenet-100 ${resize}: top-1 fp32 ${r.fp32.top1} int8 ${r.int8.top1}; top-5 fp32 ${r.fp32.top5} int8 ${r.int8.top5}; ` +
        `agreement ${agreement}; cosine mean ${r.embeddingCosine.mean} min ${r.embeddingCosine.min}`,
    );
    result[resize] = r;
  }
  return result;
}

/** Leave-one-out precision@5 by cosine: the share of each photo's 5 nearest that have its label. */
function precisionAt5(x: Matrix, labels: string[]): number {
  const n = x.rows;
  const d = x.cols;
  const unit = new Float32Array(x.data);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += unit[i * d + j]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < d; j++) unit[i * d + j]! *= inv;
  }
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const scores: [number, number][] = [];
    for (let k = 0; k < n; k++) {
      if (k === i) continue;
      let s = 0;
      for (let j = 0; j < d; j++) s += unit[i * d + j]! * unit[k * d + j]!;
      scores.push([s, k]);
    }
    scores.sort((a, b) => b[0] - a[0]);
    hits += scores.slice(0, 5).filter(([, k]) => labels[k] === labels[i]).length;
  }
  return hits / (5 * n);
}

async function flowers(): Promise<Record<string, unknown> | null> {
  const tsv = join(SHARED_DATA, 'flowers', 'labels.tsv');
  let items;
  try {
    items = await readLabelledSet(tsv);
  } catch {
    console.log(`flowers: skipped, ${tsv} is absent`);
    return null;
  }
  const labels = items.map((i) => i.label);
  const split = stratifiedSplit(labels, 0.2, { seed: 0 });
  const folds = stratifiedKFold(labels, 5, { seed: 0 });
  const result: Record<string, unknown> = {
    images: items.length,
    split: '80/20 stratified, seed 0; and 5-fold stratified, seed 0',
    head: 'softmax',
  };
  const emb: Partial<Record<Precision, { e: Float32Array }[]>> = {};
  for (const precision of PRECISIONS) {
    const out = await outputsOf(
      precision,
      'crop',
      items.map((i) => i.path),
    );
    emb[precision] = out;
    const x = matrix(out.length, 2048);
    out.forEach((o, i) => x.data.set(o.e, i * 2048));
    const head = trainHead(
      selectRows(x, split.train),
      split.train.map((i) => labels[i]!),
      { type: 'softmax' },
    );
    const predicted = head.predict(selectRows(x, split.val));
    const accuracy = predicted.filter((p, k) => p.label === labels[split.val[k]!]).length / split.val.length;
    // the same folds for both precisions: every photo predicted once, by a head that never saw it
    let cvCorrect = 0;
    for (const fold of folds) {
      const train = complement(labels.length, fold);
      const h = trainHead(
        selectRows(x, train),
        train.map((i) => labels[i]!),
        { type: 'softmax' },
      );
      cvCorrect += h.predict(selectRows(x, fold)).filter((p, k) => p.label === labels[fold[k]!]).length;
    }
    const cvAccuracy = cvCorrect / labels.length;
    const p5 = precisionAt5(x, labels);
    result[precision] = { precisionAt5: round(p5, 4), headAccuracy: round(accuracy, 4), headAccuracy5Fold: round(cvAccuracy, 4) };
    console.log(
      `flowers ${precision}: neighbour precision@5 ${p5.toFixed(4)}, ` +
        `softmax head accuracy ${accuracy.toFixed(4)} (${split.val.length} held out), ` +
        `${cvAccuracy.toFixed(4)} (5-fold, all ${labels.length})`,
    );
  }
  result['embeddingCosine'] = cosineStats(emb.fp32!, emb.int8!);
  return result;
}

/** Peak memory of a process that loads one precision and embeds 96 flowers. */
function peakMemory(precision: Precision): number | null {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'int8.ts'), '--memory-child', precision], {
    encoding: 'utf8',
  });
  const m = /peak (\d+)/.exec(r.stdout);
  return m ? Number(m[1]) : null;
}

async function memoryChild(precision: Precision): Promise<void> {
  const folder = join(SHARED_DATA, 'flowers', 'daisy');
  const lens = await ConvLens.load({ precision, resize: 'crop' });
  const files = readFileSync(join(SHARED_DATA, 'flowers', 'labels.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1, 97)
    .map((l) => join(SHARED_DATA, 'flowers', l.split('\t')[0]!));
  for await (const _ of lens.process(files.length > 0 ? files : [folder]));
  await lens.dispose();
  console.log(`peak ${peakRssMiB()}`);
}

export async function run(args: string[] = []): Promise<void> {
  if (args[0] === '--memory-child') return memoryChild(args[1] as Precision);
  if (args[0] === '--flowers-only') {
    console.log(JSON.stringify(await flowers()));
    return;
  }
  const seconds = Number(arg(args, '--seconds', '4'));
  const rounds = Number(arg(args, '--rounds', '2'));
  // both models made (and the int8 one calibrated) before anything is timed
  await (await Backbone.load({ precision: 'int8' })).dispose();
  const bareRows = await bare(seconds, rounds);
  const e2eFolders = ['daisy', 'rose'].map((c) => join(SHARED_DATA, 'flowers', c));
  const e2e = await endToEnd(e2eFolders, rounds).catch((e: Error) => {
    console.log(`index: skipped (${e.message})`);
    return null;
  });
  const accuracy = await imagenet();
  const flower = await flowers();
  const memory = { fp32: peakMemory('fp32'), int8: peakMemory('int8') };
  console.log(`peak RSS (load + embed 96 flowers): fp32 ${memory.fp32} MiB, int8 ${memory.int8} MiB`);
  const summary = {
    bareBatch8Threads2: (() => {
      const r = bareRows.find((x) => x.threads === 2 && x.batch === 8)!;
      return { fp32: median(r.fp32.imagesPerSecond), int8: median(r.int8.imagesPerSecond) };
    })(),
    index: e2e ? { fp32: median(e2e.fp32), int8: median(e2e.int8) } : null,
  };
  console.log(
    `summary: bare (2 threads, batch 8) ×${(summary.bareBatch8Threads2.int8 / summary.bareBatch8Threads2.fp32).toFixed(2)}` +
      (summary.index ? `; index ×${(summary.index.int8 / summary.index.fp32).toFixed(2)}` : ''),
  );
  const path = writeResult('int8', {
    machine: machine(),
    seconds,
    rounds,
    bare: bareRows,
    index: e2e ? { folders: e2eFolders, imagesPerSecond: e2e } : null,
    imagenet: accuracy,
    flowers: flower,
    peakRssMiB: memory,
    summary,
  });
  console.log(`recorded in ${path}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
