/**
 * Indexing throughput against the bare network, in one run (so the ratio is fair on a noisy
 * machine): the bare model at the lens' batch size, then `indexFolders` over a folder of real
 * JPEGs (read + hash + decode + resize + infer + thumbnail + SQLite), then the re-run over the
 * unchanged folder.
 *
 *   npm run bench -- index [--folder DIR] [--images N] [--batch 16] [--threads N] [--decode N] [--thumbnail-size 128]
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { indexFolders } from '../src/indexer/index.js';
import { SqliteStore } from '../src/store/index.js';
import { Random } from '../src/core/random.js';
import { hasImageExtension } from '../src/image/files.js';
import { ConvLens } from '../src/pipeline/index.js';
import { BENCH_DIR, isMain, machine, peakRssMiB, writeResult } from './common.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

export async function run(args: string[] = []): Promise<void> {
  const source = resolve(arg(args, '--folder', join(BENCH_DIR, '..', '..', 'shared', 'data', 'flowers')));
  const count = Number(arg(args, '--images', '300'));
  const batch = Number(arg(args, '--batch', '16'));
  const threads = args.includes('--threads') ? Number(arg(args, '--threads', '2')) : undefined;
  const thumbnailSize = Number(arg(args, '--thumbnail-size', '128'));
  const decodeConcurrency = args.includes('--decode') ? Number(arg(args, '--decode', '3')) : undefined;

  // a folder of links to the first N JPEGs under the source (its class subfolders included)
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (files.length >= count) return;
      if (e.isDirectory()) walk(join(d, e.name));
      else if (hasImageExtension(e.name)) files.push(join(d, e.name));
    }
  };
  try {
    walk(source);
  } catch {
    console.log(`index bench: skipped, ${source} is absent (pass --folder DIR of JPEGs)`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'convlens-bench-index-'));
  const folder = join(work, 'photos');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(folder);
  files.forEach((f, i) => symlinkSync(f, join(folder, `${String(i).padStart(5, '0')}.jpg`)));

  const lens = await ConvLens.load({ resize: 'crop', batchSize: batch, threads, decodeConcurrency });
  const rng = new Random(3);
  const input = Float32Array.from({ length: batch * lens.backbone.inputSize }, () => rng.normal() * 50);
  await lens.backbone.infer(input, batch);
  let bareImages = 0;
  const bareCpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < 15_000) {
    await lens.backbone.infer(input, batch);
    bareImages += batch;
  }
  const bare = bareImages / ((performance.now() - t0) / 1000);
  const bareCpu = process.cpuUsage(bareCpu0);
  const bareCpuMsPerImage = (bareCpu.user + bareCpu.system) / 1000 / bareImages;
  console.log(`bare model, batch ${batch}: ${bare.toFixed(1)} images/s; ${bareCpuMsPerImage.toFixed(1)} CPU ms per image`);

  const store = SqliteStore.open(join(work, 'bench.db'), { create: true });
  const cpu0 = process.cpuUsage();
  const first = await indexFolders(store, lens, [folder], { thumbnailSize });
  const cpu = process.cpuUsage(cpu0);
  const indexRate = first.indexed / first.seconds;
  // CPU time per image: with the cores busy, the ratio to the bare model is bounded by
  // bare CPU ms / (bare CPU ms + what reading, decoding, thumbnails and storing cost)
  const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / Math.max(1, first.indexed);
  console.log(
    `index ${first.indexed} JPEGs: ${first.seconds.toFixed(1)} s, ${indexRate.toFixed(1)} images/s = ` +
      `${((indexRate / bare) * 100).toFixed(0)}% of the bare model; ${cpuMsPerImage.toFixed(1)} CPU ms per image ` +
      `(cores busy ${((cpuMsPerImage * indexRate) / 10 / availableParallelism()).toFixed(0)}%)`,
  );
  const again = await indexFolders(store, lens, [folder], { thumbnailSize });
  console.log(
    `re-run over the unchanged folder: ${again.seconds.toFixed(2)} s ` +
      `(${((again.seconds / first.seconds) * 100).toFixed(1)}% of the first run), ${again.indexed} embedded`,
  );
  await store.close();
  await lens.dispose();
  rmSync(work, { recursive: true, force: true });

  const result = {
    machine: machine(),
    source,
    images: first.indexed,
    batch,
    thumbnailSize,
    threads: threads ?? 'all cores',
    bareImagesPerSecond: +bare.toFixed(1),
    bareCpuMsPerImage: +bareCpuMsPerImage.toFixed(1),
    index: {
      seconds: +first.seconds.toFixed(2),
      imagesPerSecond: +indexRate.toFixed(1),
      ratioToBare: +(indexRate / bare).toFixed(3),
      cpuMsPerImage: +cpuMsPerImage.toFixed(1),
    },
    rerun: { seconds: +again.seconds.toFixed(3), embedded: again.indexed, ratioToFirst: +(again.seconds / first.seconds).toFixed(4) },
    peakRssMiB: peakRssMiB(),
  };
  console.log(`peak RSS ${result.peakRssMiB} MiB; recorded in ${writeResult('index', result)}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
