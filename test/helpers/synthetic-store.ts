/**
 * Synthetic collections for server tests and benchmarks: rows with ReLU-like clustered random
 * embeddings, random top-5 classes and small flat-colour thumbnails, written through the store
 * (no images, no network). Files need not exist.
 */
import sharp from 'sharp';
import { Random } from '../../src/core/random.js';
import { openStore, type ImageRecord } from '../../src/store/index.js';

/** A WebP thumbnail of one flat colour (distinct per image). */
export function colourThumb(i: number): Promise<Buffer> {
  const c = { r: (i * 53) % 256, g: (i * 97) % 256, b: (i * 191) % 256 };
  return sharp({ create: { width: 48, height: 32, channels: 3, background: c } })
    .webp()
    .toBuffer();
}

/**
 * A collection of `n` synthetic rows under `root` (files need not exist): ReLU-like random 2048-d
 * embeddings in a few clusters, random top-5 classes, small thumbnails.
 */
export async function syntheticStore(
  db: string,
  root: string,
  n: number,
  options: {
    dim?: number;
    seed?: number;
    thumbnails?: boolean;
    clusters?: number;
    noise?: number;
    /** the last `copies` rows are near-identical copies (cosine > 0.99) of the first `copies` */
    copies?: number;
    /** the thumbnails to use (row i gets number i mod their count; default 16 flat colours) */
    thumbnailSet?: Buffer[];
  } = {},
): Promise<void> {
  const dim = options.dim ?? 2048;
  const noise = options.noise ?? 0.8;
  const rng = new Random(options.seed ?? 1);
  const store = await openStore(db, { create: true });
  try {
    await store.lockSettings({ model: 'keras-resnet50-imagenet', layer: 'avg_pool', resize: 'crop', dim });
    const rootId = await store.rootId(root);
    const centres = Array.from({ length: options.clusters ?? 8 }, () =>
      Float32Array.from({ length: dim }, () => Math.max(0, rng.normal())),
    );
    const copies = options.copies ?? 0;
    const originals: Float32Array[] = [];
    const thumbs =
      options.thumbnails === false
        ? []
        : (options.thumbnailSet ?? (await Promise.all(Array.from({ length: 16 }, (_, i) => colourThumb(i)))));
    for (let start = 0; start < n; start += 500) {
      const batch: ImageRecord[] = [];
      for (let i = start; i < Math.min(n, start + 500); i++) {
        const c = centres[i % centres.length]!;
        const e = new Float32Array(dim);
        const copyOf = i >= n - copies ? originals[i - (n - copies)] : undefined;
        if (copyOf) for (let j = 0; j < dim; j++) e[j] = Math.max(0, copyOf[j]! + 0.02 * rng.normal());
        else for (let j = 0; j < dim; j++) e[j] = Math.max(0, c[j]! + noise * rng.normal());
        if (i < copies) originals.push(e);
        const top = rng.int(1000);
        const path = `img/${String(i).padStart(6, '0')}.jpg`;
        batch.push({
          file: `${root}/${path}`,
          rootId,
          path,
          size: 1000 + i,
          mtimeMs: 1_700_000_000_000,
          hash: `h${i}`,
          width: 64,
          height: 48,
          format: 'jpeg',
          top5: [0, 1, 2, 3, 4].map((k) => ({ index: (top + k * 7) % 1000, probability: 0.5 / (k + 1) })),
          embedding: e,
          zeroFraction: 0.1,
          ...(thumbs.length ? { thumbnail: thumbs[i % thumbs.length]! } : {}),
        });
      }
      await store.writeBatch(batch);
    }
  } finally {
    await store.close();
  }
}
