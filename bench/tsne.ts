/**
 * t-SNE benchmark: wall time (per stage), final KL, trustworthiness (k = 10), neighbourhood
 * preservation and, with labels, leave-one-out 5-NN accuracy of the map, at several N.
 *
 *   npx tsx bench/tsne.ts [--flowers | --npy FILE.npy [--labels FILE.tsv]] [--native] [--sizes 1000,5000,20000]
 *       [--threads auto|1|2] [--name NAME] [--trust-exact-max 2000] [--trust-sample 1000]
 *   npx tsx bench/tsne.ts --export DIR [same data options]   # write the inputs as .npy for
 *       bench/reference/tsne_sklearn.py, which merges scikit-learn's figures into the results
 *   npx tsx bench/tsne.ts --export-fixtures DIR   # the inputs of test/projection/fixtures/
 *       sklearn-reference.json (see the recipe there)
 *
 * Input: an N×D float32 .npy of embeddings, brought to each size by resampling rows with small
 * Gaussian noise (σ = 0.1 × the RMS column standard deviation; the original rows come first, each
 * kept once) or by a seeded subset when it has more rows; --flowers takes the shared flowers'
 * embeddings (crop) through the real pipeline; without either, seeded synthetic clusters
 * (gaussianClusters(n, 2048, 10, seed 7, separation 1)). --native adds a run on the file as it is.
 * Above --trust-exact-max points the neighbourhood measures use --trust-sample seeded query points
 * against all N (an unbiased estimate; the JSON says how many).
 * Results go to bench/results/tsne.json under datasets[NAME] (runs at sizes not run this time, other
 * datasets and the "sklearn" figures already in the file are kept). Each run records the load
 * average and CPU seconds: on a shared machine the wall time says little without them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join } from 'node:path';
import { Random, matrix, readNpy, writeNpy, type Matrix } from '../src/core/index.js';
import { TSNE, knnAccuracy, mapQuality } from '../src/projection/index.js';
import { gaussianClusters } from '../test/helpers/synthetic-clusters.js';
import { flowerEmbeddings, FLOWERS } from '../test/helpers/flowers.js';
import { SHARED_DATA } from '../test/helpers/paths.js';
import { BENCH_DIR, isMain, machine, peakRssMiB } from './common.js';

interface Dataset {
  name: string;
  recipe: string;
  /** Data and labels at size n. */
  at(n: number): { data: Matrix; labels: string[] | null };
  native: number | null;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function readLabels(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t').at(-1)!);
}

/** n rows from m: all rows once then noisy resamples (or a seeded subset when m is larger). */
export function augment(m: Matrix, labels: string[] | null, n: number, seed: number): { data: Matrix; labels: string[] | null } {
  const random = new Random(seed);
  const d = m.cols;
  const out = matrix(n, d);
  const outLabels: string[] | null = labels === null ? null : [];
  if (n <= m.rows) {
    const pick = random
      .shuffle(Array.from({ length: m.rows }, (_, i) => i))
      .slice(0, n)
      .sort((a, b) => a - b);
    pick.forEach((r, i) => {
      out.data.set(m.data.subarray(r * d, (r + 1) * d), i * d);
      outLabels?.push(labels![r]!);
    });
    return { data: out, labels: outLabels };
  }
  let variance = 0;
  for (let j = 0; j < d; j++) {
    let s = 0,
      s2 = 0;
    for (let i = 0; i < m.rows; i++) {
      const v = m.data[i * d + j]!;
      s += v;
      s2 += v * v;
    }
    variance += s2 / m.rows - (s / m.rows) ** 2;
  }
  const sigma = 0.1 * Math.sqrt(Math.max(variance, 0) / d);
  for (let i = 0; i < n; i++) {
    const r = i < m.rows ? i : random.int(m.rows);
    for (let j = 0; j < d; j++) out.data[i * d + j] = m.data[r * d + j]! + (i < m.rows ? 0 : sigma * random.normal());
    outLabels?.push(labels![r]!);
  }
  return { data: out, labels: outLabels };
}

async function dataset(args: string[]): Promise<Dataset> {
  if (args.includes('--flowers')) {
    if (!FLOWERS) throw new Error(`--flowers: ${SHARED_DATA}/flowers is absent`);
    const flowers = await flowerEmbeddings('crop');
    const m = flowers.matrix;
    return {
      name: flag(args, 'name') ?? 'flowers-crop',
      recipe: `the shared flowers' avg_pool embeddings, crop (${m.rows}×${m.cols}); other sizes: augment(rows, n, seed 1) in bench/tsne.ts`,
      at: (n) => (n === m.rows ? { data: m, labels: flowers.labels } : augment(m, flowers.labels, n, 1)),
      native: args.includes('--native') ? m.rows : null,
    };
  }
  const npy = flag(args, 'npy');
  if (npy === undefined) {
    return {
      name: flag(args, 'name') ?? 'synthetic-clusters',
      recipe: 'gaussianClusters(n, 2048, 10, seed 7, separation 1) from src/projection/synthetic.ts',
      at: (n) => {
        const { data, labels } = gaussianClusters(n, 2048, 10, 7, 1);
        return { data, labels: Array.from(labels, String) };
      },
      native: null,
    };
  }
  const m = readNpy(npy);
  const labelsPath = flag(args, 'labels');
  const labels = labelsPath === undefined ? null : readLabels(labelsPath);
  if (labels !== null && labels.length !== m.rows) throw new Error(`${labelsPath}: ${labels.length} labels for ${m.rows} rows`);
  return {
    name: flag(args, 'name') ?? basename(npy, '.npy'),
    recipe: `${basename(npy)} (${m.rows}×${m.cols}); other sizes: augment(rows, n, seed 1) in bench/tsne.ts`,
    at: (n) => (n === m.rows ? { data: m, labels } : augment(m, labels, n, 1)),
    native: args.includes('--native') ? m.rows : null,
  };
}

/** The test fixtures' inputs; their recipe is repeated in test/projection/fixtures/sklearn-reference.json. */
function exportFixtures(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const clusters = gaussianClusters(1000, 100, 10, 7, 1);
  writeNpy(join(dir, 'clusters-1000x100.npy'), clusters.data);
  writeFileSync(join(dir, 'clusters-1000x100.labels.txt'), `${Array.from(clusters.labels).join('\n')}\n`);
  // metrics check: 300 points of 4 clusters in 20-D, "mapped" by keeping their first two coordinates
  const small = gaussianClusters(300, 20, 4, 3, 1).data;
  const firstTwo = matrix(300, 2);
  for (let i = 0; i < 300; i++) firstTwo.data.set(small.data.subarray(i * 20, i * 20 + 2), 2 * i);
  writeNpy(join(dir, 'metrics-300x20.npy'), small);
  writeNpy(join(dir, 'metrics-300x20-first2.npy'), firstTwo);
  console.log(`wrote the fixture inputs to ${dir}`);
}

export async function run(args: string[]): Promise<void> {
  const fixturesDir = flag(args, 'export-fixtures');
  if (fixturesDir !== undefined) return exportFixtures(fixturesDir);
  const ds = await dataset(args);
  const sizes = (flag(args, 'sizes') ?? '1000,2000,5000,20000').split(',').map(Number);
  if (ds.native !== null && !sizes.includes(ds.native)) sizes.unshift(ds.native);
  const exportDir = flag(args, 'export');
  if (exportDir !== undefined) {
    mkdirSync(exportDir, { recursive: true });
    for (const n of sizes) {
      const { data, labels } = ds.at(n);
      const stem = join(exportDir, `${ds.name}-${n}`);
      writeNpy(`${stem}.npy`, data);
      if (labels !== null) writeFileSync(`${stem}.labels.txt`, `${labels.join('\n')}\n`);
      console.log(`wrote ${stem}.npy${labels !== null ? ' and .labels.txt' : ''}`);
    }
    return;
  }
  const threadsFlag = flag(args, 'threads') ?? 'auto';
  const threads = threadsFlag === 'auto' ? 'auto' : Number(threadsFlag);
  const exactMax = Number(flag(args, 'trust-exact-max') ?? 2000);
  const sample = Number(flag(args, 'trust-sample') ?? 1000);
  const runs: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const { data, labels } = ds.at(n);
    const tsne = new TSNE({ seed: 42, threads });
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const map = tsne.fit(data);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const measureStarted = performance.now();
    const quality = mapQuality(data, map, { k: 10, sample: n > exactMax ? sample : undefined });
    const row: Record<string, unknown> = {
      n,
      dim: data.cols,
      seconds: round(seconds),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6),
      loadAverage1m: round(loadavg()[0]!),
      stages: Object.fromEntries(Object.entries(tsne.timings).map(([k, v]) => [k, round(v)])),
      kl: round(tsne.klDivergence, 4),
      iterations: tsne.iterations,
      trustworthiness: round(quality.trustworthiness, 4),
      neighbourhoodPreservation: round(quality.neighbourhoodPreservation, 4),
      measuredOn: quality.queries === n ? 'all points' : `${quality.queries} seeded query points against all ${n}`,
      threads,
      date: new Date().toISOString(),
      peakRssMiB: peakRssMiB(),
    };
    if (labels !== null) row.knnAccuracy5 = round(knnAccuracy(map, labels, 5), 4);
    console.log(
      `${ds.name} N=${n}: ${row.seconds} s, CPU ${row.cpuSeconds} s, load ${row.loadAverage1m} (${JSON.stringify(row.stages)}), ` +
        `KL ${row.kl}, trustworthiness ${row.trustworthiness}` +
        `, neighbourhood ${row.neighbourhoodPreservation}${labels !== null ? `, 5-NN ${row.knnAccuracy5}` : ''}` +
        ` [metrics ${round((performance.now() - measureStarted) / 1000)} s, peak RSS ${row.peakRssMiB} MiB]`,
    );
    runs.push(row);
  }
  const path = join(BENCH_DIR, 'results', 'tsne.json');
  const results = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>) : {};
  const datasets = (results.datasets ?? {}) as Record<string, { runs?: Record<string, unknown>[]; [key: string]: unknown }>;
  // runs at other sizes from earlier invocations stay; each run records its own load and time
  const kept = (datasets[ds.name]?.runs ?? []).filter((r) => !sizes.includes(r.n as number));
  const merged = [...kept, ...runs].sort((a, b) => (a.n as number) - (b.n as number));
  datasets[ds.name] = { recipe: ds.recipe, machine: machine(), command: `npx tsx bench/tsne.ts ${args.join(' ')}`.trim(), runs: merged };
  const out = {
    ...results,
    description:
      'convlens t-SNE (seed 42, sklearn >= 1.2 defaults, PCA to 50 first); sklearn: bench/reference/tsne_sklearn.py on the same .npy',
    notes: [
      'seconds: wall clock of TSNE.fit (PCA, kNN, P, 1000 iterations); cpuSeconds: CPU of all threads; loadAverage1m: the ' +
        'machine load when the run ended. On a shared 2-core machine the wall time depends on the load: compare runs at similar load.',
      'trustworthiness, neighbourhoodPreservation: k = 10 against the input rows (2048-d); measuredOn says whether all points ' +
        'or a seeded sample of query points (against all N) were used.',
      'knnAccuracy5: leave-one-out 5-NN accuracy of the labels in the 2-D map.',
      'Augmented sizes of a .npy: the original rows plus noisy resamples (sigma = 0.1 x RMS column std); near-duplicates make ' +
        'large augmented sets easy (trustworthiness near 1).',
      'sklearn: TSNE(random_state=seed) of scikit-learn 1.2.1 with OpenMP on all cores; raw = on the input as given, ' +
        'pca50 = PCA(50) first as convlens. Its runs record their own load average.',
    ],
    datasets,
  };
  mkdirSync(join(BENCH_DIR, 'results'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path}`);
}

function round(v: number, digits = 2): number {
  return Number(v.toFixed(digits));
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
