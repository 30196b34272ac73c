/**
 * A million images on one machine: each question a large collection gets, timed in its own
 * process so its peak RSS is its own, against a synthetic 2048-d collection (clustered ReLU-like
 * vectors; the last 0.1% near-identical copies of the first; no thumbnails, so duplicates use the
 * embedding rule).
 *
 * Steps: build the HNSW index from blocks; thresholds by HNSW (ms/query, recall against the block
 * scan) and by the scan; a histogram from a 100k sample (its error against the exact histogram);
 * duplicate groups from HNSW candidates (recall of the planted copies); a t-SNE map of a sample
 * with every other image placed.
 *
 *   npm run bench -- large [--rows 1000000] [--db FILE] [--sample 50000] [--memory-rows 0] [--steps a,b]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Collection } from '../src/collection/index.js';
import { syntheticStore } from '../test/helpers/synthetic-store.js';
import { isMain, machine, peakRssMiB, writeResult } from './common.js';

const STEPS = ['hnsw', 'threshold', 'histogram', 'duplicates', 'map'] as const;
type Step = (typeof STEPS)[number];

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

const seconds = (t0: number): number => +((performance.now() - t0) / 1000).toFixed(2);

/** One step, in this process; returns what it measured. */
async function step(name: Step, db: string, rows: number, sample: number, memoryRows: number): Promise<Record<string, unknown>> {
  const c = await Collection.open(db, { memoryRows });
  c.store.embeddings = () => {
    throw new Error('read every embedding at once'); // the point of the exercise
  };
  const copies = Math.round(rows / 1000);
  try {
    const t0 = performance.now();
    if (name === 'hnsw') {
      await (await c.search()).buildHnsw('cosine');
      return { seconds: seconds(t0) };
    }
    const queries = [3, 1_001, 20_002, 300_003, 777_007].filter((id) => id <= rows - copies);
    if (name === 'threshold') {
      const out: Record<string, unknown>[] = [];
      for (const id of queries) {
        const q = (await c.store.embedding(id))!;
        // a threshold that about 200 images pass
        const t = +(await c.similar({ vector: q }, { k: 200, exclude: [id] })).results.at(-1)!.score.toFixed(4);
        const a = performance.now();
        const viaHnsw = (await c.similar({ vector: q }, { minSimilarity: t, exclude: [id] })).results;
        const hnswMs = performance.now() - a;
        const b = performance.now();
        const scan = (await c.similar({ vector: q }, { minSimilarity: t, exclude: [id], approximate: false })).results;
        const scanMs = performance.now() - b;
        const got = new Set(viaHnsw.map((n) => n.id));
        const recall = scan.length ? scan.filter((n) => got.has(n.id)).length / scan.length : 1;
        out.push({ id, threshold: t, matches: scan.length, hnswMs: Math.round(hnswMs), scanMs: Math.round(scanMs), recall });
      }
      return { seconds: seconds(t0), queries: out };
    }
    if (name === 'histogram') {
      // the default (the search's kept 10k sample, read by the first call), a second query on the
      // same search (warm, as a server answers), and a 100k sample read for the call
      const q = (await c.store.embedding(queries[1]!))!;
      const first = performance.now();
      const { histogram: h } = await c.histogram({ vector: q }, { bins: 50 });
      const firstSeconds = seconds(first);
      const again = performance.now();
      await c.histogram({ id: queries[2]! }, { bins: 50 });
      const warmSeconds = seconds(again);
      const big = performance.now();
      const { histogram: h100k } = await c.histogram({ vector: q }, { bins: 50, sampleSize: 100_000 });
      const bigSeconds = seconds(big);
      // the exact histogram over the same edges, by the block scan
      const worstError = async (hist: typeof h): Promise<number> => {
        const exact = new Array<number>(hist.counts.length).fill(0);
        const lo = hist.edges[0]!;
        const width = (hist.edges.at(-1)! - lo) / hist.counts.length;
        for (const n of all) exact[Math.min(hist.counts.length - 1, Math.max(0, Math.floor((n.score - lo) / width)))]!++;
        return Math.max(...hist.counts.map((v, i) => Math.abs(v - exact[i]!)));
      };
      const scan = performance.now();
      const all = (await c.similar({ vector: q }, { minSimilarity: -1, approximate: false })).results;
      const exactSeconds = seconds(scan);
      return {
        seconds: firstSeconds,
        warmSeconds,
        sample: h.sample,
        worstBinError: await worstError(h),
        sample100k: { seconds: bigSeconds, sample: h100k.sample, worstBinError: await worstError(h100k) },
        exactSeconds,
      };
    }
    if (name === 'duplicates') {
      const groups = await c.duplicates();
      const planted = groups.filter((g) => g.duplicates.length === 1 && Math.abs(g.keep - g.duplicates[0]!) === rows - copies).length;
      return { seconds: seconds(t0), groups: groups.length, plantedFound: planted, planted: copies };
    }
    const m = await c.map({ method: 'tsne' }, { sample, recompute: true });
    return { seconds: seconds(t0), images: m.ids.length, sample: m.params['sample'], kl: m.kl };
  } finally {
    await c.close();
  }
}

export async function run(args: string[]): Promise<void> {
  const rows = Number(arg(args, '--rows', '1000000'));
  const sample = Number(arg(args, '--sample', '50000'));
  const memoryRows = Number(arg(args, '--memory-rows', '0'));
  const db = arg(args, '--db', join(tmpdir(), `convlens-large-${rows}.db`));
  const only = arg(args, '--step', '');
  if (only) {
    // peak RSS counts the pages of a memory-mapped HNSW file the step touched (file-backed, given
    // back under pressure): the largest anonymous part (the process's own memory) is sampled too
    let anon = 0;
    const sampleAnon = (): void => {
      const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) anon = Math.max(anon, Number(m[1]));
    };
    const timer = existsSync('/proc/self/status') ? setInterval(sampleAnon, 500) : null;
    const r = await step(only as Step, db, rows, sample, memoryRows);
    if (timer) {
      clearInterval(timer);
      sampleAnon();
    }
    console.log(JSON.stringify({ ...r, peakRssMiB: peakRssMiB(), ...(timer ? { peakAnonMiB: Math.round(anon / 1024) } : {}) }));
    return;
  }
  const steps = arg(args, '--steps', STEPS.join(',')).split(',') as Step[];
  const result: Record<string, unknown> = { machine: machine(), rows, dim: 2048, sample, memoryRows, steps: {} };
  if (!existsSync(db)) {
    mkdirSync(join(tmpdir(), 'convlens-large'), { recursive: true });
    const t0 = performance.now();
    await syntheticStore(db, '/synthetic', rows, {
      dim: 2048,
      thumbnails: false,
      clusters: 64,
      noise: 1.5,
      copies: Math.round(rows / 1000),
    });
    result['createSeconds'] = seconds(t0);
    console.log(`created ${rows} rows in ${String(result['createSeconds'])} s`);
  }
  for (const s of steps) {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--step',
        s,
        '--rows',
        String(rows),
        '--db',
        db,
        '--sample',
        String(sample),
        '--memory-rows',
        String(memoryRows),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    (result['steps'] as Record<string, unknown>)[s] = r;
    console.log(`${s}: ${JSON.stringify(r)}`);
  }
  console.log(`written ${writeResult(`large-${rows}`, result)}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
