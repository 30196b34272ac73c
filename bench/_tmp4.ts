import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
sharp.concurrency(1);
const root = '/work/shared/data/flowers';
const files: string[] = [];
for (const c of readdirSync(root).sort()) { try { for (const f of readdirSync(join(root, c)).sort()) if (f.endsWith('.jpg') && files.length < 100) files.push(join(root, c, f)); } catch {} }
const raws = await Promise.all(files.map((f) => sharp(readFileSync(f)).resize(256, 256, { fit: 'outside' }).raw().toBuffer({ resolveWithObject: true })));
async function t(name: string, f: (r: (typeof raws)[0]) => Promise<Buffer>) {
  const t0 = performance.now(); let bytes = 0;
  for (const r of raws) bytes += (await f(r)).length;
  console.log(name, ((performance.now() - t0) / raws.length).toFixed(2), 'ms', (bytes / raws.length / 1024).toFixed(1), 'KiB');
}
const src = (r: (typeof raws)[0]) => sharp(r.data, { raw: { width: r.info.width, height: r.info.height, channels: 3 } });
await t('current', (r) => src(r).resize(128, 128, { fit: 'inside' }).toColourspace('srgb').removeAlpha().jpeg({ quality: 80 }).toBuffer());
await t('no colourspace', (r) => src(r).resize(128, 128, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer());
await t('optimiseCoding false', (r) => src(r).resize(128, 128, { fit: 'inside' }).jpeg({ quality: 80, optimiseCoding: false }).toBuffer());
await t('linear kernel', (r) => src(r).resize(128, 128, { fit: 'inside', kernel: 'linear' }).jpeg({ quality: 80, optimiseCoding: false }).toBuffer());
await t('resize only raw', (r) => src(r).resize(128, 128, { fit: 'inside' }).raw().toBuffer());
await t('jpeg only 128', async (r) => { const s = await src(r).resize(128, 128, { fit: 'inside' }).raw().toBuffer({ resolveWithObject: true }); const t0 = performance.now(); const o = await sharp(s.data, { raw: { width: s.info.width, height: s.info.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer(); return o; });
