/**
 * Fixtures for the server and browser tests: a collection of the 44 example photos (through the
 * network), synthetic collections (random embeddings, no network), the web app built by vite into
 * a temporary folder, and Chromium driven by playwright-core.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { indexFolders, Store, type ImageRecord } from '../../src/collection/index.js';
import { Random } from '../../src/core/random.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { EXAMPLES, REPO } from '../helpers/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(REPO, 'test-artifacts', 'web');

const made: string[] = [];

/** A new temporary folder, removed by `removeTempDirs` (call it in afterAll). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `convlens-${prefix}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The example photos indexed (crop, as `index` does for a new collection) into a new database. */
export async function indexedExamples(dir: string): Promise<string> {
  const db = join(dir, 'photos.db');
  const lens = await ConvLens.load({ resize: 'crop' });
  const store = Store.open(db, { create: true });
  try {
    await indexFolders(store, lens, [EXAMPLES]);
  } finally {
    store.close();
    await lens.dispose();
  }
  return db;
}

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
  options: { dim?: number; seed?: number; thumbnails?: boolean } = {},
): Promise<void> {
  const dim = options.dim ?? 2048;
  const rng = new Random(options.seed ?? 1);
  const store = Store.open(db, { create: true });
  try {
    store.ensureSettings({ model: 'keras-resnet50-imagenet', layer: 'avg_pool', resize: 'crop', dim });
    const rootId = store.rootId(root);
    const centres = Array.from({ length: 8 }, () => Float32Array.from({ length: dim }, () => Math.max(0, rng.normal())));
    const thumbs = options.thumbnails === false ? [] : await Promise.all(Array.from({ length: 16 }, (_, i) => colourThumb(i)));
    for (let start = 0; start < n; start += 500) {
      const batch: ImageRecord[] = [];
      for (let i = start; i < Math.min(n, start + 500); i++) {
        const c = centres[i % centres.length]!;
        const e = new Float32Array(dim);
        for (let j = 0; j < dim; j++) e[j] = Math.max(0, c[j]! + 0.8 * rng.normal());
        const top = rng.int(1000);
        batch.push({
          rootId,
          path: `img/${String(i).padStart(6, '0')}.jpg`,
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
      store.writeBatch(batch);
    }
  } finally {
    store.close();
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err.slice(-2000)}`)),
    );
  });
}

/**
 * Build the web app and the standalone viewer from web/ into a new folder, as `npm run build`
 * does (`viewerOnly`: just the viewer, in <folder>/viewer).
 */
export async function buildWeb(viewerOnly = false): Promise<string> {
  const out = tempDir('web');
  const vite = join(REPO, 'node_modules', '.bin', 'vite');
  if (!viewerOnly) await run(vite, ['build', '--config', 'web/vite.config.ts', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn']);
  await run(vite, [
    'build',
    '--config',
    'web/vite.viewer.config.ts',
    '--outDir',
    join(out, 'viewer'),
    '--emptyOutDir',
    '--logLevel',
    'warn',
  ]);
  return out;
}

export function hasChromium(): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok) console.warn(`skipped: browser tests need Debian's Chromium at ${CHROMIUM} (apt-get install chromium), which is absent`);
  return ok;
}

/** Headless Chromium with a fresh profile (never a downloaded browser). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tempDir('chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A multipart/form-data body with one file. */
export function multipart(bytes: Buffer, filename = 'photo.jpg', field = 'file'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----convlens${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  return {
    payload: Buffer.concat([head, bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}
