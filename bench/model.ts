/**
 * Backbone throughput: the bare network at batch 1/8/32 with 1 and 2 threads, and end to end
 * (read + decode + resize + infer) over a folder of real JPEGs, with peak memory.
 *
 *   npm run bench -- model [--folder DIR] [--images N] [--seconds S]
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Random } from '../src/core/random.js';
import { hasImageExtension } from '../src/image/files.js';
import { Backbone } from '../src/model/index.js';
import { ConvLens } from '../src/pipeline/index.js';
import { BENCH_DIR, isMain, machine, peakRssMiB, writeResult } from './common.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

export async function run(args: string[] = []): Promise<void> {
  const seconds = Number(arg(args, '--seconds', '6'));
  const folder = resolve(arg(args, '--folder', join(BENCH_DIR, '..', '..', 'shared', 'data', 'flowers', 'daisy')));
  const maxImages = Number(arg(args, '--images', '150'));
  const rng = new Random(1);
  const bare: { threads: number; batch: number; imagesPerSecond: number; msPerImage: number }[] = [];

  for (const threads of [1, 2]) {
    const bb = await Backbone.load({ threads });
    for (const batch of [1, 8, 32]) {
      const input = Float32Array.from({ length: batch * bb.inputSize }, () => rng.normal() * 50);
      await bb.infer(input, batch); // warm-up
      let images = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) {
        await bb.infer(input, batch);
        images += batch;
      }
      const s = (performance.now() - t0) / 1000;
      const row = { threads, batch, imagesPerSecond: +(images / s).toFixed(1), msPerImage: +((s * 1000) / images).toFixed(1) };
      bare.push(row);
      console.log(
        `bare model  threads=${threads} batch=${String(batch).padStart(2)}  ` +
          `${row.imagesPerSecond.toFixed(1).padStart(6)} images/s  ${row.msPerImage.toFixed(1)} ms/image`,
      );
    }
    await bb.dispose();
  }

  let endToEnd: Record<string, unknown> | null = null;
  let files: string[] = [];
  try {
    files = readdirSync(folder)
      .filter(hasImageExtension)
      .sort()
      .slice(0, maxImages)
      .map((f) => join(folder, f));
  } catch {
    console.log(`end to end: skipped, ${folder} is absent (pass --folder DIR of JPEGs)`);
  }
  if (files.length > 0) {
    const lens = await ConvLens.load({ resize: 'squash', batchSize: 16 });
    for await (const _ of lens.process(files.slice(0, 16))); // warm-up
    const t0 = performance.now();
    let ok = 0;
    for await (const { outcome } of lens.process(files)) if (outcome.ok) ok++;
    const s = (performance.now() - t0) / 1000;
    await lens.dispose();
    endToEnd = {
      folder,
      images: files.length,
      ok,
      seconds: +s.toFixed(2),
      imagesPerSecond: +(files.length / s).toFixed(1),
      msPerImage: +((s * 1000) / files.length).toFixed(1),
    };
    console.log(
      `end to end  ${files.length} JPEGs from ${folder}: ${(files.length / s).toFixed(1)} images/s ` +
        `(${((s * 1000) / files.length).toFixed(1)} ms/image)`,
    );
  }
  const peak = peakRssMiB();
  console.log(`peak RSS ${peak} MiB`);
  const path = writeResult('model', { machine: machine(), seconds, bare, endToEnd, peakRssMiB: peak });
  console.log(`recorded in ${path}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
