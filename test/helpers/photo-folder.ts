/**
 * A folder of distinct real photos for indexing tests, made from the committed CC0 examples:
 * each photo plus mirrored and cropped variants (distinct bytes, so no two share a hash).
 */
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { EXAMPLES } from './paths.js';

export function examplePhotos(): string[] {
  return ['skimage', 'opencv'].flatMap((d) =>
    readdirSync(join(EXAMPLES, d))
      .filter((f) => /\.(png|jpg)$/i.test(f))
      .sort()
      .map((f) => join(EXAMPLES, d, f)),
  );
}

/** `count` JPEGs (≤ 3 per example photo) in nested subfolders of a new temp folder. */
export async function makePhotoFolder(count: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'convlens-photos-'));
  const photos = examplePhotos();
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const src = photos[i % photos.length]!;
    const variant = Math.floor(i / photos.length);
    const sub = join(dir, `set-${i % 3}`);
    mkdirSync(sub, { recursive: true });
    let img = sharp(src).resize({ width: 400, height: 300, fit: 'inside' });
    if (variant === 1) img = img.flop();
    if (variant >= 2) img = sharp(src).resize({ width: 320, height: 320, fit: 'cover' });
    jobs.push(img.jpeg({ quality: 88 }).toFile(join(sub, `photo ${String(i).padStart(3, '0')}.jpg`)));
  }
  await Promise.all(jobs);
  return dir;
}
