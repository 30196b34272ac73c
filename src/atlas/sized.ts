/**
 * Sharper thumbnails on demand: an image resized from its original file to a requested level of
 * detail (the web map loads them as the zoom grows past what the atlas tiles show), kept in a
 * memory cache bounded in bytes. Sizes snap to a few levels so the cache is shared between
 * clients and zoom steps; the aspect ratio is kept (the longer side is the level), images are
 * never enlarged, EXIF orientation is applied, and the pixel limit of indexing applies.
 */
import sharp from 'sharp';
import { ConvlensError } from '../core/errors.js';

/** The levels a requested size snaps up to (longer side, px). */
export const THUMBNAIL_LEVELS = [128, 256, 512, 1024] as const;

/** The level serving a requested size: the smallest one at least as large (capped at the largest). */
export function thumbnailLevel(size: number): number {
  for (const level of THUMBNAIL_LEVELS) if (size <= level) return level;
  return THUMBNAIL_LEVELS[THUMBNAIL_LEVELS.length - 1]!;
}

export interface SizedThumbnailOptions {
  /** decompression-bomb limit (pixels), as when indexing */
  maxPixels: number;
  /** WebP quality (default 80) */
  quality?: number;
}

/** An encoded image resized so its longer side is `size` (never enlarged), as WebP with alpha. */
export async function sizedThumbnail(bytes: Buffer, size: number, options: SizedThumbnailOptions): Promise<Buffer> {
  try {
    return await sharp(bytes, { limitInputPixels: options.maxPixels, failOn: 'truncated', pages: 1 })
      .rotate()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: options.quality ?? 80, alphaQuality: 80 })
      .toBuffer();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new ConvlensError(/pixel limit/i.test(msg) ? 'E_TOO_LARGE' : 'E_CORRUPT', `thumbnail: ${msg.split('\n')[0]}`, { cause: e });
  }
}

export interface ThumbnailCacheOptions {
  /** bytes of encoded thumbnails kept at most (default 64 MiB) */
  maxBytes?: number;
  /** thumbnails made at once at most (default 2: decoding large originals is memory-hungry) */
  concurrency?: number;
}

/**
 * Encoded thumbnails by key, least recently used dropped first; a thumbnail asked for while it
 * is being made is made once.
 */
export class ThumbnailCache {
  private readonly entries = new Map<string, Buffer>();
  private readonly pending = new Map<string, Promise<Buffer>>();
  private bytes = 0;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly maxBytes: number;
  private readonly concurrency: number;

  constructor(options: ThumbnailCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? 64 * 2 ** 20;
    this.concurrency = options.concurrency ?? 2;
  }

  /** Bytes held (for tests and the info route). */
  get size(): number {
    return this.bytes;
  }

  /** The cached thumbnail for `key`, or the one `make` makes (cached when it succeeds). */
  async get(key: string, make: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.entries.get(key);
    if (hit) {
      // most recently used: to the end of the map's order
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const inFlight = this.pending.get(key);
    if (inFlight) return inFlight;
    const made = this.limited(make).then((data) => {
      this.put(key, data);
      return data;
    });
    this.pending.set(key, made);
    try {
      return await made;
    } finally {
      this.pending.delete(key);
    }
  }

  private put(key: string, data: Buffer): void {
    if (data.length > this.maxBytes) return;
    this.entries.set(key, data);
    this.bytes += data.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
