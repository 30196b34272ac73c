import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
const root = '/work/shared/data/flowers';
const files: string[] = [];
for (const c of readdirSync(root).sort()) { try { for (const f of readdirSync(join(root, c)).sort()) if (f.endsWith('.jpg') && files.length < 300) files.push(join(root, c, f)); } catch {} }
const bufs = files.map((f) => readFileSync(f));
console.log(sharp.versions, 'simd', sharp.simd(), 'cache', JSON.stringify(sharp.cache()));
async function t(name: string, f: (b: Buffer) => Promise<unknown>) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (const b of bufs) await f(b);
  const c = process.cpuUsage(c0);
  console.log(name, ((performance.now() - t0) / bufs.length).toFixed(2), 'ms wall', ((c.user + c.system) / 1000 / bufs.length).toFixed(2), 'cpu');
}
for (const conc of [4, 1]) {
  sharp.concurrency(conc);
  await t(`decode raw c=${conc}`, (b) => sharp(b).raw().toBuffer());
}
sharp.cache(false);
await t(`decode raw nocache`, (b) => sharp(b).raw().toBuffer());
await t(`decode jpeg->jpeg`, (b) => sharp(b).jpeg().toBuffer());
const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } }).jpeg().toBuffer();
await t(`tiny decode (overhead)`, () => sharp(tiny).raw().toBuffer());
