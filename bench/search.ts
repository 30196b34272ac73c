/**
 * Search benchmark on synthetic clustered, non-negative 2048-d embeddings (src/search/synthetic.ts)
 * at 10k / 100k / 1M rows: exact latency (single and batched, f32 and int8 storage), HNSW build
 * time, memory, query latency and recall@10 against exact float32, near-duplicate grouping, and a
 * side-by-side of the candidate kernels for an exact scan.
 *
 *   npx tsx bench/search.ts [--sizes 10000,100000,1000000] [--queries 100] [--threads 0]
 *                           [--duplicates-exact-max 10000] [--no-kernels]
 *
 * Sizes up to 100k are held in memory as float32. 1M (8 GB as float32) is streamed in 100k
 * blocks: each block is added to an f16 HNSW index and scanned exactly for the queries, so the
 * recall reference is exact float32 without a second copy of the data.
 * A run replaces the entries of the sizes it measures in bench/results/search.json and keeps the others.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as ort from 'onnxruntime-node';
import { MetricKind, exactSearch } from 'usearch';
import { matrix, type Matrix } from '../src/core/index.js';
import { ExactIndex, HnswIndex, duplicateGroups, type HnswQuantization, type Metric, type Neighbour } from '../src/search/index.js';
import { syntheticEmbeddings } from '../test/helpers/synthetic-embeddings.js';
import { TensorType, attr } from '../src/onnx/index.js';
import { dotProducts, graphModel } from '../src/search/onnx.js';
import { quantizeRowsPerRow, quantizeVectorPerRow } from '../src/search/quantize.js';
import { BENCH_DIR, isMain, machine, peakRssMiB, writeResult } from './common.js';

const DIMS = 2048;
const BLOCK = 100_000;
const QUERY_START = 1_000_000_000; // held-out rows of the same distribution

interface Args {
  sizes: number[];
  queries: number;
  threads: number;
  duplicatesExactMax: number;
  kernels: boolean;
}

function parseArgs(args: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    sizes: (get('sizes') ?? '10000,100000,1000000').split(',').map(Number),
    queries: Number(get('queries') ?? 100),
    threads: Number(get('threads') ?? 0),
    duplicatesExactMax: Number(get('duplicates-exact-max') ?? 10_000),
    kernels: !args.includes('--no-kernels'),
  };
}

// usearch's native memory is invisible to V8, so a dropped index may stay resident for a long
// time; collecting between phases keeps the measured peak to what is actually live
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Full collections until dropped native objects are finalised (N-API finalisers run a turn later). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const rssMiB = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function time<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t = performance.now();
  const r = await f();
  return [r, performance.now() - t];
}

/** Median ms of `f` over `reps` runs after one warm-up. */
async function latency(reps: number, f: (i: number) => Promise<unknown> | unknown): Promise<number> {
  await f(0);
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) ts.push((await time(() => f(i)))[1]);
  return round(median(ts));
}

function log(...parts: unknown[]): void {
  console.log(`[search] ${parts.join(' ')}`);
}

function recallAt10(got: Neighbour[][], truth: Neighbour[][]): number {
  let hits = 0;
  got.forEach((list, i) => {
    const want = new Set(truth[i]!.map((n) => n.id));
    for (const n of list) if (want.has(n.id)) hits++;
  });
  return round(hits / (10 * truth.length), 4);
}

async function generate(n: number, clusters: number, start = 0): Promise<Matrix> {
  const data = new Float32Array(n * DIMS);
  for (let s = 0; s < n; s += 25_000) {
    const b = await syntheticEmbeddings(Math.min(25_000, n - s), { clusters, start: start + s });
    data.set(b.data, s * DIMS);
  }
  return matrix(n, DIMS, data);
}

const rowOf = (m: Matrix, i: number): Float32Array => m.data.subarray(i * m.cols, (i + 1) * m.cols);

async function hnswSection(
  data: Matrix,
  queries: Matrix,
  truth: Neighbour[][],
  quantization: HnswQuantization,
  a: Args,
): Promise<Record<string, unknown>> {
  const rss0 = rssMiB();
  const [index, buildMs] = await time(() => HnswIndex.build(data, { quantization, threads: a.threads }));
  const path = join(tmpdir(), `convlens-bench-${process.pid}.usearch`);
  index.save(path);
  const result: Record<string, unknown> = {
    quantization,
    connectivity: index.connectivity,
    expansionAdd: 128,
    buildSeconds: round(buildMs / 1000, 1),
    buildRowsPerSecond: Math.round(data.rows / (buildMs / 1000)),
    rssGrowthMiB: rssMiB() - rss0,
    estimatedBytesPerVector: Math.round(index.memoryBytes / index.size),
    fileBytesPerVector: Math.round(statSync(path).size / index.size),
    search: await searchSweep(path, queries, truth, a),
  };
  if (quantization !== 'f32') result.rescored = await rescoredRecall(index, data, queries, truth);
  rmSync(path, { force: true });
  log(`hnsw ${quantization} n=${data.rows}`, JSON.stringify(result));
  return result;
}

/**
 * Quantised scores reorder near-ties around rank 10. The README's remedy: ask the HNSW index for
 * 40 candidates and rank those rows exactly from their float32 vectors (as the collection store
 * holds them).
 */
async function rescoredRecall(index: HnswIndex, data: Matrix, queries: Matrix, truth: Neighbour[][]): Promise<Record<string, unknown>> {
  const candidates = 40;
  const got: Neighbour[][] = [];
  const t = performance.now();
  for (let i = 0; i < queries.rows; i++) {
    const q = rowOf(queries, i);
    const ids = (await index.search(q, { k: candidates })).map((n) => n.id);
    const rows = matrix(ids.length, DIMS);
    ids.forEach((id, r) => rows.data.set(rowOf(data, id), r * DIMS));
    got.push(await new ExactIndex(rows, { ids }).search(q, { k: 10 }));
  }
  return { candidates, singleMs: round((performance.now() - t) / queries.rows), recallAt10: recallAt10(got, truth) };
}

async function searchSweep(path: string, queries: Matrix, truth: Neighbour[][], a: Args): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const expansionSearch of [64, 128, 256]) {
    await collect(); // the previous step's mapping
    out.push(await sweepStep(path, expansionSearch, queries, truth, a));
  }
  await collect();
  return out;
}

async function sweepStep(
  path: string,
  expansionSearch: number,
  queries: Matrix,
  truth: Neighbour[][],
  a: Args,
): Promise<Record<string, unknown>> {
  // memory-mapped: a read copy would stay resident until V8 happens to collect it (usearch has no close)
  const index = HnswIndex.load(path, { expansionSearch, threads: a.threads, view: true });
  const single = await latency(queries.rows, (i) => index.search(rowOf(queries, i % queries.rows), { k: 10 }));
  const [got, batchMs] = await time(() => index.searchBatch(queries, { k: 10 }));
  return { expansionSearch, singleMs: single, batchMsPerQuery: round(batchMs / queries.rows, 3), recallAt10: recallAt10(got, truth) };
}

async function exactSection(data: Matrix, queries: Matrix, a: Args): Promise<{ result: Record<string, unknown>; truth: Neighbour[][] }> {
  const result: Record<string, unknown> = {};
  let truth: Neighbour[][] = [];
  const reps = Math.min(30, queries.rows);
  for (const metric of ['cosine', 'euclidean'] as Metric[]) {
    const f32 = new ExactIndex(data, { metric, threads: a.threads });
    const single = await latency(reps, (i) => f32.search(rowOf(queries, i), { k: 10 }));
    const [batch, batchMs] = await time(() => f32.searchBatch(queries, { k: 10 }));
    const [i8, i8BuildMs] = await time(() => new ExactIndex(data, { metric, storage: 'i8', threads: a.threads }));
    const i8Single = await latency(reps, (i) => i8.search(rowOf(queries, i), { k: 10 }));
    let same = 0;
    for (let i = 0; i < queries.rows; i++) {
      const got = await i8.search(rowOf(queries, i), { k: 10 });
      if (got.map((n) => n.id).join() === batch[i]!.map((n) => n.id).join()) same++;
    }
    result[metric] = {
      f32: { singleMs: single, batchMsPerQuery: round(batchMs / queries.rows), batch: queries.rows },
      i8: {
        buildMs: Math.round(i8BuildMs),
        singleMs: i8Single,
        extraBytesPerVector: Math.round(i8.extraBytes / data.rows),
        top10SameAsF32: round(same / queries.rows, 3),
      },
    };
    if (metric === 'cosine') truth = batch;
    log(`exact ${metric} n=${data.rows}`, JSON.stringify(result[metric]));
  }
  return { result, truth };
}

/** The ways to scan 100k × 2048 float32 for one query (and a batch), side by side. */
async function kernelSection(data: Matrix, queries: Matrix, a: Args): Promise<Record<string, unknown>> {
  const n = data.rows;
  const q1 = rowOf(queries, 0);
  const b = Math.min(64, queries.rows);
  const qb = queries.data.subarray(0, b * DIMS);
  const threads = a.threads;
  const usearchThreads = threads === 0 ? 2 : threads;
  const reps = 10;
  const out: Record<string, unknown> = { rows: n, batch: b };
  out.ortGemmF32 = {
    singleMs: await latency(reps, () => dotProducts(q1, 1, data.data, n, DIMS, threads)),
    batchMsPerQuery: round((await latency(3, () => dotProducts(qb, b, data.data, n, DIMS, threads))) / b),
  };
  out.usearchExactF32Cos = {
    singleMs: await latency(reps, () => exactSearch(data.data, q1, DIMS, 10, MetricKind.Cos, usearchThreads)),
    batchMsPerQuery: round((await latency(2, () => exactSearch(data.data, qb, DIMS, 10, MetricKind.Cos, usearchThreads))) / b),
  };
  out.usearchExactF32Ip = { singleMs: await latency(reps, () => exactSearch(data.data, q1, DIMS, 10, MetricKind.IP, usearchThreads)) };
  const i8 = quantizeRowsPerRow(data);
  const q8 = quantizeVectorPerRow(q1);
  out.usearchExactI8Cos = { singleMs: await latency(reps, () => exactSearch(i8, q8, DIMS, 104, MetricKind.Cos, usearchThreads)) };
  // f16 storage through ORT's float16 GEMM
  const f16 = toHalf(data.data);
  const session = await ort.InferenceSession.create(
    graphModel({
      inputs: [
        ['Q', TensorType.FLOAT16, ['B', 'D']],
        ['X', TensorType.FLOAT16, ['N', 'D']],
      ],
      outputs: [['S', TensorType.FLOAT16, ['B', 'N']]],
      nodes: [{ op: 'Gemm', inputs: ['Q', 'X'], outputs: ['S'], attributes: { transB: attr.int(1) } }],
    }),
    { intraOpNumThreads: threads },
  );
  const x16 = new ort.Tensor('float16', f16, [n, DIMS]);
  const run16 = (rows: number): Promise<unknown> =>
    session.run({ Q: new ort.Tensor('float16', f16.slice(0, rows * DIMS), [rows, DIMS]), X: x16 });
  out.ortGemmF16 = { singleMs: await latency(reps, () => run16(1)), batchMsPerQuery: round((await latency(3, () => run16(b))) / b) };
  out.plainJsF32Cos = {
    singleMs: await latency(3, () => {
      const s = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        let dot = 0;
        let xx = 0;
        for (let j = 0, o = i * DIMS; j < DIMS; j++) {
          const x = data.data[o + j]!;
          dot += q1[j]! * x;
          xx += x * x;
        }
        s[i] = dot / Math.sqrt(xx);
      }
      return s;
    }),
  };
  log('kernels', JSON.stringify(out));
  return out;
}

/** IEEE half-precision bits, round to nearest (enough for a timing comparison). */
function toHalf(src: Float32Array): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 112;
    const mant = x & 0x7fffff;
    out[i] = exp <= 0 ? sign : exp >= 31 ? sign | 0x7c00 : sign | (exp << 10) | ((mant + 0x1000) >>> 13);
  }
  return out;
}

async function duplicatesSection(data: Matrix, a: Args): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const method of ['exact', 'hnsw'] as const) {
    if (method === 'exact' && data.rows > a.duplicatesExactMax) continue;
    const [groups, ms] = await time(() => duplicateGroups(data, { method, threads: a.threads }));
    out[method] = { seconds: round(ms / 1000, 1), groups: groups.length, rowsInGroups: groups.reduce((s, g) => s + g.length, 0) };
  }
  log(`duplicates n=${data.rows}`, JSON.stringify(out));
  return out;
}

/** 1M rows, streamed: f16 HNSW built block by block, exact float32 top-10 merged over blocks. */
async function streamedSection(n: number, clusters: number, queries: Matrix, a: Args): Promise<Record<string, unknown>> {
  const path = join(tmpdir(), `convlens-bench-${process.pid}-1m.usearch`);
  const { exact, hnsw, truth } = await buildStreamed(n, clusters, queries, path, a);
  await collect(); // the built index: the sweep below maps the saved file instead
  hnsw.search = await searchSweep(path, queries, truth, a);
  rmSync(path, { force: true });
  log(`hnsw f16 n=${n}`, JSON.stringify(hnsw));
  return { exact, hnsw: [hnsw] };
}

async function buildStreamed(
  n: number,
  clusters: number,
  queries: Matrix,
  path: string,
  a: Args,
): Promise<{ exact: Record<string, unknown>; hnsw: Record<string, unknown>; truth: Neighbour[][] }> {
  const index = HnswIndex.create(DIMS, { quantization: 'f16', threads: a.threads });
  let truth: Neighbour[][] = Array.from({ length: queries.rows }, () => []);
  let addMs = 0;
  let exactBatchMs = 0;
  let exactSingleMs = 0;
  const rss0 = rssMiB();
  for (let start = 0; start < n; start += BLOCK) {
    const rows = Math.min(BLOCK, n - start);
    const block = await generate(rows, clusters, start);
    const ids = Array.from({ length: rows }, (_, i) => start + i);
    addMs += (await time(() => index.add(block, ids)))[1];
    const exact = new ExactIndex(block, { ids, threads: a.threads });
    exactSingleMs += await latency(5, (i) => exact.search(rowOf(queries, i), { k: 10 }));
    const [found, ms] = await time(() => exact.searchBatch(queries, { k: 10 }));
    exactBatchMs += ms;
    truth = truth.map((best, qi) => [...best, ...found[qi]!].sort((x, y) => y.score - x.score || x.id - y.id).slice(0, 10));
    log(`1M stream: ${start + rows} rows, add ${Math.round(addMs / 1000)} s, rss ${rssMiB()} MiB`);
  }
  const rssBuilt = rssMiB();
  const [, saveMs] = await time(() => index.save(path));
  return {
    exact: {
      cosine: {
        f32: {
          singleMs: round(exactSingleMs),
          batchMsPerQuery: round(exactBatchMs / queries.rows),
          note: 'float32, scanned as 10 in-memory blocks of 100k (the sum of the block times)',
        },
      },
    },
    hnsw: {
      quantization: 'f16',
      connectivity: index.connectivity,
      expansionAdd: 128,
      buildSeconds: round(addMs / 1000, 1),
      buildRowsPerSecond: Math.round(n / (addMs / 1000)),
      rssGrowthMiB: rssBuilt - rss0,
      estimatedBytesPerVector: Math.round(index.memoryBytes / index.size),
      fileBytesPerVector: Math.round(statSync(path).size / index.size),
      saveSeconds: round(saveMs / 1000, 1),
    },
    truth,
  };
}

interface Previous {
  sizes?: Record<string, unknown>[];
  kernels?: Record<string, unknown>;
}

/** Earlier results, kept for the sizes (and kernels) this run does not measure. */
function previousResults(): Previous {
  const path = join(BENCH_DIR, 'results', 'search.json');
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Previous;
  } catch {
    return {};
  }
}

export async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const started = performance.now();
  const previous = previousResults();
  const sizes = (previous.sizes ?? []).filter((e) => !a.sizes.includes(e.rows as number));
  let kernels = previous.kernels;
  for (const n of a.sizes) {
    const clusters = Math.max(10, Math.round(n / 1000)); // ~1000 rows per cluster at every size
    const queries = await generate(a.queries, clusters, QUERY_START);
    const entry: Record<string, unknown> = { rows: n, dims: DIMS, clusters, queries: a.queries };
    log(`n=${n}: generating`);
    if (n <= BLOCK) {
      const [data, genMs] = await time(() => generate(n, clusters));
      entry.generateSeconds = round(genMs / 1000, 1);
      const { result, truth } = await exactSection(data, queries, a);
      entry.exact = result;
      entry.hnsw = [await hnswSection(data, queries, truth, 'f16', a), await hnswSection(data, queries, truth, 'i8', a)];
      entry.duplicates = await duplicatesSection(data, a);
      if (a.kernels && n === BLOCK) kernels = await kernelSection(data, queries, a);
    } else {
      Object.assign(entry, await streamedSection(n, clusters, queries, a));
    }
    entry.peakRssMiB = peakRssMiB();
    entry.measuredAt = machine();
    sizes.push(entry);
    sizes.sort((x, y) => (x.rows as number) - (y.rows as number));
    // write after every size so that a long run leaves its results behind
    writeResult('search', { machine: machine(), args: a, sizes, kernels, seconds: Math.round((performance.now() - started) / 1000) });
  }
  log(`done in ${Math.round((performance.now() - started) / 1000)} s; peak RSS ${peakRssMiB()} MiB`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
