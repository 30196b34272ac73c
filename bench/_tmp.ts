import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
sharp.concurrency(1);
const root = '/work/shared/data/flowers';
const files: string[] = [];
for (const c of readdirSync(root).sort()) { try { for (const f of readdirSync(join(root, c)).sort()) if (f.endsWith('.jpg') && files.length < 300) files.push(join(root, c, f)); } catch {} }
const bufs = files.map((f) => readFileSync(f));
const sizes = await Promise.all(bufs.slice(0, 300).map((b) => sharp(b).metadata()));
const px = sizes.map((m) => m.width! * m.height!).sort((a, b) => a - b);
console.log('median px', px[150], 'e.g.', sizes[0]!.width, sizes[0]!.height, 'bytes', bufs.reduce((a, b) => a + b.length, 0) / bufs.length);
async function t(name: string, f: (b: Buffer) => Promise<unknown>) {
  const t0 = performance.now();
  for (const b of bufs) await f(b);
  console.log(name, ((performance.now() - t0) / bufs.length).toFixed(2), 'ms');
}
await t('metadata', (b) => sharp(b).metadata());
await t('decode raw', (b) => sharp(b).raw().toBuffer());
await t('decode+resize 256 short (lanczos3)', (b) => sharp(b).resize(256, 256, { fit: 'outside' }).raw().toBuffer());
await t('decode+resize 256 short (linear)', (b) => sharp(b).resize(256, 256, { fit: 'outside', kernel: 'linear' }).raw().toBuffer());
await t('decode+resize+extract', (b) => sharp(b).resize(256, 256, { fit: 'outside' }).extract({ left: 0, top: 0, width: 224, height: 224 }).raw().toBuffer());
const raw = await sharp(bufs[0]).resize(256, 256, { fit: 'outside' }).raw().toBuffer({ resolveWithObject: true });
await t('thumb from raw', () => sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } }).resize(128, 128, { fit: 'inside' }).jpeg({ quality: 80 }).toBuffer());
await t('thumb from raw no resize', () => sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: 3 } }).jpeg({ quality: 80 }).toBuffer());
