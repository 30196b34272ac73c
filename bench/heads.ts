/**
 * Heads benchmark: training time (with the default cross-validated choice of λ / k, and with the
 * hyper-parameters fixed), prediction time and memory per head, on seeded synthetic 2048-d
 * embeddings (src/heads/synthetic.ts) at 1k and 10k rows, plus the 750 real flower embeddings
 * (crop) when ../shared/data/flowers is present (the "750 images in seconds" check).
 *
 *   npx tsx bench/heads.ts [--sizes 1000,10000] [--heads softmax,knn,svm] [--classes 5] [--queries 1000]
 */
import type { Matrix } from '../src/core/index.js';
import { trainHead, type Head, type HeadType, type TrainHeadOptions } from '../src/heads/index.js';
import { syntheticClasses } from '../test/helpers/synthetic-classes.js';
import { flowerEmbeddings, FLOWERS } from '../test/helpers/flowers.js';
import { SHARED_DATA } from '../test/helpers/paths.js';
import { isMain, machine, peakRssMiB, writeResult } from './common.js';

interface Args {
  sizes: number[];
  heads: HeadType[];
  classes: number;
  queries: number;
}

function parseArgs(args: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    sizes: (get('sizes') ?? '1000,10000').split(',').map(Number),
    heads: (get('heads') ?? 'softmax,knn,svm').split(',') as HeadType[],
    classes: Number(get('classes') ?? 5),
    queries: Number(get('queries') ?? 1000),
  };
}

/** The hyper-parameters a head chose, as options that skip the search. */
function fixedOptions(head: Head): TrainHeadOptions {
  const { config } = head.state();
  const scaling = (config['scaling'] as { kind: never }).kind;
  return head.type === 'knn'
    ? { type: 'knn', k: config['k'] as number, metric: config['metric'] as 'cosine', scaling }
    : { type: head.type, l2: config['l2'] as number, scaling };
}

const seconds = (t0: number): number => Number(((performance.now() - t0) / 1000).toFixed(3));

function benchOne(name: string, x: Matrix, labels: string[], queries: Matrix, type: HeadType): Record<string, unknown> {
  let t0 = performance.now();
  const head = trainHead(x, labels, { type });
  const trainSeconds = seconds(t0);
  const fit = head.state().fit;
  t0 = performance.now();
  trainHead(x, labels, fixedOptions(head));
  const fixedSeconds = seconds(t0);
  t0 = performance.now();
  head.predictProba(queries);
  const predictSeconds = seconds(t0);
  const cv = fit['cv'] as { accuracy?: number; foldsUsed?: number; folds?: number; queries?: number } | undefined;
  const row = {
    data: name,
    rows: x.rows,
    head: type,
    trainSeconds,
    fixedHyperparametersSeconds: fixedSeconds,
    predictPerSecond: Math.round(queries.rows / Math.max(predictSeconds, 1e-6)),
    config: head.state().config,
    cvAccuracy: cv?.accuracy,
    cvFolds: cv?.foldsUsed ?? cv?.folds,
    iterations: fit['iterations'],
    peakRssMiB: peakRssMiB(),
  };
  console.log(
    `${name.padEnd(16)} ${String(x.rows).padStart(6)} ${type.padEnd(8)} train ${trainSeconds.toFixed(2).padStart(7)} s` +
      `  fixed ${fixedSeconds.toFixed(2).padStart(6)} s  predict ${String(row.predictPerSecond).padStart(7)}/s` +
      `  cv acc ${cv?.accuracy?.toFixed(3) ?? '-'}  peak RSS ${row.peakRssMiB} MiB`,
  );
  return row;
}

export async function run(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  const results: Record<string, unknown>[] = [];
  console.log('heads benchmark (rough: timings on a shared machine; single-threaded JS)');
  for (const n of args.sizes) {
    const per = Math.ceil(n / args.classes);
    const { x, labels } = syntheticClasses({ classes: args.classes, perClass: per, dim: 2048, separation: 6, seed: 1 });
    const queries = syntheticClasses({
      classes: args.classes,
      perClass: Math.ceil(args.queries / args.classes),
      dim: 2048,
      separation: 6,
      seed: 2,
    }).x;
    for (const type of args.heads) results.push(benchOne('synthetic-2048d', x, labels, queries, type));
  }
  if (FLOWERS) {
    const flowers = await flowerEmbeddings('crop');
    for (const type of args.heads) results.push(benchOne('flowers-crop', flowers.matrix, flowers.labels, flowers.matrix, type));
  } else {
    console.log(`(${SHARED_DATA}/flowers is absent: flowers rows skipped)`);
  }
  const path = writeResult('heads', { machine: machine(), args, results });
  console.log(`wrote ${path}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
