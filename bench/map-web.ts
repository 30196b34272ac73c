/**
 * The web map of a large collection in Chromium (Debian's, headless, software rendering): a
 * synthetic collection with its map stored (test/helpers/synthetic-map.ts; no layout computed),
 * `convlens serve` in its own process, and a 1280×800 page. Measures:
 * - first draw: from navigation until the map's first complete render is on screen;
 * - panning: a 2 s mouse drag, as frames per second the page actually showed
 *   (requestAnimationFrame) and the map's own work per frame (median, p95, max);
 * - zooming in until thumbnails show: the time until the first cell's thumbnails, and all the
 *   cells in view, are drawn;
 * - the server's and the page's memory.
 * Screenshots (whole map, zoomed in; desktop and phone) go to bench/results/map-web/.
 *
 *   npm run bench -- map-web [--images 1000000] [--db FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildWeb, launchChromiumBrowser } from '../test/server/helpers.js';
import { syntheticMapStore } from '../test/helpers/synthetic-map.js';
import { BENCH_DIR, isMain, machine, processMiB, serverUrl, writeResult } from './common.js';

const REPO = join(BENCH_DIR, '..');

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** The server in a process of its own (its memory is its own), serving the web app built from web/. */
function startServer(db: string, webDir: string): Promise<{ child: ChildProcess; url: string }> {
  const script =
    `const { createServer } = await import(${JSON.stringify(join(REPO, 'src', 'server', 'index.ts'))});` +
    `const s = await createServer({ db: ${JSON.stringify(db)}, port: 0, webDir: ${JSON.stringify(webDir)}, uploadsDir: null });` +
    `console.log(await s.listen());`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return serverUrl(child);
}

/** Poll an expression in the page until it is true (the app's CSP forbids waitForFunction's eval). */
async function until(
  page: { evaluate(e: string): Promise<unknown>; waitForTimeout(ms: number): Promise<void> },
  expr: string,
  timeoutMs = 120_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await page.evaluate(`!!(${expr})`))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${expr}`);
    await page.waitForTimeout(25);
  }
}

/** A screenshot as a palette PNG (small enough to commit). */
async function shot(page: { screenshot(): Promise<Buffer> }, path: string): Promise<void> {
  await sharp(await page.screenshot())
    .png({ palette: true, colours: 160, effort: 8, compressionLevel: 9 })
    .toFile(path);
}

const quantile = (a: number[], q: number): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? +s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2) : NaN;
};

export async function run(args: string[] = []): Promise<void> {
  const images = Number(arg(args, '--images', '1000000'));
  const db = arg(args, '--db', join(tmpdir(), `convlens-map-web-${images}.db`));
  const shots = join(BENCH_DIR, 'results', 'map-web');
  mkdirSync(shots, { recursive: true });
  const result: Record<string, unknown> = { machine: machine(), images };
  if (!existsSync(db)) {
    const t0 = performance.now();
    await syntheticMapStore(db, images);
    result['createSeconds'] = +((performance.now() - t0) / 1000).toFixed(1);
    console.log(`synthetic collection and map: ${images} images in ${String(result['createSeconds'])} s → ${db}`);
  }
  const webDir = await buildWeb();
  const t0 = performance.now();
  const { child, url } = await startServer(db, webDir);
  result['serverStartSeconds'] = +((performance.now() - t0) / 1000).toFixed(2);
  const pid = child.pid!;
  let browser: Awaited<ReturnType<typeof launchChromiumBrowser>> | null = null;
  try {
    browser = await launchChromiumBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // first draw: navigation start to the first complete render (the page's own clock)
    await page.goto(url);
    await until(page, 'window.convlensMap && window.convlensMap.firstRenderAt > 0 && window.convlensMap.pointCount > 0');
    const firstDrawMs = Math.round((await page.evaluate('window.convlensMap.firstRenderAt')) as number);
    const points = (await page.evaluate('window.convlensMap.pointCount')) as number;
    await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
    await page.waitForTimeout(500);
    await shot(page, join(shots, `desktop-whole-${images}.png`));

    // pan: a 2 s drag across the map, counting the frames the page showed
    const box = (await page.locator('.map-pane canvas.convlens-map-canvas').boundingBox())!;
    const pan = async (): Promise<Record<string, number>> => {
      await page.evaluate(
        `window.__frames = []; window.__counting = true; window.convlensMap.frameTimes.length = 0;
         (function tick(t) { window.__frames.push(t); if (window.__counting) requestAnimationFrame(tick); })(performance.now());`,
      );
      const [x0, y0] = [box.x + box.width * 0.3, box.y + box.height * 0.5];
      await page.mouse.move(x0, y0);
      await page.mouse.down();
      const steps = 120;
      const start = Date.now();
      for (let s = 1; s <= steps; s++) {
        await page.mouse.move(x0 + (s / steps) * box.width * 0.4, y0 + Math.sin(s / 10) * 40);
        const wait = start + (s * 2000) / steps - Date.now();
        if (wait > 0) await page.waitForTimeout(wait);
      }
      await page.mouse.up();
      const frames = (await page.evaluate('(window.__counting = false, window.__frames.splice(0))')) as number[];
      const work = (await page.evaluate('window.convlensMap.frameTimes.slice()')) as number[];
      const gaps = frames.slice(1).map((t, i) => t - frames[i]!);
      const seconds = (frames.at(-1)! - frames[0]!) / 1000;
      return {
        fps: +((frames.length - 1) / seconds).toFixed(1),
        frameGapP95Ms: quantile(gaps, 0.95),
        frameGapMaxMs: quantile(gaps, 1),
        workMedianMs: quantile(work, 0.5),
        workP95Ms: quantile(work, 0.95),
        workMaxMs: quantile(work, 1),
      };
    };
    result['panWhole'] = await pan();
    await page.waitForTimeout(500);

    // zoom in until thumbnails show, and wait for the cells in view
    const z0 = performance.now();
    await page.evaluate('window.convlensMap.centerOn(0, 12)');
    let drawn = false;
    for (let i = 0; i < 1200 && !drawn; i++) {
      await page.waitForTimeout(50);
      const s = (await page.evaluate('window.convlensMap.cellState')) as { held: number; loading: number; failed: number };
      if (s.held > 0 && result['firstCellMs'] === undefined) result['firstCellMs'] = Math.round(performance.now() - z0);
      drawn = s.held > 0 && s.loading === 0;
    }
    await page.waitForTimeout(300);
    result['zoomToThumbnailsMs'] = Math.round(performance.now() - z0);
    result['cells'] = await page.evaluate('window.convlensMap.cellState');
    await shot(page, join(shots, `desktop-zoomed-${images}.png`));
    result['panZoomed'] = await pan();
    await page.waitForTimeout(1000);
    result['pageHeapMiB'] = Math.round(
      ((await page.evaluate('performance.memory ? performance.memory.usedJSHeapSize : 0')) as number) / 2 ** 20,
    );

    // the phone: the whole map and a zoomed view
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 1 });
    const p2 = await phone.newPage();
    await p2.goto(url);
    await p2.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
    await p2.waitForTimeout(800);
    await shot(p2, join(shots, `phone-whole-${images}.png`));
    await p2.evaluate('window.convlensMap.centerOn(0, 12)');
    await until(p2, 'window.convlensMap.cellState.held > 0 && window.convlensMap.cellState.loading === 0', 60_000);
    await p2.waitForTimeout(500);
    await shot(p2, join(shots, `phone-zoomed-${images}.png`));

    Object.assign(result, { points, firstDrawMs, errors, serverRssMiB: processMiB(pid), serverPeakRssMiB: processMiB(pid, 'VmHWM') });
  } finally {
    await browser?.close();
    child.kill('SIGTERM');
  }
  console.log(JSON.stringify(result, null, 2));
  console.log(`written ${writeResult(`map-web-${images}`, result)}`);
}

if (isMain(import.meta.url)) await run(process.argv.slice(2));
