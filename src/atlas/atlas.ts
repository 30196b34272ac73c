/**
 * Sprite atlases of a collection's thumbnails: every image as a small square tile on one or more
 * WebP pages of at most 4096 px a side, so a browser draws tens of thousands of thumbnails from a
 * handful of images (the web map and the standalone HTML map). Tiles come from the thumbnails
 * stored at index time, letterboxed to squares; each tile's mean colour is kept too (the map draws
 * far-away images as dots of that colour).
 */
import sharp from 'sharp';
import { ConvlensError } from '../core/errors.js';
import { makeThumbnailRaw } from '../plot/index.js';

/** Where a thumbnail comes from: the stored one of an image id (null when it has none). */
export type ThumbnailLookup = (id: number) => Promise<Buffer | null>;

export interface AtlasPage {
  width: number;
  height: number;
  /** tiles on this page */
  count: number;
  data: Buffer;
  mime: 'image/webp';
}

export interface Atlas {
  tile: number;
  columns: number;
  /** tiles per full page */
  perPage: number;
  /** image id of each tile, in tile order */
  ids: Int32Array;
  /** mean colour of each tile, 0xRRGGBB (a grey tile where an image has no thumbnail) */
  colors: Uint32Array;
  pages: AtlasPage[];
}

export interface AtlasOptions {
  /** tile side in px (default: 64 up to 4096 images, else 32) */
  tile?: number;
  /** largest page side in px (default 4096) */
  maxSize?: number;
  /** WebP quality (default 80) */
  quality?: number;
  /** thumbnails resized at once (default 8) */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

const NO_THUMB_COLOR = 0x9a9a9a;

/** Tile side for n images: sharper tiles while one 4096 px page holds them all. */
export function autoTileSize(n: number, maxSize = 4096): number {
  return n <= (maxSize / 64) ** 2 ? 64 : 32;
}

/** Build the atlas of the given images, in the given order. */
export async function buildAtlas(ids: ArrayLike<number>, thumbnailOf: ThumbnailLookup, options: AtlasOptions = {}): Promise<Atlas> {
  const list = Int32Array.from(ids);
  const n = list.length;
  const maxSize = options.maxSize ?? 4096;
  const tile = options.tile ?? autoTileSize(n, maxSize);
  if (!Number.isInteger(tile) || tile < 8 || tile > 256 || tile > maxSize)
    throw new ConvlensError('E_USAGE', `atlas tile must be an integer in 8..256 (got ${tile})`);
  const columns = Math.floor(maxSize / tile);
  const perPage = columns * columns;
  const colors = new Uint32Array(n);
  const pages: AtlasPage[] = [];
  const concurrency = options.concurrency ?? 8;
  let done = 0;

  for (let start = 0; start < n; start += perPage) {
    const count = Math.min(perPage, n - start);
    const rows = Math.ceil(count / columns);
    const width = Math.min(count, columns) * tile;
    const height = rows * tile;
    const canvas = Buffer.alloc(width * height * 4);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        if (options.signal?.aborted) throw new DOMException('atlas cancelled', 'AbortError');
        const i = next++;
        const t = start + i;
        const thumb = await thumbnailOf(list[t]!);
        const x0 = (i % columns) * tile;
        const y0 = Math.floor(i / columns) * tile;
        let raw: Uint8Array | null = null;
        if (thumb)
          raw = await makeThumbnailRaw(thumb, { size: tile, fit: 'contain' }).then(
            (r) => r.data,
            () => null,
          );
        // an image without a readable thumbnail still shows, as a grey square
        colors[t] = raw ? blit(raw, tile, canvas, width, x0, y0) : fill(NO_THUMB_COLOR, tile, canvas, width, x0, y0);
        done++;
        if (done % 256 === 0) options.onProgress?.(done, n);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    const data = await sharp(canvas, { raw: { width, height, channels: 4 } })
      .webp({ quality: options.quality ?? 80, alphaQuality: 60 })
      .toBuffer();
    pages.push({ width, height, count, data, mime: 'image/webp' });
  }
  options.onProgress?.(n, n);
  return { tile, columns, perPage, ids: list, colors, pages };
}

function fill(rgb: number, tile: number, page: Buffer, pageWidth: number, x0: number, y0: number): number {
  const px = Buffer.from([(rgb >> 16) & 255, (rgb >> 8) & 255, rgb & 255, 255]);
  for (let y = 0; y < tile; y++) for (let x = 0; x < tile; x++) px.copy(page, ((y0 + y) * pageWidth + x0 + x) * 4);
  return rgb;
}

/** Copy a tile×tile RGBA tile into the page; returns its alpha-weighted mean colour. */
function blit(src: Uint8Array, tile: number, page: Buffer, pageWidth: number, x0: number, y0: number): number {
  let r = 0,
    g = 0,
    b = 0,
    a = 0;
  for (let y = 0; y < tile; y++) {
    const s = y * tile * 4;
    page.set(src.subarray(s, s + tile * 4), ((y0 + y) * pageWidth + x0) * 4);
    for (let x = 0; x < tile; x++) {
      const o = s + x * 4;
      const w = src[o + 3]!;
      r += src[o]! * w;
      g += src[o + 1]! * w;
      b += src[o + 2]! * w;
      a += w;
    }
  }
  if (a === 0) return NO_THUMB_COLOR;
  return (Math.round(r / a) << 16) | (Math.round(g / a) << 8) | Math.round(b / a);
}
