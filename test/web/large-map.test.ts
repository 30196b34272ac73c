/**
 * A map too large for one atlas (60,000 synthetic images with a stored layout), over the API and
 * in Debian's Chromium at desktop and phone sizes: the points travel in binary, no atlas of
 * everything is built, the whole map draws as density, and zooming in fetches the thumbnails of
 * the cells in view only. Screenshots go to test/web/__screenshots__/ (large-*.png).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, MapResult } from '../../src/server/schemas.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { SYNTHETIC_MAP_KEY, syntheticMapStore } from '../helpers/synthetic-map.js';
import { buildWeb, hasChromium, launchChromiumBrowser, removeTempDirs, tempDir } from '../server/helpers.js';

const N = 60_000;
const SHOTS = fileURLToPath(new URL('./__screenshots__', import.meta.url));
type Browser = Awaited<ReturnType<typeof launchChromiumBrowser>>;
type Page = Awaited<ReturnType<Awaited<ReturnType<Browser['newContext']>>['newPage']>>;

describe('a map of 60,000 images', () => {
  const dir = tempDir('large-map');
  const db = join(dir, 'large.db');
  let server: ConvlensServer;
  let url: string;
  let ids: Int32Array;
  let coords: Float32Array;

  const get = async (path: string) => server.app.inject({ method: 'GET', url: path });

  beforeAll(async () => {
    await syntheticMapStore(db, N);
    const store = await openStore(db, { readonly: true });
    ({ ids, coords } = (await store.projection(SYNTHETIC_MAP_KEY))!);
    await store.close();
    server = await createServer({ db, port: 0, webDir: hasChromium() ? await buildWeb() : null, uploadsDir: null });
    url = await server.listen();
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    removeTempDirs();
  });

  it('sends its points in binary, and its summary without them on request', async () => {
    const summary = (await get(`/api/map?key=${SYNTHETIC_MAP_KEY}&points=false`)).json() as MapResult;
    expect(summary).toMatchObject({ key: SYNTHETIC_MAP_KEY, count: N, ids: [], coords: [], top1: [] });
    expect(Object.keys(summary.classes).length).toBeGreaterThan(100);
    const r = await get(`/api/map/points?key=${SYNTHETIC_MAP_KEY}`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    const buf = r.rawPayload;
    expect(buf.readUInt32LE(0)).toBe(N);
    expect(buf.length).toBe(8 + 14 * N);
    const at = (o: number, n: number, T: typeof Int32Array | typeof Float32Array | typeof Int16Array) =>
      new T(Uint8Array.from(buf.subarray(o, o + n * T.BYTES_PER_ELEMENT)).buffer);
    expect(at(8, N, Int32Array)).toEqual(ids);
    expect(at(8 + 4 * N, 2 * N, Float32Array)).toEqual(coords);
    const top1 = at(8 + 12 * N, N, Int16Array);
    // the same classes the JSON answer gives
    const full = (await get(`/api/map?key=${SYNTHETIC_MAP_KEY}`)).json() as MapResult;
    expect(Array.from(top1.subarray(0, 500))).toEqual(full.top1.slice(0, 500));
    expect((await get('/api/map/points?key=no-such-map')).statusCode).toBe(404);
    // a reload keeps the browser's copy: the same map and classes answer 304
    const again = await server.app.inject({
      method: 'GET',
      url: `/api/map/points?key=${SYNTHETIC_MAP_KEY}`,
      headers: { 'if-none-match': String(r.headers['etag']) },
    });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
  });

  it("sends a cell's thumbnails: at most 256 spread over it, with how many it holds", async () => {
    let total = 0;
    for (const [x, y] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ]) {
      const r = await get(`/api/map/cell?key=${SYNTHETIC_MAP_KEY}&z=1&x=${x}&y=${y}`);
      expect(r.statusCode).toBe(200);
      const buf = r.rawPayload;
      const count = buf.readUInt32LE(0);
      total += buf.readUInt32LE(4);
      expect(count).toBeLessThanOrEqual(256);
      expect([buf.readUInt32LE(8), buf.readUInt32LE(12)]).toEqual([32, 32]);
      if (count === 0) continue;
      const cellIds = new Int32Array(Uint8Array.from(buf.subarray(16, 16 + 4 * count)).buffer);
      expect(new Set(cellIds).size).toBe(count);
      const page = await sharp(buf.subarray(16 + 8 * count)).metadata();
      expect(page.format).toBe('webp');
      expect(page.width).toBe(Math.min(count, 32) * 32);
    }
    expect(total).toBe(N);
    const outside = await get(`/api/map/cell?key=${SYNTHETIC_MAP_KEY}&z=1&x=2&y=0`);
    expect(outside.statusCode).toBe(400);
    expect(outside.json()).toMatchObject({ error: { code: 'E_USAGE' } });
    expect((await get('/api/map/cell?key=no-such-map&z=0&x=0&y=0')).statusCode).toBe(404);
  });

  describe.skipIf(!hasChromium())('in Chromium', () => {
    let browser: Browser;
    const problems: string[] = [];

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      browser = await launchChromiumBrowser();
    });
    afterAll(async () => browser?.close());

    async function open(kind: 'desktop' | 'phone'): Promise<Page> {
      const phone = kind === 'phone';
      const context = await browser.newContext({
        viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 800 },
        hasTouch: phone,
        isMobile: phone,
        deviceScaleFactor: 1,
      });
      const page = await context.newPage();
      page.on('pageerror', (e) => problems.push(`${kind}: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && problems.push(`${kind}: ${m.text()}`));
      await page.goto(url);
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
      expect(await page.evaluate('window.convlensMap.pointCount')).toBe(N);
      return page;
    }

    const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 60_000, interval: 100 });

    async function shot(page: Page, name: string): Promise<void> {
      await sharp(await page.screenshot())
        .png({ palette: true, colours: 160, effort: 8, compressionLevel: 9 })
        .toFile(join(SHOTS, `${name}.png`));
    }

    /** The canvas as it is on screen: the spread of its pixels' values (0: blank). */
    const spread = async (page: Page): Promise<number> => {
      const stats = await sharp(await page.locator('canvas.convlens-map-canvas').screenshot()).stats();
      return Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev));
    };

    it('draws the whole map as density, then the thumbnails of the cells in view as it zooms in (desktop)', async () => {
      const page = await open('desktop');
      await poll(() => page.evaluate('window.convlensMap.renders') as Promise<number>).toBeGreaterThan(0);
      expect(await spread(page)).toBeGreaterThan(15);
      expect(await page.evaluate('window.convlensMap.cellState')).toEqual({ held: 0, loading: 0, failed: 0 });
      await shot(page, 'large-desktop-01-whole');
      // coloured by class, the density takes each pixel's mean colour
      const before = (await page.evaluate('window.convlensMap.renders')) as number;
      await page.getByLabel('colour by').selectOption('top1');
      await poll(() => page.evaluate('window.convlensMap.renders') as Promise<number>).toBeGreaterThan(before);
      const coloured = await sharp(await page.locator('canvas.convlens-map-canvas').screenshot()).stats();
      // grey dots have equal channels; class colours do not
      expect(Math.abs(coloured.channels[0]!.mean - coloured.channels[2]!.mean)).toBeGreaterThan(1);
      await shot(page, 'large-desktop-01b-classes');
      await page.getByLabel('colour by').selectOption('image');
      // no atlas of everything was asked for
      const jobs = (await get('/api/jobs')).json() as { jobs: JobInfo[] };
      expect(jobs.jobs.filter((j) => j.kind === 'atlas')).toEqual([]);

      await page.evaluate('window.convlensMap.centerOn(0, 12)');
      await poll(() => page.evaluate('window.convlensMap.cellState.held') as Promise<number>).toBeGreaterThan(0);
      await poll(() => page.evaluate('window.convlensMap.cellState.loading') as Promise<number>).toBe(0);
      const held = (await page.evaluate('window.convlensMap.cellState')) as { held: number; failed: number };
      expect(held.failed).toBe(0);
      // a few cells around the view, not the map's 4^level
      expect(held.held).toBeLessThanOrEqual(30);
      await page.waitForTimeout(300);
      expect(await spread(page)).toBeGreaterThan(15);
      await shot(page, 'large-desktop-02-zoomed');

      // panning: each frame shows the last render moved, a few ms of work at most
      const box = (await page.locator('canvas.convlens-map-canvas').boundingBox())!;
      await page.evaluate('window.convlensMap.frameTimes.length = 0');
      await page.mouse.move(box.x + 300, box.y + 400);
      await page.mouse.down();
      for (let s = 1; s <= 30; s++) await page.mouse.move(box.x + 300 + s * 10, box.y + 400);
      await page.mouse.up();
      const frames = (await page.evaluate('window.convlensMap.frameTimes.slice()')) as number[];
      expect(frames.length).toBeGreaterThan(5);
      await page.context().close();
    });

    it('draws it on a phone too, whole and zoomed in', async () => {
      const page = await open('phone');
      await poll(() => page.evaluate('window.convlensMap.renders') as Promise<number>).toBeGreaterThan(0);
      expect(await spread(page)).toBeGreaterThan(15);
      await shot(page, 'large-phone-01-whole');
      await page.evaluate('window.convlensMap.centerOn(0, 12)');
      await poll(() => page.evaluate('window.convlensMap.cellState.held') as Promise<number>).toBeGreaterThan(0);
      await poll(() => page.evaluate('window.convlensMap.cellState.loading') as Promise<number>).toBe(0);
      await page.waitForTimeout(300);
      await shot(page, 'large-phone-02-zoomed');
      await page.context().close();
      expect(problems).toEqual([]);
    });
  });
});
