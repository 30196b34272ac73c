import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConvlensError } from '../../src/core/errors.js';
import { caffePreprocess, expandInputs, loadImage } from '../../src/image/index.js';
import { CAT, makeImageFixtures, type Fixtures } from '../helpers/image-fixtures.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeImageFixtures();
});

describe('loadImage', () => {
  it('decodes every supported format and shape to 224×224 RGB', async () => {
    for (const [kind, path] of Object.entries({ ...fx.cats, ...fx.odd })) {
      for (const resize of ['squash', 'crop'] as const) {
        const img = await loadImage(path, { resize });
        expect(img.rgb.length, `${kind} ${resize}`).toBe(224 * 224 * 3);
      }
    }
  });

  it('applies EXIF orientation', async () => {
    const upright = await loadImage(fx.cats.jpeg);
    const rotated = await loadImage(fx.cats.exifRotated);
    expect([rotated.width, rotated.height]).toEqual([upright.width, upright.height]);
    // same picture after orientation: mean absolute difference small (JPEG noise only)
    let diff = 0;
    for (let i = 0; i < upright.rgb.length; i++) diff += Math.abs(upright.rgb[i]! - rotated.rgb[i]!);
    expect(diff / upright.rgb.length).toBeLessThan(6);
  });

  it('takes the first frame of an animated GIF', async () => {
    const meta = await sharp(fx.cats.gifFirstFrame).metadata();
    expect(meta.pages).toBe(2);
    const img = await loadImage(fx.cats.gifFirstFrame);
    expect([img.width, img.height]).toEqual([224, 224]);
  });

  it('converts 16-bit and CMYK to 8-bit sRGB close to the original colours', async () => {
    const ref = await loadImage(fx.cats.jpeg);
    for (const p of [fx.cats.png16, fx.cats.cmyk]) {
      const img = await loadImage(p);
      let diff = 0;
      for (let i = 0; i < ref.rgb.length; i++) diff += Math.abs(ref.rgb[i]! - img.rgb[i]!);
      expect(diff / ref.rgb.length, p).toBeLessThan(12);
    }
  });

  it('does not resample a 224×224 image in squash mode', async () => {
    const raw = await sharp(CAT).resize(224, 224).raw().toBuffer();
    const png = await sharp(raw, { raw: { width: 224, height: 224, channels: 3 } })
      .png()
      .toBuffer();
    const img = await loadImage(png, { resize: 'squash' });
    expect(Buffer.from(img.rgb).equals(raw)).toBe(true);
  });

  it('crop mode takes the centre of the image', async () => {
    // left half red, right half blue, 600×300: the centre crop of the shorter side is half red, half blue
    const w = 600,
      h = 300;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
    const img = await loadImage({ data: raw, width: w, height: h, channels: 3 }, { resize: 'crop' });
    const px = (x: number, y: number) => Array.from(img.rgb.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3));
    expect(px(5, 112)).toEqual([255, 0, 0]);
    expect(px(218, 112)).toEqual([0, 0, 255]);
  });

  it('makes augmentation views: mirrored and corner crops', async () => {
    // 4 quadrants: red top-left, green top-right, blue bottom-left, white bottom-right
    const w = 512,
      h = 512;
    const raw = Buffer.alloc(w * h * 3);
    const colour = (x: number, y: number) =>
      y < h / 2 ? (x < w / 2 ? [255, 0, 0] : [0, 255, 0]) : x < w / 2 ? [0, 0, 255] : [255, 255, 255];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(colour(x, y), (y * w + x) * 3);
    const input = { data: raw, width: w, height: h, channels: 3 as const };
    const px = (img: { rgb: Uint8Array }, x: number, y: number) => Array.from(img.rgb.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3));
    for (const resize of ['squash', 'crop'] as const) {
      const flipped = await loadImage(input, { resize, variant: { flip: true } });
      expect(px(flipped, 2, 2), resize).toEqual([0, 255, 0]);
      const br = await loadImage(input, { resize, variant: { corner: 'br' } });
      // the bottom-right crop of a 256×256 view is mostly the white quadrant
      expect(px(br, 200, 200), resize).toEqual([255, 255, 255]);
      expect(px(br, 2, 2), resize).toEqual([255, 0, 0]);
      const tl = await loadImage(input, { resize, variant: { corner: 'tl', flip: true } });
      expect(px(tl, 200, 2), resize).toEqual([255, 0, 0]);
    }
  });

  it('accepts raw pixels and refuses wrong sizes', async () => {
    const img = await loadImage({ data: new Uint8Array(10 * 10), width: 10, height: 10, channels: 1 });
    expect(img.rgb.length).toBe(224 * 224 * 3);
    await expect(loadImage({ data: new Uint8Array(99), width: 10, height: 10, channels: 1 })).rejects.toMatchObject({
      code: 'E_BAD_PIXELS',
    });
  });

  it('makes a thumbnail of the whole image when asked, without changing the network input', async () => {
    for (const resize of ['squash', 'crop'] as const) {
      for (const variant of [undefined, { flip: true }, { corner: 'tr' as const, flip: true }]) {
        const img = await loadImage(CAT, { resize, thumbnail: 64, ...(variant ? { variant } : {}) });
        const meta = await sharp(img.thumbnail!).metadata();
        expect(meta.format).toBe('jpeg');
        expect(Math.max(meta.width!, meta.height!)).toBe(64);
        expect(meta.width! / meta.height!).toBeCloseTo(451 / 300, 1); // chelsea.png is 451×300: the whole image
        const plain = await loadImage(CAT, { resize, ...(variant ? { variant } : {}) });
        expect(Buffer.from(img.rgb).equals(Buffer.from(plain.rgb)), `${resize} ${JSON.stringify(variant)}`).toBe(true);
      }
    }
  });

  it('gives each kind of bad input its code and names the file', async () => {
    for (const [kind, { path, code }] of Object.entries(fx.bad)) {
      const err = await loadImage(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, kind).toBeInstanceOf(ConvlensError);
      expect((err as ConvlensError).code, kind).toBe(code);
      expect((err as ConvlensError).file, kind).toBe(path);
      expect((err as ConvlensError).message).not.toMatch(/\n/);
    }
  });

  it('refuses images over a custom pixel limit', async () => {
    await expect(loadImage(CAT, { maxPixels: 1000 })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
  });
});

describe('caffePreprocess', () => {
  it('flips RGB to BGR planes and subtracts the ImageNet means', () => {
    const rgb = Uint8Array.from([10, 20, 30, 200, 100, 0]);
    const out = new Float32Array(6);
    caffePreprocess(rgb, out);
    expect(Array.from(out)).toEqual([30 - 103.939, 0 - 103.939, 20 - 116.779, 100 - 116.779, 10 - 123.68, 200 - 123.68].map(Math.fround));
  });
});

describe('expandInputs', () => {
  it('expands folders to their images, sorted, and keeps other arguments', async () => {
    const files = await expandInputs([fx.dir, '/no/such/file.jpg']);
    const inDir = files.filter((f) => f.startsWith(fx.dir));
    expect(inDir).toEqual([...inDir].sort());
    expect(inDir.some((f) => f.endsWith('chat tigré à Zürich.jpg'))).toBe(true);
    expect(files.at(-1)).toBe('/no/such/file.jpg');
  });
});
