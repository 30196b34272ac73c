import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { matrix, Random } from '../../src/core/index.js';
import {
  categoricalPalette,
  makeThumbnail,
  makeThumbnailRaw,
  thumbnailScatterPng,
  UNLABELLED_COLOR,
  type RawImage,
} from '../../src/plot/index.js';
import { downscale } from '../../src/plot/resample.js';
import { ARTIFACTS, clusters, decodePng, NO_PHOTOS, PHOTOS, pngStats } from './helpers.js';

function solid(w: number, h: number, rgba: [number, number, number, number]): RawImage {
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set(rgba, i * 4);
  return { data, width: w, height: h, channels: 4 };
}

const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
const near = (a: number[], b: number[], tol = 3): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= tol);

// three points: lower-left corner, centre, upper-right corner of the data
const corners = matrix(3, 2, Float32Array.from([0, 0, 0.5, 0.5, 1, 1]));
const RED: [number, number, number, number] = [220, 20, 30, 255];
const GREEN: [number, number, number, number] = [20, 200, 40, 255];
const BLUE: [number, number, number, number] = [30, 40, 220, 255];

describe('thumbnailScatterPng', () => {
  it('places each thumbnail at its point: centre at the canvas centre, y growing upwards', async () => {
    const thumbs = [solid(40, 40, RED), solid(40, 40, GREEN), solid(40, 40, BLUE)];
    const png = await thumbnailScatterPng(corners, (i) => thumbs[i]!, { width: 400, thumbSize: 40, order: 'input' });
    const img = await decodePng(png);
    expect([img.width, img.height]).toEqual([400, 400]);
    expect(img.at(200, 200)).toEqual([20, 200, 40]);
    // the thumbnail spans 40 px around the centre
    expect(img.at(181, 219)).toEqual([20, 200, 40]);
    expect(img.at(178, 200)).toEqual([255, 255, 255]);
    // (0, 0) is bottom-left, (1, 1) top-right
    let red = { x: 0, y: 0, n: 0 };
    let blue = { x: 0, y: 0, n: 0 };
    for (let y = 0; y < 400; y += 2) {
      for (let x = 0; x < 400; x += 2) {
        const p = img.at(x, y);
        if (near(p, RED.slice(0, 3))) red = { x: red.x + x, y: red.y + y, n: red.n + 1 };
        if (near(p, BLUE.slice(0, 3))) blue = { x: blue.x + x, y: blue.y + y, n: blue.n + 1 };
      }
    }
    expect(red.n).toBe(400);
    expect(red.x / red.n).toBeLessThan(60);
    expect(red.y / red.n).toBeGreaterThan(340);
    expect(blue.x / blue.n).toBeGreaterThan(340);
    expect(blue.y / blue.n).toBeLessThan(60);
  });

  it('frames thumbnails in their category colour, draws a dot when there is no image, and adds a legend', async () => {
    const white = solid(40, 40, [255, 255, 255, 255]);
    // cat at the bottom left, dog in the centre, the unlabelled point at the top left (clear of the legend)
    const pts = matrix(3, 2, Float32Array.from([0, 0, 0.5, 0.5, 0, 1]));
    const png = await thumbnailScatterPng(pts, (i) => (i === 1 ? white : null), {
      width: 600,
      thumbSize: 40,
      labels: ['cat', 'dog', null],
      frameWidth: 3,
      title: 'Map <of> "pets" & more',
      order: 'input',
    });
    const img = await decodePng(png);
    const cat = hex(categoricalPalette(2)[0]!);
    const dog = hex(categoricalPalette(2)[1]!);
    const grey = hex(UNLABELLED_COLOR);
    const count = (x0: number, x1: number, y0: number, y1: number, c: number[]): number => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (near(img.at(x, y), c)) n++;
      return n;
    };
    // map on the left, legend at the top right
    expect(count(0, 420, 40, 600, dog)).toBe(40 * 40 - 34 * 34); // the 3 px frame of the white image
    expect(count(0, 420, 40, 600, cat)).toBeGreaterThan(10); // the dot of the image-less cat point
    expect(count(0, 420, 40, 600, grey)).toBeGreaterThan(10); // the unlabelled dot
    for (const c of [cat, dog, grey]) expect(count(460, 600, 0, 300, c)).toBeGreaterThan(20); // legend swatches
    // the title rendered as dark text at the top
    let dark = 0;
    for (let y = 0; y < 40; y++) for (let x = 0; x < 600; x++) if (img.at(x, y)[0] < 100) dark++;
    expect(dark).toBeGreaterThan(200);
  });

  it('is deterministic and blends transparent thumbnails over what is below', async () => {
    const { xy } = clusters(new Random(5), 300, 3, 3);
    const pts = matrix(300, 2, xy);
    const half = solid(24, 24, [0, 0, 0, 128]);
    const a = await thumbnailScatterPng(pts, () => half, { width: 500 });
    const b = await thumbnailScatterPng(pts, () => half, { width: 500 });
    expect(a.equals(b)).toBe(true);
    const one = await decodePng(
      await thumbnailScatterPng(matrix(1, 2, Float32Array.from([0, 0])), () => half, { width: 200, thumbSize: 24 }),
    );
    expect(one.at(100, 100)).toEqual([127, 127, 127]);
  });

  it('shrinks raw thumbnails larger than the drawn size, and rejects malformed ones', async () => {
    const big = solid(128, 96, GREEN);
    const one = matrix(1, 2, Float32Array.from([0, 0]));
    const img = await decodePng(await thumbnailScatterPng(one, () => big, { width: 200, thumbSize: 32 }));
    expect(img.at(100, 100)).toEqual([20, 200, 40]);
    // 32 × 24 after shrinking, centred on (100, 100)
    expect([img.at(100, 88), img.at(100, 111), img.at(84, 100), img.at(115, 100)]).toEqual(Array(4).fill([20, 200, 40]));
    expect([img.at(100, 87), img.at(100, 112), img.at(83, 100), img.at(116, 100)]).toEqual(Array(4).fill([255, 255, 255]));
    const bad = { data: new Uint8Array(10), width: 4, height: 4, channels: 4 as const };
    await expect(thumbnailScatterPng(one, () => bad, { width: 200 })).rejects.toMatchObject({ code: 'E_BAD_PIXELS' });
    await expect(thumbnailScatterPng(one, () => Buffer.from('not an image'), { width: 200 })).rejects.toMatchObject({
      code: 'E_NOT_IMAGE',
    });
    await expect(thumbnailScatterPng(one, () => big, { labels: ['a', 'b'] })).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
  });

  it('passes on an error from the source without leaving rejections unhandled', async () => {
    const { xy } = clusters(new Random(6), 50, 2);
    const err = new Error('thumbnail cache unreadable');
    await expect(
      thumbnailScatterPng(
        matrix(50, 2, xy),
        async (i) => {
          if (i % 7 === 3) throw err;
          return solid(8, 8, RED);
        },
        { width: 300, concurrency: 16 },
      ),
    ).rejects.toBe(err);
  });

  it.skipIf(!PHOTOS)(`draws real photo thumbnails at 3000 px with frames and legend${PHOTOS ? '' : ` (${NO_PHOTOS})`}`, async () => {
    const dirs = [
      'skimage/chelsea.png',
      'skimage/coffee.png',
      'skimage/astronaut.png',
      'opencv/fruits.jpg',
      'skimage/horse.png',
      'skimage/camera.png',
    ];
    const cached = await Promise.all(dirs.map((f) => makeThumbnail(join(PHOTOS!, f), { size: 96 })));
    const { xy, labels } = clusters(new Random(8), 1500, 6, 8);
    let progress = 0;
    const png = await thumbnailScatterPng(matrix(1500, 2, xy), (i) => cached[i % 6]!, {
      width: 3000,
      labels: labels.map((l, i) => (i % 50 === 0 ? null : l.replace('class', 'photo'))),
      title: 't-SNE with thumbnails (seed Figure 4)',
      onProgress: (done) => (progress = done),
    });
    expect(progress).toBe(1500);
    const s = await pngStats(png);
    expect([s.width, s.height]).toEqual([3000, 3000]);
    expect(s.nonWhite).toBeGreaterThan(0.05);
    await writeFile(join(ARTIFACTS, 'thumbnail-scatter-photos.png'), png);
  });
});

describe('makeThumbnail', () => {
  it.skipIf(!PHOTOS)(`makes square cover and contain thumbnails${PHOTOS ? '' : ` (${NO_PHOTOS})`}`, async () => {
    const file = join(PHOTOS!, 'skimage', 'chelsea.png'); // 451 × 300
    const cover = await makeThumbnail(readFileSync(file), { size: 64, format: 'png' });
    const cm = await sharp(cover).metadata();
    expect([cm.width, cm.height, cm.format]).toEqual([64, 64, 'png']);
    const contain = await makeThumbnailRaw(file, { size: 64, fit: 'contain' });
    expect([contain.width, contain.height, contain.channels]).toEqual([64, 64, 4]);
    expect(contain.data[3]).toBe(0); // letterbox is transparent
    expect(contain.data[(32 * 64 + 32) * 4 + 3]).toBe(255);
    const jpeg = await makeThumbnail(file, { size: 50, fit: 'contain', format: 'jpeg' });
    const jm = await sharp(jpeg).metadata();
    expect([jm.format, jm.width, jm.height]).toEqual(['jpeg', 50, 50]);
    const webp = await makeThumbnail(file);
    expect((await sharp(webp).metadata()).format).toBe('webp');
  });

  it('applies EXIF orientation', async () => {
    // 200 × 100: red left half, blue right half; orientation 6 shows it turned 90° clockwise
    const raw = Buffer.alloc(200 * 100 * 3);
    for (let i = 0; i < 200 * 100; i++) raw.set(i % 200 < 100 ? [255, 0, 0] : [0, 0, 255], i * 3);
    const jpeg = await sharp(raw, { raw: { width: 200, height: 100, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const t = await makeThumbnailRaw(jpeg, { size: 64, fit: 'contain' });
    const at = (x: number, y: number): number[] => Array.from(t.data.subarray((y * 64 + x) * 4, (y * 64 + x) * 4 + 4));
    expect(near(at(32, 8), [255, 0, 0, 255], 20)).toBe(true);
    expect(near(at(32, 56), [0, 0, 255, 255], 20)).toBe(true);
    expect(at(2, 32)[3]).toBe(0);
  });

  it('reports unreadable input with codes', async () => {
    await expect(makeThumbnail(Buffer.from('hello'))).rejects.toMatchObject({ code: 'E_NOT_IMAGE' });
    await expect(makeThumbnail(Buffer.alloc(0))).rejects.toMatchObject({ code: 'E_EMPTY' });
    await expect(makeThumbnail('/no/such/file.jpg')).rejects.toMatchObject({ code: 'E_NOT_FOUND', file: '/no/such/file.jpg' });
  });
});

describe('downscale', () => {
  it('averages areas exactly and does not let transparent pixels darken colours', () => {
    // 4 × 2 RGB: left 2×2 black/white checker, right 2×2 solid 100 → 2 × 1
    const img: RawImage = {
      data: Uint8Array.from([0, 0, 0, 255, 255, 255, 100, 100, 100, 100, 100, 100, 255, 255, 255, 0, 0, 0, 100, 100, 100, 100, 100, 100]),
      width: 4,
      height: 2,
      channels: 3,
    };
    const d = downscale(img, 2);
    expect([d.width, d.height]).toEqual([2, 1]);
    expect(Array.from(d.data)).toEqual([128, 128, 128, 100, 100, 100]);
    // RGBA: half transparent black, half opaque red → red at half alpha, not dark red
    const rgba: RawImage = { data: Uint8Array.from([0, 0, 0, 0, 200, 10, 10, 255]), width: 2, height: 1, channels: 4 };
    expect(Array.from(downscale(rgba, 1).data)).toEqual([200, 10, 10, 128]);
    // non-integer ratio keeps a solid colour solid
    const s = downscale(solid(97, 61, [10, 20, 30, 255]), 40);
    expect([s.width, s.height]).toEqual([40, 25]);
    for (let i = 0; i < s.data.length; i += 4) expect(Array.from(s.data.subarray(i, i + 4))).toEqual([10, 20, 30, 255]);
  });
});
