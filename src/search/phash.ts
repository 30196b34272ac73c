/**
 * Perceptual hash (pHash): the signs of the 63 lowest-frequency DCT coefficients of a 32×32 grey
 * version of the image, against their median. Resizing, re-encoding and small crops move few bits;
 * different photos differ in about half. The mirrored image's hash comes with it, so a mirrored
 * copy is as near as the copy itself.
 */
import sharp, { type Sharp } from 'sharp';

const N = 32;
const K = 8;
/** cos((2x+1)uπ / 2N) for u < K, x < N */
const BASIS = (() => {
  const b = new Float64Array(K * N);
  for (let u = 0; u < K; u++) for (let x = 0; x < N; x++) b[u * N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N));
  return b;
})();

export interface PerceptualHash {
  hash: bigint;
  /** the hash of the left-right mirror image */
  mirrored: bigint;
}

function hashOf(px: Uint8Array | Buffer, mirror: boolean): bigint {
  // separable DCT: rows first (only the K lowest frequencies), then columns
  const rows = new Float64Array(N * K);
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let x = 0; x < N; x++) s += px[y * N + (mirror ? N - 1 - x : x)]! * BASIS[u * N + x]!;
      rows[y * K + u] = s;
    }
  }
  const dct = new Float64Array(K * K);
  for (let v = 0; v < K; v++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += rows[y * K + u]! * BASIS[v * N + y]!;
      dct[v * K + u] = s;
    }
  }
  const ac = Array.from(dct.subarray(1)).sort((a, b) => a - b);
  const median = ac[Math.floor(ac.length / 2)]!;
  let h = 0n;
  for (let i = 1; i < K * K; i++) if (dct[i]! > median) h |= 1n << BigInt(i);
  return h;
}

/** 32×32 grey pixels, one byte each (sharp would hand back three channels for a raw grey input otherwise). */
async function grey32(img: Sharp): Promise<Buffer> {
  const { data, info } = await img.resize(N, N, { fit: 'fill' }).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1) throw new Error(`perceptual hash: ${info.channels} channels after greyscale`);
  return data;
}

/** The perceptual hash of an encoded image (a thumbnail is enough). */
export async function perceptualHash(image: Buffer | Uint8Array): Promise<PerceptualHash> {
  const px = await grey32(sharp(image).removeAlpha());
  return { hash: hashOf(px, false), mirrored: hashOf(px, true) };
}

/**
 * Hashes of the parts of an image a cropped copy would show: the centre and the four corners, at
 * 90% and 80% of each side. A cropped copy's own hash is near one of them.
 */
export async function cropHashes(image: Buffer | Uint8Array): Promise<PerceptualHash[]> {
  const { data, info } = await sharp(image).removeAlpha().toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  const out: PerceptualHash[] = [];
  for (const f of [0.9, 0.8]) {
    const w = Math.max(1, Math.round(info.width * f));
    const h = Math.max(1, Math.round(info.height * f));
    const xs = [Math.floor((info.width - w) / 2), 0, info.width - w];
    const ys = [Math.floor((info.height - h) / 2), 0, info.height - h];
    for (const [x, y] of [
      [xs[0]!, ys[0]!],
      [xs[1]!, ys[1]!],
      [xs[2]!, ys[1]!],
      [xs[1]!, ys[2]!],
      [xs[2]!, ys[2]!],
    ] as const) {
      const px = await grey32(
        sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } }).extract({
          left: x,
          top: y,
          width: w,
          height: h,
        }),
      );
      out.push({ hash: hashOf(px, false), mirrored: hashOf(px, true) });
    }
  }
  return out;
}

function popcount(x: bigint): number {
  let c = 0;
  while (x) {
    x &= x - 1n;
    c++;
  }
  return c;
}

/** Bits that differ between two images, the second in either orientation. */
export function hashDistance(a: PerceptualHash, b: PerceptualHash): number {
  return Math.min(popcount(a.hash ^ b.hash), popcount(a.hash ^ b.mirrored));
}
