/**
 * Teaching quality on a held-out split nobody tunes on: train on part of the shared flowers, test
 * on the rest (stratified, fixed seed), with convlens' heads as they ship and with test-time
 * augmentation (the mean of an image's and its mirror's embeddings), against scikit-learn's
 * LogisticRegression(C=1) on the same embeddings and split (bench/reference/heads_sklearn.py,
 * which reads the .npy files this writes).
 *
 *   npm run bench -- teach [--test 0.4] [--seed 2026] [--export DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { matrix, type Matrix } from '../src/core/matrix.js';
import { writeNpy } from '../src/core/npy.js';
import { trainHead, type HeadType } from '../src/heads/index.js';
import { selectRows, stratifiedSplit } from '../src/heads/split.js';
import { ConvLens } from '../src/pipeline/index.js';
import { embedLabelled, readLabelledSet } from '../src/teach/index.js';
import { SHARED_DATA } from '../test/helpers/paths.js';
import { BENCH_DIR, isMain, machine, writeResult } from './common.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** Row-wise mean of two matrices of the same shape. */
function mean(a: Matrix, b: Matrix): Matrix {
  const m = matrix(a.rows, a.cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = (a.data[i]! + b.data[i]!) / 2;
  return m;
}

function accuracy(type: HeadType, xTrain: Matrix, yTrain: string[], xTest: Matrix, yTest: string[]): number {
  const head = trainHead(xTrain, yTrain, { type });
  return head.predict(xTest).filter((p, i) => p.label === yTest[i]).length / yTest.length;
}

export async function run(args: string[] = []): Promise<void> {
  const testFraction = Number(arg(args, '--test', '0.4'));
  const seed = Number(arg(args, '--seed', '2026'));
  const exportDir = arg(args, '--export', join(BENCH_DIR, 'results', 'teach-embeddings'));
  const items = await readLabelledSet(join(SHARED_DATA, 'flowers', 'labels.tsv'));
  const lens = await ConvLens.load({ resize: 'crop' });
  const plain = await embedLabelled(items, lens);
  const flip = await embedLabelled(items, lens, { variant: { flip: true } });
  await lens.dispose();
  if (plain.paths.join() !== flip.paths.join()) throw new Error('the two views embedded different images');
  const labels = plain.labels;
  const split = stratifiedSplit(labels, testFraction, { seed });
  const y = (rows: number[]): string[] => rows.map((i) => labels[i]!);
  const views = { plain: plain.matrix, tta: mean(plain.matrix, flip.matrix) };
  const result: Record<string, unknown> = {
    machine: machine(),
    split: { test: testFraction, seed, train: split.train.length, held: split.val.length },
  };
  for (const [name, x] of Object.entries(views)) {
    mkdirSync(exportDir, { recursive: true });
    writeNpy(join(exportDir, `${name}-train.npy`), selectRows(x, split.train));
    writeNpy(join(exportDir, `${name}-test.npy`), selectRows(x, split.val));
  }
  writeFileSync(join(exportDir, 'train-labels.txt'), `${y(split.train).join('\n')}\n`);
  writeFileSync(join(exportDir, 'test-labels.txt'), `${y(split.val).join('\n')}\n`);
  const rows: Record<string, number> = {};
  for (const type of ['softmax', 'knn', 'svm'] as HeadType[]) {
    for (const [view, x] of Object.entries(views)) {
      rows[`${type} ${view}`] = accuracy(type, selectRows(x, split.train), y(split.train), selectRows(x, split.val), y(split.val));
    }
  }
  for (const [k, v] of Object.entries(rows)) console.log(`fixed split  ${k.padEnd(14)} ${v.toFixed(4)}`);
  result['heldOutAccuracy'] = rows;
  // one split is ±2 points of noise at 300 images: the mean over 8 other splits says more
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const splits = seeds.map((s) => stratifiedSplit(labels, testFraction, { seed: s }));
  writeFileSync(join(exportDir, 'splits.json'), JSON.stringify(splits));
  const means: Record<string, number> = {};
  for (const type of ['softmax', 'knn', 'svm'] as HeadType[]) {
    for (const [view, x] of Object.entries(views)) {
      const accs = splits.map((sp) => accuracy(type, selectRows(x, sp.train), y(sp.train), selectRows(x, sp.val), y(sp.val)));
      means[`${type} ${view}`] = +(accs.reduce((a, b) => a + b, 0) / accs.length).toFixed(4);
      console.log(
        `8 splits     ${`${type} ${view}`.padEnd(14)} mean ${means[`${type} ${view}`]!.toFixed(4)} ` +
          `[${accs.map((a) => a.toFixed(3)).join(' ')}]`,
      );
    }
  }
  result['meanOf8Splits'] = { seeds, accuracy: means };
  for (const [name, x] of Object.entries(views)) writeNpy(join(exportDir, `${name}-all.npy`), x);
  writeFileSync(join(exportDir, 'all-labels.txt'), `${labels.join('\n')}\n`);
  console.log(`embeddings for the reference in ${exportDir}: /usr/bin/python3 bench/reference/heads_sklearn.py ${exportDir}`);
  console.log(`recorded in ${writeResult('teach', result)}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
