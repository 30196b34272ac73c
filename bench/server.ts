/**
 * Load on the HTTP API: `convlens serve` in its own process over a synthetic collection (10 000
 * images with random 2048-d embeddings by default: no network run needed), and autocannon from
 * this process on loopback hitting /api/similar?id=RANDOM&k=10 with 50 connections. Records
 * latency percentiles, requests/s, errors, and the server's resident memory over the run (flat
 * memory = no leak).
 *
 *   npm run bench -- server [--images 10000] [--duration 60] [--connections 50] [--k 10]
 *                           [--sample-every 5] [--warmup 5] [--db FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/index.js';
import { syntheticStore } from '../test/helpers/synthetic-store.js';
import { Random } from '../src/core/random.js';
import { BENCH_DIR, isMain, machine, processMiB, serverUrl, writeResult } from './common.js';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
interface AutocannonInstance extends Promise<AutocannonResult> {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = (opts: Record<string, unknown>) => AutocannonInstance;

// autocannon ships no types: its programmatic API, as used here
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const REPO = join(BENCH_DIR, '..');

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** `convlens serve` in a child process; resolves with its URL. */
function startServer(db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'src', 'cli', 'main.ts'), 'serve', '--db', db, '--port', '0', '--no-store-uploads'],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return serverUrl(child);
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

export async function run(args: string[] = []): Promise<void> {
  const images = Number(arg(args, '--images', '10000'));
  const duration = Number(arg(args, '--duration', '60'));
  const connections = Number(arg(args, '--connections', '50'));
  const k = Number(arg(args, '--k', '10'));
  const sampleEvery = Number(arg(args, '--sample-every', '5'));
  const warmup = Number(arg(args, '--warmup', '5'));
  const given = args.includes('--db') ? arg(args, '--db', '') : null;

  const dir = given ? null : mkdtempSync(join(tmpdir(), 'convlens-bench-server-'));
  const db = given ?? join(dir!, 'bench.db');
  if (!given || !existsSync(db)) {
    const t0 = performance.now();
    await syntheticStore(db, join(tmpdir(), 'convlens-bench-photos'), images, { clusters: 50, noise: 1, seed: 7, thumbnails: false });
    console.log(`synthetic collection: ${images} images × 2048 in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${db}`);
  }
  const store = SqliteStore.open(db, { readonly: true });
  const { ids } = await store.embeddings();
  await store.close();

  const { child, url } = await startServer(db);
  const pid = child.pid!;
  console.log(`server pid ${pid} at ${url}; ${ids.length} embedded images`);
  const rng = new Random(11);
  const request = (): Record<string, unknown> => ({
    method: 'GET',
    setupRequest: (req: Record<string, unknown>) => ({ ...req, path: `/api/similar?id=${ids[rng.int(ids.length)]}&k=${k}` }),
  });

  try {
    // warm-up: first queries build the index norms and JIT the paths
    if (warmup > 0) await autocannon({ url, connections, duration: warmup, requests: [request()] });

    const samples: { t: number; rssMiB: number | null }[] = [];
    const t0 = Date.now();
    const sample = (): void => {
      samples.push({ t: Math.round((Date.now() - t0) / 1000), rssMiB: processMiB(pid) });
    };
    sample();
    const timer = setInterval(sample, sampleEvery * 1000);
    let latencies = new Float64Array(1 << 16);
    let count = 0;
    const instance = autocannon({ url, connections, duration, requests: [request()] });
    instance.on('response', (_c, _s, _b, ms) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = ms;
    });
    const r = await instance;
    clearInterval(timer);
    sample();

    const sorted = latencies.slice(0, count).sort();
    const rss = samples.map((s) => s.rssMiB).filter((v): v is number => v !== null);
    const third = Math.max(1, Math.floor(rss.length / 3));
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
    const result = {
      machine: machine(),
      config: {
        images: ids.length,
        dim: 2048,
        endpoint: `/api/similar?id=RANDOM&k=${k}`,
        connections,
        durationSeconds: duration,
        warmupSeconds: warmup,
      },
      latencyMs: {
        p50: +quantile(sorted, 0.5).toFixed(2),
        p95: +quantile(sorted, 0.95).toFixed(2),
        p99: +quantile(sorted, 0.99).toFixed(2),
        max: +quantile(sorted, 1).toFixed(2),
        mean: +(sorted.reduce((a, b) => a + b, 0) / Math.max(count, 1)).toFixed(2),
      },
      requestsPerSecond: +(count / r.duration).toFixed(1),
      requests: count,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      rss: {
        samples,
        firstThirdMeanMiB: Math.round(mean(rss.slice(0, third))),
        lastThirdMeanMiB: Math.round(mean(rss.slice(-third))),
        maxMiB: Math.max(...rss),
      },
    };
    console.log(
      `/api/similar k=${k}, ${connections} connections, ${duration} s: ` +
        `p50 ${result.latencyMs.p50} ms, p95 ${result.latencyMs.p95} ms, p99 ${result.latencyMs.p99} ms, ` +
        `${result.requestsPerSecond} req/s, errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}; ` +
        `server RSS ${result.rss.firstThirdMeanMiB} → ${result.rss.lastThirdMeanMiB} MiB (max ${result.rss.maxMiB})`,
    );
    console.log(`written ${writeResult('server', result)}`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
