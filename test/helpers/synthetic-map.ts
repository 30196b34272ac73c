/**
 * A large synthetic collection with a map already stored: small embeddings (8-d; nothing here
 * searches them), 256 little pictures as thumbnails (a hue per cluster, 16 shapes), and a 2-D
 * layout of 16 islands (each cluster's images around its own centre, in lumps), saved as the
 * collection's map. It exercises what a million-image map costs the server and the browser
 * without computing a layout.
 */
import sharp from 'sharp';
import { Random } from '../../src/core/random.js';
import { openStore } from '../../src/store/index.js';
import { syntheticStore } from './synthetic-store.js';

export const SYNTHETIC_MAP_KEY = 'synthetic-map';
const CLUSTERS = 16;

/** Thumbnail k of 256: cluster k mod 16's hue, shape k div 16 (a sky, a sun or a block, a ground). */
function pictureThumb(k: number): Promise<Buffer> {
  const hue = ((k % CLUSTERS) * 360) / CLUSTERS;
  const shape = Math.floor(k / CLUSTERS);
  const sun =
    shape % 2
      ? `<circle cx="${16 + (shape % 4) * 10}" cy="${14 + (shape % 3) * 4}" r="${7 + (shape % 5)}" ` +
        `fill="hsl(${(hue + 40) % 360},90%,70%)"/>`
      : `<rect x="${8 + (shape % 5) * 6}" y="10" width="16" height="${12 + (shape % 3) * 4}" fill="hsl(${(hue + 180) % 360},50%,45%)"/>`;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">` +
    `<rect width="64" height="48" fill="hsl(${hue},55%,${60 + (shape % 4) * 6}%)"/>${sun}` +
    `<rect y="${32 + (shape % 3) * 3}" width="64" height="16" fill="hsl(${hue},45%,28%)"/></svg>`;
  return sharp(Buffer.from(svg)).webp({ quality: 70 }).toBuffer();
}

export async function syntheticMapStore(db: string, n: number, seed = 3): Promise<void> {
  const thumbnailSet = await Promise.all(Array.from({ length: 256 }, (_, k) => pictureThumb(k)));
  await syntheticStore(db, '/synthetic', n, { dim: 8, clusters: CLUSTERS, seed, thumbnailSet });
  const store = await openStore(db);
  try {
    const ids = await store.embeddedIds();
    const rng = new Random(seed);
    const lumps = Array.from({ length: CLUSTERS * 6 }, () => [rng.normal() * 1.2, rng.normal() * 1.2] as const);
    const coords = new Float32Array(2 * ids.length);
    for (let r = 0; r < ids.length; r++) {
      // the store gives ids in insertion order: row r was written as synthetic row r (cluster r % 16)
      const c = r % CLUSTERS;
      const angle = (2 * Math.PI * c) / CLUSTERS;
      const radius = c % 2 ? 6 : 10;
      const lump = lumps[c * 6 + ((r >> 4) % 6)]!;
      coords[2 * r] = radius * Math.cos(angle) + lump[0] + 0.45 * rng.normal();
      coords[2 * r + 1] = radius * Math.sin(angle) + lump[1] + 0.45 * rng.normal();
    }
    await store.saveProjection(SYNTHETIC_MAP_KEY, { method: 'synthetic', params: {}, ids, coords, info: { seconds: 0 } });
  } finally {
    await store.close();
  }
}
