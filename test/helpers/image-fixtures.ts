/**
 * Odd and broken image files made at test time from a committed CC0 photo (chelsea.png, a tabby
 * cat): every format and shape the decoder must take, and every kind of bad input it must refuse.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { EXAMPLES } from './paths.js';

export const CAT = join(EXAMPLES, 'skimage', 'chelsea.png');

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid-looking PNG whose header claims width×height (a decompression bomb's header). */
export function pngHeaderClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Fixtures {
  dir: string;
  /** decodable files whose content is the cat photo (top-1 must be a cat class) */
  cats: Record<string, string>;
  /** decodable files of odd shapes (must be classified, content arbitrary) */
  odd: Record<string, string>;
  /** broken files, each with the error code it must get */
  bad: Record<string, { path: string; code: string }>;
}

export async function makeImageFixtures(): Promise<Fixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'convlens-fixtures-'));
  const src = sharp(CAT);
  const write = (name: string, data: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, data);
    return p;
  };
  const jpeg = await src.clone().jpeg({ quality: 90 }).toBuffer();
  const png = await src.clone().png().toBuffer();
  const small = await src.clone().resize(96, 64).png().toBuffer();
  const other = await sharp(join(EXAMPLES, 'skimage', 'coffee.png'))
    .resize(96, 64)
    .png()
    .toBuffer();
  // stored rotated by 90° clockwise... then tagged so that viewers rotate it back upright
  const rotatedPixels = await src.clone().rotate(-90).jpeg({ quality: 90 }).toBuffer();

  const cats = {
    jpeg: write('cat.jpg', jpeg),
    progressive: write('cat progressive.jpg', await src.clone().jpeg({ progressive: true }).toBuffer()),
    cmyk: write('cat-cmyk.jpg', await src.clone().toColourspace('cmyk').jpeg().toBuffer()),
    png16: write('cat-16bit.png', await src.clone().toColourspace('rgb16').png().toBuffer()),
    grey: write('cat-grey.png', await src.clone().greyscale().png().toBuffer()),
    palette: write('cat-palette.png', await src.clone().png({ palette: true, colours: 256 }).toBuffer()),
    alpha: write('cat-alpha.png', await src.clone().ensureAlpha(0.6).png().toBuffer()),
    webp: write('cat.webp', await src.clone().webp().toBuffer()),
    tiff: write('cat.tiff', await src.clone().tiff().toBuffer()),
    exifRotated: write('cat-exif-rotated.jpg', await sharp(rotatedPixels).withMetadata({ orientation: 6 }).jpeg().toBuffer()),
    accents: write('chat tigré à Zürich.jpg', jpeg),
    gifFirstFrame: write(
      'cat-animated.gif',
      await sharp(
        [
          await src.clone().resize(224, 224).png().toBuffer(),
          await sharp(join(EXAMPLES, 'skimage', 'coffee.png'))
            .resize(224, 224)
            .png()
            .toBuffer(),
        ],
        { join: { animated: true } },
      )
        .gif()
        .toBuffer(),
    ),
  };
  const odd = {
    onePixel: write(
      'one-pixel.png',
      await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 200, g: 30, b: 30 } } })
        .png()
        .toBuffer(),
    ),
    wide: write('wide-4000x8.png', await sharp(small).resize(4000, 8, { fit: 'fill' }).png().toBuffer()),
    tall: write('tall-8x4000.jpg', await sharp(other).resize(8, 4000, { fit: 'fill' }).jpeg().toBuffer()),
  };
  const bad = {
    empty: { path: write('empty.jpg', Buffer.alloc(0)), code: 'E_EMPTY' },
    truncatedJpeg: { path: write('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2))), code: 'E_TRUNCATED' },
    truncatedPng: { path: write('truncated.png', png.subarray(0, Math.floor(png.length / 2))), code: 'E_TRUNCATED' },
    text: { path: write('notes.png', Buffer.from('This is a text file, not a PNG.\n'.repeat(20))), code: 'E_NOT_IMAGE' },
    random: {
      path: write('random.jpg', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24))),
      code: 'E_NOT_IMAGE',
    },
    bomb: { path: write('bomb-50000x50000.png', pngHeaderClaiming(50_000, 50_000)), code: 'E_TOO_LARGE' },
    missing: { path: join(dir, 'does-not-exist.jpg'), code: 'E_NOT_FOUND' },
  };
  return { dir, cats, odd, bad };
}
