/**
 * The web app end to end in Debian's Chromium (playwright-core, no downloaded browser), as a user
 * on a laptop (1280×800, mouse) and on a phone (390×844, touch; 360 px too):
 * - the map: computed on first visit, visible and usable at both sizes (no horizontal overflow),
 *   zoom with sharper thumbnails, pinch and one-finger pan on the phone, click or tap opens an
 *   image whose neighbours are on the first screen;
 * - search by label, prediction, ImageNet class and file name, each match with its kind;
 * - query by an uploaded photo, and the camera (Chromium's fake camera) classifying live frames;
 * - labelling by lasso and checkboxes, training, the most confident mistakes (one click relabels)
 *   and the images of a confusion-matrix cell, "label next", colour by prediction and the legend;
 * - an index job whose status ends when it ends, a map update that keeps the images in place,
 *   and page loads that add no job;
 * - no console error anywhere.
 * Screenshots of each view at both sizes go to test/web/__screenshots__/ (committed, palette PNGs).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageList, JobInfo, LabelsResult, MapResult } from '../../src/server/schemas.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { EXAMPLES } from '../helpers/paths.js';
import {
  buildWeb,
  FAKE_CAMERA_ARGS,
  hasChromium,
  indexedExamples,
  launchChromiumBrowser,
  removeTempDirs,
  tempDir,
} from '../server/helpers.js';

const enabled = hasChromium();
const SHOTS = fileURLToPath(new URL('./__screenshots__', import.meta.url));
type Browser = Awaited<ReturnType<typeof launchChromiumBrowser>>;
type Page = Awaited<ReturnType<Awaited<ReturnType<Browser['newContext']>>['newPage']>>;

describe.skipIf(!enabled)('web app in Chromium', () => {
  const dir = tempDir('web-e2e');
  const allowed = join(dir, 'allowed');
  let server: ConvlensServer;
  let url: string;
  let webDir: string;
  let browser: Browser;
  const problems: string[] = [];
  const ids = new Map<string, number>();

  /** playwright-core has no web-first assertions: poll with vitest's instead */
  const poll = <T>(fn: () => Promise<T> | T, timeout = 20_000) => expect.poll(fn, { timeout, interval: 100 });

  async function newPage(kind: 'desktop' | 'phone', width?: number): Promise<Page> {
    const phone = kind === 'phone';
    const context = await browser.newContext({
      viewport: phone ? { width: width ?? 390, height: 844 } : { width: 1280, height: 800 },
      hasTouch: phone,
      isMobile: phone,
      deviceScaleFactor: 1,
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`${kind}: page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`${kind}: console: ${m.text()}`);
    });
    return page;
  }

  /** A screenshot, quantised to a palette PNG (small enough to commit). */
  async function shot(page: Page, name: string): Promise<void> {
    const png = await page.screenshot();
    await sharp(png)
      .png({ palette: true, colours: 160, effort: 8, compressionLevel: 9 })
      .toFile(join(SHOTS, `${name}.png`));
  }

  const api = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const r = await server.app.inject({ method, url: path, ...(body !== undefined ? { payload: body as object } : {}) });
    expect(r.statusCode, `${method} ${path}: ${r.body.slice(0, 200)}`).toBeLessThan(300);
    return r.json() as T;
  };

  const noOverflow = async (page: Page): Promise<void> => {
    const [scroll, inner] = (await page.evaluate('[document.documentElement.scrollWidth, innerWidth]')) as [number, number];
    expect(scroll, 'no horizontal overflow').toBeLessThanOrEqual(inner);
  };

  /** The whole element inside the window, and the thing on top at its centre (not covered). */
  const onFirstScreen = async (page: Page, selector: string): Promise<void> => {
    const box = await page.locator(selector).first().boundingBox();
    expect(box, `${selector} is laid out`).not.toBeNull();
    const [w, h] = (await page.evaluate('[innerWidth, innerHeight]')) as [number, number];
    expect(box!.x).toBeGreaterThanOrEqual(0);
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.x + box!.width).toBeLessThanOrEqual(w);
    expect(box!.y + box!.height).toBeLessThanOrEqual(h);
    const [x, y] = [box!.x + box!.width / 2, box!.y + box!.height / 2];
    const covered = await page.evaluate(
      `(() => { const el = document.querySelector(${JSON.stringify(selector)}); const top = document.elementFromPoint(${x}, ${y});` +
        ' return !(el && top && (el === top || el.contains(top))); })()',
    );
    expect(covered, `${selector} is not covered`).toBe(false);
  };

  const position = async (page: Page, id: number): Promise<{ x: number; y: number }> => {
    const p = (await page.evaluate(`window.convlensMap.screenPositionOf(${id})`)) as { x: number; y: number } | null;
    expect(p, `image ${id} is on screen`).not.toBeNull();
    return p!;
  };

  /** The map canvas shows something (not a blank background), as it is on screen now. */
  const mapDrawn = async (page: Page): Promise<void> => {
    const stats = await sharp(await page.locator('canvas.convlens-map-canvas').screenshot()).stats();
    expect(Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev)), 'the map is drawn').toBeGreaterThan(15);
  };

  const mapSize = async (page: Page): Promise<{ width: number; height: number }> =>
    (await page.locator('.map-pane canvas.convlens-map-canvas').boundingBox())!;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    let db: string;
    [webDir, db] = await Promise.all([buildWeb(), indexedExamples(dir)]);
    mkdirSync(join(allowed, 'more'), { recursive: true });
    const names = ['astronaut.png', 'coffee.png', 'rocket.jpg', 'horse.png', 'camera.png', 'coins.png', 'moon.png', 'page.png'];
    for (const [i, f] of names.entries())
      await sharp(join(EXAMPLES, 'skimage', f))
        .resize(320)
        .flop()
        .jpeg()
        .toFile(join(allowed, 'more', `extra ${i}.jpg`));
    server = await createServer({ db, port: 0, webDir, allowedRoots: [allowed], uploadsDir: join(dir, 'uploads') });
    url = await server.listen();
    const list = (await server.app.inject({ method: 'GET', url: '/api/images?limit=500' })).json() as ImageList;
    for (const it of list.items) ids.set(it.path, it.id);
    browser = await launchChromiumBrowser(FAKE_CAMERA_ARGS);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    removeTempDirs();
  });

  describe('on a laptop (1280×800, mouse)', () => {
    let page: Page;

    it('opens the map (computing it on first visit), zooms into sharper thumbnails, and shows a hover card', async () => {
      page = await newPage('desktop');
      await page.goto(url);
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
      expect(await page.evaluate('window.convlensMap.pointCount')).toBe(44);
      await noOverflow(page);
      const size = await mapSize(page);
      expect(size.width).toBeGreaterThan(700);
      expect(size.height).toBeGreaterThan(650);
      await mapDrawn(page);
      await shot(page, 'desktop-01-map');

      // a hover card: the thumbnail, the path, the top class with its probability, the label
      const cat = ids.get('skimage/chelsea.png')!;
      const p = await position(page, cat);
      await page.mouse.move(p.x, p.y);
      await poll(() => page.locator('.cl-card .cl-path').textContent()).toBe('skimage/chelsea.png');
      expect(await page.locator('.cl-card').textContent()).toMatch(/Egyptian_cat \d+(\.\d+)?% · ImageNet.*no label/);

      // colour by ImageNet class: a dozen distinct colours, the rest shares "other"; an entry highlights its images
      await page.mouse.move(5, 400);
      await page.getByLabel('colour by').selectOption('top1');
      const rows = await page.locator('.map-pane .cl-legend-row .cl-name').allTextContents();
      expect(rows.length).toBe(13);
      expect(rows[12]).toMatch(/^other \(\d+ more\)$/);
      const swatches = await page
        .locator('.map-pane .cl-legend-row .cl-swatch')
        .evaluateAll((e: any[]) => e.map((x) => x.style.background));
      expect(new Set(swatches.slice(0, 12)).size).toBe(12);
      await page.locator('.map-pane .cl-legend-row').nth(12).click();
      await shot(page, 'desktop-02-legend');
      await page.locator('.map-pane .cl-legend-row').nth(12).click();
      await page.getByLabel('colour by').selectOption('image');

      // zoom in: the atlas tiles give way to sharper thumbnails made from the originals
      await page.evaluate(`window.convlensMap.centerOn(window.convlensMap.indexOf(${cat}), 6)`);
      await poll(() => page.evaluate('window.convlensMap.detail.largest') as Promise<number>).toBeGreaterThanOrEqual(256);
      await page.waitForTimeout(500);
      await shot(page, 'desktop-03-zoomed');
      await page.getByRole('button', { name: 'Fit' }).click();
    });

    it('opens an image by a click: its neighbours on the first screen, then the details', async () => {
      await page.mouse.move(5, 400);
      const cat = ids.get('skimage/chelsea.png')!;
      const p = await position(page, cat);
      await page.mouse.click(p.x, p.y);
      await poll(() => page.locator('.image-panel .path').textContent()).toBe('skimage/chelsea.png');
      await poll(() => page.locator('.image-panel .neighbours .thumb').count()).toBe(24);
      await onFirstScreen(page, '.image-panel .neighbours .thumb');
      await poll(() => page.locator('.top5 .bar-caption').first().textContent()).toBe('Egyptian_cat');
      await poll(() => page.locator('svg.histogram rect').count()).toBe(40);
      const cosine = Number(await page.locator('.neighbours .score').first().textContent());
      expect(cosine).toBeGreaterThan(0);
      expect(cosine).toBeLessThan(1);
      await page.mouse.move(5, 400);
      await shot(page, 'desktop-04-image');

      await page.getByLabel('Euclidean').check();
      await poll(async () => Number(await page.locator('.neighbours .score').first().textContent())).toBeGreaterThan(1);
      await page.getByLabel('Cosine').check();
      await page.getByLabel('Threshold', { exact: true }).check();
      await page.locator('input[aria-label="threshold"]').fill('0.3');
      await poll(() => page.locator('.neighbours .thumb').count()).toBeLessThan(24);
      const scores = (await page.locator('.neighbours .score').allTextContents()).map(Number);
      expect(scores.every((s) => s >= 0.3)).toBe(true);
      await page.getByLabel('Threshold', { exact: true }).uncheck();
      // a neighbour opens in its turn
      await page.locator('.neighbours .thumb').first().click();
      await poll(() => page.locator('.image-panel .path').textContent()).not.toBe('skimage/chelsea.png');
    });

    it('searches ImageNet classes and file names, each match with its kind, and highlights them', async () => {
      await page.getByLabel('search images').fill('moped');
      await poll(() => page.locator('.search-results .match').allTextContents()).toEqual(['2 images', 'ImageNetmoped2']);
      await page.getByLabel('search images').fill('motorcycle');
      await poll(() => page.locator('.search-results .match .kind').allTextContents()).toContain('file');
      await shot(page, 'desktop-05-search');
      await page.getByLabel('search images').fill('');
      await poll(() => page.locator('.search-results').isVisible()).toBe(false);
    });

    it('classifies an uploaded photo and shows its neighbours', async () => {
      await page.getByRole('tab', { name: 'Query' }).click();
      const photo = join(dir, 'my cat.jpg');
      await sharp(join(EXAMPLES, 'skimage', 'chelsea.png'))
        .flop()
        .jpeg()
        .toFile(photo);
      await page.getByLabel('image to query').setInputFiles(photo);
      await poll(() => page.locator('.query-result .bar-caption').first().textContent(), 60_000).toBe('Egyptian_cat');
      await poll(() => page.locator('.query-result .neighbours .thumb').count()).toBe(12);
      await shot(page, 'desktop-06-query');
    });

    it('classifies the camera (a fake one) live, and queries with a snapshot', async () => {
      await page.getByRole('tab', { name: 'Camera' }).click();
      await poll(() => page.locator('.camera-panel').getAttribute('data-classified'), 60_000).not.toBeNull();
      expect(await page.locator('.camera-classes .bar-row').count()).toBe(5);
      await poll(() => page.locator('.camera-neighbours .thumb').count()).toBe(8);
      expect(await page.evaluate("document.querySelector('.camera-panel video').videoWidth")).toBeGreaterThan(0);
      await shot(page, 'desktop-07-camera');
      const panel = await page.$('.camera-panel');
      await page.getByRole('button', { name: 'Snapshot' }).click();
      await poll(() => page.locator('.camera-message').textContent(), 60_000).toBe('Snapshot (not stored).');
      expect(await page.locator('.camera-neighbours .thumb').count()).toBe(24);
      // leaving the tab closes the camera
      await page.getByRole('tab', { name: 'Image' }).click();
      expect(await panel!.evaluate((e: any) => e.querySelector('video').srcObject)).toBeNull();
    });

    it('labels by lasso and checkboxes, trains, fixes a confident mistake in one click, and opens a confusion cell', async () => {
      await page.getByRole('button', { name: 'Fit' }).click();
      // lasso around the two motorcycles
      const a = await position(page, ids.get('skimage/motorcycle_left.png')!);
      const b = await position(page, ids.get('skimage/motorcycle_right.png')!);
      const [x0, x1] = [Math.min(a.x, b.x) - 12, Math.max(a.x, b.x) + 12];
      const [y0, y1] = [Math.min(a.y, b.y) - 12, Math.max(a.y, b.y) + 12];
      await page.getByRole('button', { name: 'Lasso' }).click();
      await page.mouse.move(x0, y0);
      await page.mouse.down();
      for (const [x, y] of [
        [x1, y0],
        [x1, y1],
        [x0, y1],
        [x0, y0 + 1],
      ])
        await page.mouse.move(x!, y!, { steps: 4 });
      await page.mouse.up();
      await poll(() => page.locator('.selection-chip').isVisible()).toBe(true);
      await page.getByRole('tab', { name: 'Train' }).click();
      const lassoed = Number(await page.locator('.selection-info').getAttribute('data-count'));
      expect(lassoed).toBeGreaterThanOrEqual(2);
      await page.getByLabel('label', { exact: true }).fill('bikes');
      await page.getByRole('button', { name: 'Label selection' }).click();
      await poll(() => page.locator('.label-count').allTextContents()).toEqual([`bikes · ${lassoed}`]);

      // checkboxes in the grid: three food photos
      await page.getByRole('tab', { name: 'Grid' }).click();
      for (const name of ['skimage/coffee.png', 'opencv/orange.jpg', 'opencv/apple.jpg'])
        await page.locator(`.grid .thumb[data-id="${ids.get(name)}"] input.check`).check();
      await page.getByRole('tab', { name: 'Train' }).click();
      await poll(() => page.locator('.selection-info').getAttribute('data-count')).toBe('3');
      await page.getByLabel('label', { exact: true }).fill('food');
      await page.getByRole('button', { name: 'Label selection' }).click();
      await poll(() => page.locator('.label-count').count()).toBe(2);

      // more labels through the API, one of them wrong: a building labelled "food"
      const outdoor = ['opencv/aero1.jpg', 'opencv/aero3.jpg', 'opencv/home.jpg', 'opencv/leuvenA.jpg'].map((p) => ids.get(p)!);
      await api('POST', '/api/labels', { ids: outdoor, label: 'outdoor' });
      await api('POST', '/api/labels', { ids: [ids.get('opencv/fruits.jpg'), ids.get('opencv/building.jpg')], label: 'food' });
      await page.reload();
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 60_000 });
      await page.getByRole('tab', { name: 'Train' }).click();
      await poll(() => page.locator('.label-count').count()).toBe(3);

      await page.getByLabel('head').selectOption('knn');
      await page.getByRole('button', { name: 'Train', exact: true }).click();
      await poll(() => page.locator('.train-report .accuracy').textContent(), 60_000).toMatch(/^accuracy/);
      expect(await page.locator('.job-progress').getAttribute('data-state')).toBe('done');
      await shot(page, 'desktop-08-trained');

      // the building is one of the most confident mistakes: labelled food, predicted outdoor
      const building = ids.get('opencv/building.jpg')!;
      const probabilities = (await page.locator('.mistake-text > span:first-child').allTextContents()).map((t) =>
        parseFloat(t.split(' ').pop()!),
      );
      expect(probabilities).toEqual([...probabilities].sort((x, y) => y - x));
      const first = page.locator(`.mistake[data-id="${building}"]`);
      expect(await first.textContent()).toMatch(/labelled food, predicted outdoor 100%/);
      await first.scrollIntoViewIfNeeded();
      await shot(page, 'desktop-09-mistakes');
      // its confusion cell (food → outdoor) opens its images
      await page.getByRole('button', { name: /labelled food predicted outdoor/ }).click();
      await poll(() => page.locator('.cell-images .thumb').evaluateAll((e) => e.map((x) => x.getAttribute('data-id')))).toContain(
        String(building),
      );
      // one click relabels it
      await first.getByRole('button', { name: 'Relabel as outdoor' }).click();
      await poll(() => first.textContent()).toMatch(/relabelled as "outdoor"/);
      const labels = await api<LabelsResult>('GET', '/api/labels');
      expect(labels.labels[labels.ids.indexOf(building)]).toBe('outdoor');

      // label next: the images the head is least sure about
      await page.getByLabel('how many to label next').selectOption('12');
      await page.getByRole('button', { name: 'Select them' }).click();
      await poll(() => page.locator('.uncertain-images .thumb').count()).toBe(12);
      expect(await page.locator('.selection-info').getAttribute('data-count')).toBe('12');
      expect(await page.locator('.uncertain .controls button').allTextContents()).toEqual([
        'Label as bikes',
        'Label as food',
        'Label as outdoor',
      ]);
      await page.getByRole('button', { name: 'clear the selection' }).click();

      await page.getByRole('button', { name: 'Colour the map by prediction' }).click();
      expect(await page.getByLabel('colour by').inputValue()).toBe('prediction');
      const legend = await page.locator('.map-pane .cl-legend-row .cl-name').allTextContents();
      expect(legend.sort()).toEqual(['bikes', 'food', 'outdoor']);
      // a legend entry highlights its images
      await page.locator('.map-pane .cl-legend-row', { hasText: 'bikes' }).click();
      expect(await page.locator('.map-pane .cl-legend-row[aria-pressed="true"] .cl-name').textContent()).toBe('bikes');
      await shot(page, 'desktop-10-predictions');
      await page.locator('.map-pane .cl-legend-row', { hasText: 'bikes' }).click();

      // search finds labels and predictions too, with their kinds
      await page.getByLabel('search images').fill('outdoor');
      await poll(() => page.locator('.search-results .match .kind').allTextContents()).toEqual(['label', 'predicted']);
      await page.getByLabel('search images').fill('');
    });

    it('indexes a folder: the status follows the job to its end, the map updates in place, reloads add no job', async () => {
      const before = await api<MapResult>('GET', '/api/map');
      await page.getByRole('tab', { name: 'Jobs' }).click();
      await page.getByLabel('folder').fill('more');
      await page.getByRole('button', { name: 'Index', exact: true }).click();
      await page.locator('.job[data-kind="index"]').first().waitFor({ state: 'visible' });
      // meanwhile the rest of the app answers
      await page.getByRole('tab', { name: 'Grid' }).click();
      await page.locator('.grid .thumb').first().waitFor({ state: 'visible' });
      await page.getByRole('tab', { name: 'Jobs' }).click();
      await poll(() => page.locator('.job[data-kind="index"]').first().getAttribute('data-state'), 90_000).toBe('done');
      await poll(() => page.locator('.job[data-kind="index"] .bar-value').first().textContent()).toBe('8/8');
      await poll(() => page.locator('.index-message').textContent()).toBe('Indexed allowed/more: 8 new, 0 unchanged.');
      // a finished job tells how long it took, not an ETA
      expect(await page.locator('.job[data-kind="index"]').first().textContent()).not.toMatch(/ETA|left/);
      await poll(() => page.locator('.stats').textContent()).toMatch(/^52 images/);
      await poll(() => page.locator('.banner').textContent()).toMatch(/The collection changed \(52 images\)/);
      // the banner shrank the map: it is still drawn, at once
      await mapDrawn(page);
      await shot(page, 'desktop-11-indexed');
      await page.getByRole('button', { name: 'Update the map' }).click();
      await poll(() => page.evaluate('window.convlensMap.pointCount'), 120_000).toBe(52);
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 90_000 });
      // the map was updated in place: the 44 images kept their places, the 8 new ones joined them
      const after = await api<MapResult>('GET', '/api/map');
      expect(after.count).toBe(52);
      expect(after.params['placedOn']).toBe(before.key);
      const at = new Map(after.ids.map((id, i) => [id, [after.coords[2 * i]!, after.coords[2 * i + 1]!]]));
      before.ids.forEach((id, i) => {
        expect(at.get(id)![0]).toBeCloseTo(before.coords[2 * i]!, 3);
        expect(at.get(id)![1]).toBeCloseTo(before.coords[2 * i + 1]!, 3);
      });
      await shot(page, 'desktop-12-updated');

      // page loads reuse the atlas: no new job each time
      const jobs = async () => (await api<{ jobs: JobInfo[] }>('GET', '/api/jobs')).jobs.length;
      const count = await jobs();
      for (let i = 0; i < 2; i++) {
        await page.reload();
        await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 60_000 });
      }
      expect(await jobs()).toBe(count);
      await page.context().close();
    });
  });

  describe('on a phone (390×844, touch)', () => {
    let page: Page;

    it('shows the map full screen with the panel as a bottom sheet, and no horizontal overflow', async () => {
      page = await newPage('phone');
      await page.goto(url);
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
      await noOverflow(page);
      const size = await mapSize(page);
      expect(size.width).toBe(390);
      expect(size.height).toBeGreaterThan(600);
      expect(await page.locator('.side').getAttribute('data-sheet')).toBe('peek');
      await mapDrawn(page);
      await onFirstScreen(page, '.tabs [data-tab="jobs"]');
      await onFirstScreen(page, '.map-options select');
      await shot(page, 'phone-01-map');
    });

    it('pinch-zooms and pans with fingers', async () => {
      const cdp = await page.context().newCDPSession(page);
      const box = await mapSize(page);
      const c = await page.locator('canvas.convlens-map-canvas').boundingBox();
      const [cx, cy] = [c!.x + box.width / 2, c!.y + box.height / 2];
      const touch = (type: 'touchStart' | 'touchMove' | 'touchEnd', points: [number, number][]) =>
        cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id })) });
      await touch('touchStart', [
        [cx - 30, cy],
        [cx + 30, cy],
      ]);
      for (let k = 1; k <= 10; k++)
        await touch('touchMove', [
          [cx - 30 - 9 * k, cy],
          [cx + 30 + 9 * k, cy],
        ]);
      await touch('touchEnd', []);
      await poll(() => page.evaluate('window.convlensMap.zoom') as Promise<number>).toBeGreaterThan(2);
      const zoomed = (await page.evaluate('window.convlensMap.zoom')) as number;
      expect(zoomed).toBeLessThan(5);
      // one finger pans
      const id = ids.get('skimage/chelsea.png')!;
      const before = (await page.evaluate(`window.convlensMap.screenPositionOf(${id})`)) as { x: number } | null;
      await touch('touchStart', [[cx, cy]]);
      for (let k = 1; k <= 6; k++) await touch('touchMove', [[cx + 10 * k, cy]]);
      await touch('touchEnd', []);
      const after = (await page.evaluate(`window.convlensMap.screenPositionOf(${id})`)) as { x: number } | null;
      if (before && after) expect(after.x - before.x).toBeCloseTo(60, -1);
      // Chromium drops a tap that comes right after a flick (it stops the fling instead)
      await page.waitForTimeout(700);
      await page.getByRole('button', { name: 'Fit' }).tap();
      await poll(() => page.evaluate('window.convlensMap.zoom') as Promise<number>).toBeCloseTo(1, 3);

      // a lasso drawn with a finger selects the images inside it
      await page.getByRole('button', { name: 'Lasso' }).tap();
      const a = await position(page, ids.get('skimage/motorcycle_left.png')!);
      const b = await position(page, ids.get('skimage/motorcycle_right.png')!);
      const [x0, x1] = [Math.min(a.x, b.x) - 10, Math.max(a.x, b.x) + 10];
      const [y0, y1] = [Math.min(a.y, b.y) - 10, Math.max(a.y, b.y) + 10];
      await touch('touchStart', [[x0, y0]]);
      for (const [x, y] of [
        [x1, y0],
        [x1, y1],
        [x0, y1],
        [x0, y0 + 1],
      ] as [number, number][]) {
        await touch('touchMove', [[(x0 + x) / 2, (y0 + y) / 2]]);
        await touch('touchMove', [[x, y]]);
      }
      await touch('touchEnd', []);
      await poll(() => page.locator('.selection-chip').textContent()).toMatch(/^\d+ selected/);
      const selected = Number((await page.locator('.selection-chip span').first().textContent())!.split(' ')[0]);
      expect(selected).toBeGreaterThanOrEqual(2);
      await page.waitForTimeout(700);
      await page.getByRole('button', { name: 'clear the selection' }).tap();
      await poll(() => page.locator('.selection-chip').isVisible()).toBe(false);
    });

    it('opens an image by a tap: the sheet rises with its neighbours on the first screen', async () => {
      const id = ids.get('skimage/chelsea.png')!;
      const p = await position(page, id);
      await page.touchscreen.tap(p.x, p.y);
      await poll(() => page.locator('.image-panel .path').textContent()).toBe('skimage/chelsea.png');
      await poll(() => page.locator('.side').getAttribute('data-sheet')).toBe('half');
      await poll(() => page.locator('.image-panel .neighbours .thumb').count()).toBe(24);
      await page.waitForTimeout(400); // the sheet's move, and the map moving the image into sight
      await onFirstScreen(page, '.image-panel .neighbours .thumb');
      await noOverflow(page);
      // the image stays in sight above the sheet
      const q = await position(page, id);
      expect(q.y).toBeLessThan((await page.locator('.side').boundingBox())!.y);
      await shot(page, 'phone-02-image');
      // the handle lowers the sheet
      await page.getByRole('button', { name: 'resize the panel' }).tap();
      await poll(() => page.locator('.side').getAttribute('data-sheet')).toBe('peek');
    });

    it('searches from the top bar', async () => {
      await page.getByLabel('search images').fill('food');
      await poll(() => page.locator('.search-results .match .kind').allTextContents()).toEqual(['label', 'predicted']);
      await noOverflow(page);
      await shot(page, 'phone-03-search');
      await page.getByLabel('search images').fill('');
    });

    it('classifies the fake camera', async () => {
      await page.getByRole('tab', { name: 'Camera' }).tap();
      await poll(() => page.locator('.camera-panel').getAttribute('data-classified'), 60_000).not.toBeNull();
      expect(await page.locator('.camera-classes .bar-row').count()).toBe(5);
      // the camera takes the screen
      expect(await page.locator('.side').getAttribute('data-sheet')).toBe('full');
      await onFirstScreen(page, '.camera-classes .bar-row');
      await noOverflow(page);
      await shot(page, 'phone-04-camera');
      await page.getByRole('tab', { name: 'Image' }).tap();
    });

    it('trains and shows the most confident mistakes and the confusion matrix', async () => {
      // a new wrong label to find
      await api('POST', '/api/labels', { ids: [ids.get('opencv/building.jpg')], label: 'food' });
      await page.reload();
      await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 60_000 });
      await page.getByRole('tab', { name: 'Train' }).tap();
      expect(await page.locator('.side').getAttribute('data-sheet')).toBe('half');
      await page.waitForTimeout(300); // the sheet's move
      // drag the sheet's handle up: it snaps to full height
      const handle = (await page.getByRole('button', { name: 'resize the panel' }).boundingBox())!;
      const cdp = await page.context().newCDPSession(page);
      const [hx, hy] = [handle.x + handle.width / 2, handle.y + handle.height / 2];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [{ x: hx, y: hy, id: 1 }] });
      for (let k = 1; k <= 8; k++)
        await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: hx, y: hy - 40 * k, id: 1 }] });
      // held still before lifting the finger: a drag, not a flick (Chromium drops a tap right after a flick)
      await page.waitForTimeout(300);
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [{ x: hx, y: hy - 320, id: 1 }] });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      await poll(() => page.locator('.side').getAttribute('data-sheet')).toBe('full');
      await page.waitForTimeout(700);
      await page.getByRole('button', { name: 'Train', exact: true }).tap();
      await poll(() => page.locator('.train-report .accuracy').textContent(), 60_000).toMatch(/^accuracy/);
      await page.locator('.mistake').first().scrollIntoViewIfNeeded();
      expect(await page.locator(`.mistake[data-id="${ids.get('opencv/building.jpg')}"]`).count()).toBe(1);
      await noOverflow(page);
      await shot(page, 'phone-05-mistakes');
      await page.getByRole('button', { name: /labelled food predicted outdoor/ }).tap();
      await page.locator('.cell-images .thumb').first().waitFor({ state: 'visible' });
      await page.locator('.cell-images').scrollIntoViewIfNeeded();
      await noOverflow(page);
      await shot(page, 'phone-06-confusion');
    });

    it('lists jobs and the index form', async () => {
      await page.getByRole('tab', { name: 'Jobs' }).tap();
      await page.locator('.job').first().waitFor({ state: 'visible' });
      await noOverflow(page);
      await shot(page, 'phone-07-jobs');
      await page.context().close();
    });

    it('fits a 360 px screen too', async () => {
      const small = await newPage('phone', 360);
      await small.goto(url);
      await small.waitForSelector('.map-pane[data-ready="true"]', { timeout: 120_000 });
      await noOverflow(small);
      await onFirstScreen(small, '.tabs [data-tab="jobs"]');
      await small.getByRole('tab', { name: 'Train' }).tap();
      await noOverflow(small);
      await small.context().close();
      expect(problems).toEqual([]);
    });
  });

  describe('with an empty collection and no folder to index', () => {
    it('says what to do everywhere, and nothing fails', async () => {
      const empty = await createServer({ db: join(dir, 'empty.db'), port: 0, webDir, uploadsDir: null });
      try {
        const page = await newPage('phone');
        await page.goto(await empty.listen());
        await poll(() => page.locator('.map-pane').getAttribute('data-status')).toBe('empty');
        expect(await page.locator('.map-status').textContent()).toMatch(/The collection is empty\. Index a folder with "convlens index/);
        await noOverflow(page);
        await shot(page, 'phone-08-empty');
        await page.getByRole('tab', { name: 'Jobs' }).tap();
        expect(await page.locator('.jobs-panel form').isVisible()).toBe(false);
        expect(await page.locator('.index-message').textContent()).toMatch(/--allow-root DIR/);
        expect(await page.getByRole('button', { name: 'Compute map' }).isDisabled()).toBe(true);
        await page.getByRole('tab', { name: 'Grid' }).tap();
        await poll(() => page.locator('.grid .empty').textContent()).toMatch(/The collection is empty/);
        await page.getByRole('tab', { name: 'Train' }).tap();
        expect(await page.locator('.train-report .empty').textContent()).toMatch(/Label some images/);
        expect(await page.getByRole('button', { name: 'Train', exact: true }).isDisabled()).toBe(true);
        await page.context().close();
      } finally {
        await empty.close();
      }
      expect(problems).toEqual([]);
    });
  });
});
