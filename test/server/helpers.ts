/**
 * Fixtures for the server and browser tests: a collection of the 44 example photos (through the
 * network), synthetic collections (random embeddings, no network), the web app built by vite into
 * a temporary folder, and Chromium driven by playwright-core.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Collection } from '../../src/collection/index.js';
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
  const c = await Collection.open(db, { create: true });
  try {
    await c.index([EXAMPLES]);
  } finally {
    await c.close();
  }
  return db;
}

export { colourThumb, syntheticStore } from '../helpers/synthetic-store.js';

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

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Chromium's own fake camera, its permission granted (getUserMedia answers with a test pattern). */
export const FAKE_CAMERA_ARGS = ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'];

/** Headless Chromium with a fresh profile (never a downloaded browser). */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launchPersistentContext(tempDir('chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: CHROMIUM_ARGS,
  });
}

/**
 * Headless Chromium as a browser, for contexts of their own (a phone's viewport and touch, a
 * desktop's), with extra switches (e.g. FAKE_CAMERA_ARGS).
 */
export async function launchChromiumBrowser(extraArgs: string[] = []) {
  const { chromium } = await import('playwright-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** A multipart/form-data body with one file. */
export function multipart(bytes: Buffer, filename = 'photo.jpg', field = 'file'): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----convlens${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  return {
    payload: Buffer.concat([head, bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}
