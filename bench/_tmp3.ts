import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
sharp.concurrency(1);
const root = '/work/shared/data/flowers';
const files: string[] = [];
for (const c of readdirSync(root).sort()) { try { for (const f of readdirSync(join(root, c)).sort()) if (f.endsWith('.jpg') && files.length < 300) files.push(join(root, c, f)); } catch {} }
const bufs = files.map((f) => readFileSync(f));
const metas = await Promise.all(bufs.map((b) => sharp(b).metadata()));
console.log('progressive', metas.filter((m) => m.isProgressive).length, 'of', metas.length, 'mean px', metas.reduce((a, m) => a + m.width! * m.height!, 0) / metas.length, 'chroma', [...new Set(metas.map((m) => m.chromaSubsampling))]);
// baseline re-encode and decode
const base = await Promise.all(bufs.map((b) => sharp(b).jpeg({ quality: 90, progressive: false, mozjpeg: false }).toBuffer()));
for (const [name, set] of [['orig', bufs], ['baseline', base]] as const) {
  const t0 = performance.now();
  for (const b of set) await sharp(b).raw().toBuffer();
  console.log(name, ((performance.now() - t0) / set.length).toFixed(2), 'ms');
}
