/**
 * The one place that knows pixels: bytes -> oriented 8-bit sRGB RGB at the network's input size.
 *
 * Decoding goes through sharp (libvips): JPEG (incl. progressive and CMYK), PNG (8/16-bit, grey,
 * palette, alpha), WebP, GIF and TIFF (first frame/page), AVIF/HEIF and more. EXIF orientation is
 * applied; colour is converted to sRGB; alpha is dropped like Keras' `load_img` (PIL
 * `convert('RGB')`); images over `maxPixels` are refused before decoding (decompression bombs).
 */
import sharp, { type Sharp } from 'sharp';
import { ConvlensError } from '../core/errors.js';
import { readImageFile } from './files.js';

export { DEFAULT_RESIZE, RESIZE_MODES, type ResizeMode } from './resize.js';
import { DEFAULT_RESIZE, type ResizeMode } from './resize.js';

/** Default decompression-bomb limit: 100 megapixels. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/** Raw interleaved 8-bit pixels given by the caller (1 = grey, 3 = RGB, 4 = RGBA). */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
}

/** A file path, encoded image bytes, or raw pixels. */
export type ImageInput = string | Buffer | Uint8Array | RawImage;

export interface LoadOptions {
  resize?: ResizeMode;
  /** output side in pixels (default 224) */
  size?: number;
  maxPixels?: number;
  /** also make a JPEG thumbnail of the whole image whose longer side is this many pixels */
  thumbnail?: number;
  /** a transformed view of the image, for training-time augmentation */
  variant?: ImageVariant;
}

/**
 * Augmentation views: `flip` mirrors left-right; `corner` takes a size×size corner (top-left,
 * top-right, bottom-left, bottom-right) of the image resized to size·256/224 (shorter side for
 * crop mode, both sides for squash) instead of its centre or whole.
 */
export interface ImageVariant {
  flip?: boolean;
  corner?: 'tl' | 'tr' | 'bl' | 'br';
}

export interface LoadedImage {
  /** size×size×3 RGB, row-major, interleaved */
  rgb: Uint8Array;
  /** dimensions of the oriented source image */
  width: number;
  height: number;
  /** decoder's format name (jpeg, png, webp, gif, tiff, raw, ...) */
  format: string;
  thumbnail?: Buffer;
}

export function isRawImage(x: unknown): x is RawImage {
  return (
    typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && 'data' in x && 'width' in x && 'height' in x && 'channels' in x
  );
}

/** A short name for an input in messages: the path, or a description of the bytes. */
export function describeInput(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (isRawImage(input)) return `<raw ${input.width}×${input.height}×${input.channels}>`;
  return `<buffer ${input.length} bytes>`;
}

/**
 * Whether encoded bytes of a known format stop before the format's end marker. libvips' error
 * text is not reliable when several images decode at once (it can arrive as "Unknown error"),
 * so truncation is recognised from the bytes themselves.
 */
export function looksTruncated(bytes: Buffer, format: string | undefined): boolean {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x00 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d || bytes[end - 1] === 0x20)) end--;
  switch (format) {
    case 'jpeg':
      return !(bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9);
    case 'png':
      return bytes.lastIndexOf('IEND', undefined, 'latin1') < 0;
    case 'gif':
      return bytes[end - 1] !== 0x3b;
    case 'webp':
      return bytes.length >= 12 && bytes.readUInt32LE(4) + 8 > bytes.length;
    default:
      return false;
  }
}

/** Map libvips/sharp failures to our codes. */
function decodeError(e: unknown, file: string, bytes?: Buffer, format?: string): ConvlensError {
  const msg = e instanceof Error ? e.message : String(e);
  const m = msg.toLowerCase();
  if (bytes && looksTruncated(bytes, format))
    return new ConvlensError('E_TRUNCATED', `${format} data ends early (file cut off)`, { file, cause: e });
  if (m.includes('unsupported image format'))
    return new ConvlensError('E_NOT_IMAGE', 'not an image (unrecognised format)', { file, cause: e });
  if (m.includes('pixel limit')) return new ConvlensError('E_TOO_LARGE', 'image has more pixels than the limit', { file, cause: e });
  if (
    m.includes('premature end') ||
    m.includes('truncated') ||
    m.includes('unexpected end') ||
    m.includes('read error') ||
    m.includes('out of data')
  ) {
    return new ConvlensError('E_TRUNCATED', `image data ends early (${firstLine(msg)})`, { file, cause: e });
  }
  return new ConvlensError('E_CORRUPT', `cannot decode image (${firstLine(msg)})`, { file, cause: e });
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim().slice(0, 200);
}

function sharpFor(input: Buffer | RawImage, maxPixels: number): Sharp {
  if (isRawImage(input)) {
    const { width, height, channels, data } = input;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || data.length !== width * height * channels) {
      throw new ConvlensError('E_BAD_PIXELS', `raw pixels: ${data.length} bytes do not match ${width}×${height}×${channels}`);
    }
    if (width * height > maxPixels)
      throw new ConvlensError('E_TOO_LARGE', `raw image ${width}×${height} exceeds the ${maxPixels}-pixel limit`);
    return sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } });
  }
  // failOn 'truncated': refuse cut-off files but accept the minor warnings common in real JPEGs
  return sharp(input, { limitInputPixels: maxPixels, failOn: 'truncated', pages: 1 });
}

/** A pipeline's output as 8-bit sRGB RGB of the expected size. */
async function rawRgb(pipeline: Sharp, width: number, height: number, name: string): Promise<Uint8Array> {
  const { data, info } = await pipeline.toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== width || info.height !== height) {
    throw new ConvlensError('E_CORRUPT', `decoder returned ${info.width}×${info.height}×${info.channels} (expected ${width}×${height}×3)`, {
      file: name,
    });
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The size×size square at (left, top) of an RGB image `width` wide. */
function cropRgb(src: Uint8Array, width: number, left: number, top: number, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    const row = ((top + y) * width + left) * 3;
    out.set(src.subarray(row, row + size * 3), y * size * 3);
  }
  return out;
}

/**
 * Mirror a square RGB image left-right, in place. Done here rather than with sharp's flop(),
 * which libvips applies before an extract whatever the call order.
 */
function mirrorRgb(rgb: Uint8Array, size: number): Uint8Array {
  for (let y = 0; y < size; y++) {
    for (let a = y * size * 3, b = a + (size - 1) * 3; a < b; a += 3, b -= 3) {
      for (let c = 0; c < 3; c++) {
        const t = rgb[a + c]!;
        rgb[a + c] = rgb[b + c]!;
        rgb[b + c] = t;
      }
    }
  }
  return rgb;
}

/** Decode and resize one image to the network's input (RGB uint8, size×size). */
export async function loadImage(input: ImageInput, options: LoadOptions = {}): Promise<LoadedImage> {
  const resize = options.resize ?? DEFAULT_RESIZE;
  const size = options.size ?? 224;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const name = describeInput(input);

  let source: Buffer | RawImage;
  if (typeof input === 'string') source = await readImageFile(input);
  else if (isRawImage(input)) source = input;
  else source = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (Buffer.isBuffer(source) && source.length === 0) throw new ConvlensError('E_EMPTY', 'empty file (0 bytes)', { file: name });

  let format: string | undefined;
  try {
    const base = sharpFor(source, maxPixels);
    const meta = await base.metadata();
    format = meta.format;
    let width = meta.width ?? 0;
    let height = meta.height ?? 0;
    if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
    if (width < 1 || height < 1) throw new ConvlensError('E_CORRUPT', 'image has no pixels', { file: name });
    if (width * height > maxPixels) {
      throw new ConvlensError(
        'E_TOO_LARGE',
        `${width}×${height} exceeds the ${maxPixels}-pixel limit (set maxPixels / --max-pixels to allow it)`,
        { file: name },
      );
    }

    const oriented = base.clone().autoOrient();
    const corner = options.variant?.corner;
    const flip = options.variant?.flip ?? false;
    const thumbnailOf = (img: Sharp): Promise<Buffer> =>
      img
        .resize(options.thumbnail!, options.thumbnail!, { fit: 'inside', withoutEnlargement: true })
        .toColourspace('srgb')
        .removeAlpha()
        .jpeg({ quality: 80 })
        .toBuffer();
    let rgb: Uint8Array;
    let thumbnail: Buffer | undefined;
    if (resize === 'squash' && !corner) {
      let pipeline = oriented.clone();
      if (width !== size || height !== size) pipeline = pipeline.resize(size, size, { fit: 'fill' });
      [rgb, thumbnail] = await Promise.all([
        rawRgb(pipeline, size, size, name),
        options.thumbnail ? thumbnailOf(oriented.clone()) : undefined,
      ]);
    } else {
      // resize to size·256/224 (shorter side for crop, both sides for squash), then take the
      // centre or a corner size×size; resize before extract (a second resize() would replace the first)
      const big = Math.round((size * 256) / 224);
      const scale = big / Math.min(width, height);
      const w = resize === 'squash' ? big : Math.max(size, Math.round(width * scale));
      const h = resize === 'squash' ? big : Math.max(size, Math.round(height * scale));
      const left = corner === 'tl' || corner === 'bl' ? 0 : corner ? w - size : Math.floor((w - size) / 2);
      const top = corner === 'tl' || corner === 'tr' ? 0 : corner ? h - size : Math.floor((h - size) / 2);
      if (options.thumbnail && resize === 'crop' && w * h <= 4 * big * big) {
        // one decode serves both: the resized image gives the crop (the same pixels extract()
        // would) and the thumbnail
        const resized = await rawRgb(oriented.clone().resize(w, h, { fit: 'fill' }), w, h, name);
        rgb = cropRgb(resized, w, left, top, size);
        thumbnail = await thumbnailOf(sharp(resized, { raw: { width: w, height: h, channels: 3 } }));
      } else {
        const pipeline = oriented.clone().resize(w, h, { fit: 'fill' }).extract({ left, top, width: size, height: size });
        [rgb, thumbnail] = await Promise.all([
          rawRgb(pipeline, size, size, name),
          options.thumbnail ? thumbnailOf(oriented.clone()) : undefined,
        ]);
      }
    }
    if (flip) mirrorRgb(rgb, size);
    return { rgb, width, height, format: isRawImage(source) ? 'raw' : (meta.format ?? 'unknown'), ...(thumbnail ? { thumbnail } : {}) };
  } catch (e) {
    if (e instanceof ConvlensError) throw e.file ? e : new ConvlensError(e.code, e.message, { file: name, cause: e });
    throw decodeError(e, name, Buffer.isBuffer(source) ? source : undefined, format);
  }
}

/** MIME type of encoded image bytes from their signature (null when unknown). */
export function imageMimeType(bytes: Uint8Array): string | null {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 16));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  if (b.toString('latin1', 0, 4) === 'GIF8') return 'image/gif';
  return null;
}
