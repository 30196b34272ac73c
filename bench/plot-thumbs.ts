/**
 * Thumbnail scatter: blitting raw thumbnails into one canvas and encoding once (what
 * thumbnailScatterPng does) versus sharp's composite() with one overlay per thumbnail.
 *
 *   npx tsx bench/plot-thumbs.ts [N ...] [--size 4000] [--no-composite]
 *
 * Sources: raw thumbnails at the drawn size, raw 128 px thumbnails (shrunk in JS), and encoded
 * 128 px WebP thumbnails (one sharp decode + resize each).
 *
 * Writes bench/results/plot-thumbs.json. Times are wall-clock ms on a shared machine: rough.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { matrix, Random } from '../src/core/index.js';
import {
  autoThumbSize,
  drawingOrder,
  fitPoints,
  makeThumbnail,
  makeThumbnailRaw,
  thumbnailScatterPng,
  type RawImage,
} from '../src/plot/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const photos = join(here, '..', '..', 'shared', 'data', 'photos');

function mb(bytes: number): number {
  return Math.round(bytes / 1e6);
}

function maxRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function time<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: Math.round(performance.now() - t), value };
}

/** Source images: the shared photos when present, otherwise coloured gradients. */
async function sourceImages(): Promise<Buffer[]> {
  if (existsSync(photos)) {
    const files = ['skimage', 'opencv'].flatMap((d) =>
      readdirSync(join(photos, d))
        .filter((f) => /\.(png|jpe?g)$/i.test(f))
        .map((f) => join(photos, d, f)),
    );
    return Promise.all(files.map((f) => makeThumbnail(f, { size: 128 })));
  }
  const out: Buffer[] = [];
  for (let k = 0; k < 16; k++) {
    const raw = Buffer.alloc(128 * 128 * 3);
    for (let i = 0; i < 128 * 128; i++) raw.set([(k * 16) & 255, i & 255, (i >> 7) * 2], i * 3);
    out.push(
      await sharp(raw, { raw: { width: 128, height: 128, channels: 3 } })
        .webp({ quality: 80 })
        .toBuffer(),
    );
  }
  return out;
}

export async function run(args: string[]): Promise<void> {
  const sizeAt = args.indexOf('--size');
  const W = sizeAt >= 0 ? Number(args[sizeAt + 1]) : 4000;
  const withComposite = !args.includes('--no-composite');
  const ns = args.filter((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--size').map(Number);
  const counts = ns.length > 0 ? ns : [2000, 20000];
  sharp.concurrency(1); // one libvips thread per image: single-threaded in intent
  const encoded = await sourceImages();
  const results: Record<string, unknown>[] = [];

  for (const n of counts) {
    const rng = new Random(n);
    const pts = matrix(n, 2);
    for (let i = 0; i < pts.data.length; i++) pts.data[i] = rng.normal();
    // the same thumb size the library picks for this canvas (plot area ≈ canvas minus margins)
    const ts = autoThumbSize(n, W * 0.97, W * 0.97);
    const raws: RawImage[] = await Promise.all(encoded.map((b) => makeThumbnailRaw(b, { size: ts })));
    const row: Record<string, unknown> = { n, canvas: W, thumbSize: ts };

    const a = await time(() => thumbnailScatterPng(pts, (i) => raws[i % raws.length]!, { width: W, thumbSize: ts }));
    row.blitRawMs = a.ms;
    row.blitRawPngMB = mb(a.value.length);
    row.maxRssAfterBlitRawMB = maxRssMb();

    // raw thumbnails larger than the drawn size (e.g. tiles of a decoded atlas): shrunk in JS
    const raws128 = await Promise.all(encoded.map((e) => makeThumbnailRaw(e, { size: 128 })));
    const r128 = await time(() => thumbnailScatterPng(pts, (i) => raws128[i % raws128.length]!, { width: W, thumbSize: ts }));
    row.blitRaw128Ms = r128.ms;

    const b = await time(() => thumbnailScatterPng(pts, (i) => encoded[i % encoded.length]!, { width: W, thumbSize: ts }));
    row.blitEncodedMs = b.ms;
    row.blitEncodedPerThumbMs = +(b.ms / n).toFixed(3);
    row.maxRssAfterBlitEncodedMB = maxRssMb();

    if (withComposite) {
      const xy = fitPoints(pts, { x: ts / 2, y: ts / 2, width: W - ts, height: W - ts });
      const order = drawingOrder(n);
      const c = await time(() =>
        sharp({ create: { width: W, height: W, channels: 3, background: '#ffffff' } })
          .composite(
            Array.from(order, (i) => {
              const r = raws[i % raws.length]!;
              return {
                input: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength),
                raw: { width: r.width, height: r.height, channels: r.channels },
                left: Math.round(xy[2 * i]! - r.width / 2),
                top: Math.round(xy[2 * i + 1]! - r.height / 2),
              };
            }),
          )
          .png()
          .toBuffer(),
      );
      row.compositeMs = c.ms;
      row.maxRssAfterCompositeMB = maxRssMb();
      row.compositeOverBlit = +(c.ms / Math.max(1, a.ms)).toFixed(1);
    }
    console.log(JSON.stringify(row));
    results.push(row);
  }

  const out = join(here, 'results', 'plot-thumbs.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { bench: 'plot-thumbs', date: new Date().toISOString(), node: process.version, sharp: sharp.versions.sharp, results },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await run(process.argv.slice(2));
}
