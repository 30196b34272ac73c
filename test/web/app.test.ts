/**
 * The web app end to end in Debian's Chromium (playwright-core, no downloaded browser): the map
 * (zoom, click an image, its neighbours, metric and threshold, class search), query by image,
 * labelling by lasso and by checkboxes then training, and an index job with live progress.
 * Screenshots go to test-artifacts/web/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageList } from '../../src/server/schemas.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { EXAMPLES } from '../helpers/paths.js';
import { ARTIFACTS, buildWeb, hasChromium, indexedExamples, launchChromium, removeTempDirs, tempDir } from '../server/helpers.js';

const enabled = hasChromium();
type Context = Awaited<ReturnType<typeof launchChromium>>;
type Page = Awaited<ReturnType<Context['newPage']>>;

describe.skipIf(!enabled)('web app in Chromium', () => {
  const dir = tempDir('web-e2e');
  const allowed = join(dir, 'allowed');
  let server: ConvlensServer;
  let url: string;
  let browser: Context;
  let page: Page;
  const problems: string[] = [];
  const ids = new Map<string, number>();

  /** playwright-core has no web-first assertions: poll with vitest's instead */
  const poll = <T>(fn: () => Promise<T> | T, timeout = 20_000) => expect.poll(fn, { timeout, interval: 100 });
  const text = (selector: string) => () => page.locator(selector).first().textContent();
  const count = (selector: string) => () => page.locator(selector).count();
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  const position = async (id: number): Promise<{ x: number; y: number }> => {
    const p = (await page.evaluate(`window.convlensMap.screenPositionOf(${id})`)) as { x: number; y: number } | null;
    expect(p, `image ${id} is on screen`).not.toBeNull();
    return p!;
  };

  beforeAll(async () => {
    const [webDir, db] = await Promise.all([buildWeb(), indexedExamples(dir)]);
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
    browser = await launchChromium();
    page = await browser.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    removeTempDirs();
  });

  it('opens the map (computing it on first visit), zooms, and shows an image with its neighbours', async () => {
    await page.goto(url);
    await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 90_000 });
    expect(await page.evaluate('window.convlensMap.pointCount')).toBe(44);
    await shot('01-map');

    const box = (await page.locator('.map-pane canvas.convlens-map-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, -400);
    await poll(() => page.evaluate('window.convlensMap.zoom') as Promise<number>).toBeGreaterThan(1.5);
    await shot('02-zoomed');
    await page.getByRole('button', { name: 'Fit' }).click();

    const cat = ids.get('skimage/chelsea.png')!;
    const p = await position(cat);
    await page.mouse.click(p.x, p.y);
    await poll(text('.image-panel .path')).toBe('skimage/chelsea.png');
    await poll(text('.top5 .bar-caption')).toBe('Egyptian_cat');
    await poll(count('.neighbours .thumb')).toBe(24);
    const cosine = Number(await page.locator('.neighbours .score').first().textContent());
    expect(cosine).toBeGreaterThan(0);
    expect(cosine).toBeLessThan(1);
    await poll(count('svg.histogram rect')).toBe(40);
    await shot('03-image');

    await page.getByLabel('Euclidean').check();
    await poll(async () => Number(await text('.neighbours .score')())).toBeGreaterThan(1);
    await page.getByLabel('Cosine').check();
    await page.getByLabel('Threshold', { exact: true }).check();
    await page.locator('input[aria-label="threshold"]').fill('0.3');
    await poll(count('.neighbours .thumb')).toBeLessThan(24);
    const scores = (await page.locator('.neighbours .score').allTextContents()).map(Number);
    expect(scores.every((s) => s >= 0.3)).toBe(true);
    await poll(count('svg.histogram line[stroke-dasharray]')).toBe(1);
    await shot('04-threshold');

    // a neighbour opens in its turn
    await page.locator('.neighbours .thumb').first().click();
    await poll(text('.image-panel .path')).not.toBe('skimage/chelsea.png');
  });

  it('highlights the images of a class typed in the search box', async () => {
    await page.getByLabel('search by class name').fill('moped');
    await poll(text('.search-info')).toMatch(/^2 images/);
    await shot('05-search');
    await page.getByLabel('search by class name').fill('');
    await poll(text('.search-info')).toBe('');
  });

  it('classifies an uploaded photo and shows its neighbours', async () => {
    await page.getByRole('button', { name: 'Query' }).click();
    const photo = join(dir, 'my cat.jpg');
    await sharp(join(EXAMPLES, 'skimage', 'chelsea.png'))
      .flop()
      .jpeg()
      .toFile(photo);
    await page.getByLabel('image to query').setInputFiles(photo);
    await poll(text('.predictions .bar-caption'), 60_000).toBe('Egyptian_cat');
    await poll(count('.query-result .neighbours .thumb')).toBe(12);
    await shot('06-query');
  });

  it('labels images by lasso and by checkboxes, trains a head, and colours the map by its predictions', async () => {
    await page.getByRole('button', { name: 'Fit' }).click();
    // lasso around the two motorcycles
    const a = await position(ids.get('skimage/motorcycle_left.png')!);
    const b = await position(ids.get('skimage/motorcycle_right.png')!);
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
    await page.getByRole('button', { name: 'Label & train' }).click();
    const lassoed = Number((await page.locator('.selection-info').textContent())!.split(' ')[0]);
    expect(lassoed).toBeGreaterThanOrEqual(2);
    await shot('07-lasso');
    await page.getByLabel('label', { exact: true }).fill('bikes');
    await page.getByRole('button', { name: 'Label selection' }).click();
    await poll(() => page.locator('.label-count').allTextContents()).toEqual([`bikes · ${lassoed}`]);

    // checkboxes in the grid: three food photos
    await page.getByRole('button', { name: 'Grid' }).click();
    for (const name of ['skimage/coffee.png', 'opencv/orange.jpg', 'opencv/apple.jpg']) {
      await page.getByLabel('filter by class').fill('');
      await page.locator(`.grid .thumb[data-id="${ids.get(name)}"] input.check`).check();
    }
    await page.getByRole('button', { name: 'Label & train' }).click();
    await poll(text('.selection-info')).toBe('3 images selected');
    await page.getByLabel('label', { exact: true }).fill('food');
    await page.getByRole('button', { name: 'Label selection' }).click();
    await poll(count('.label-count')).toBe(2);

    await page.getByLabel('head').selectOption('knn');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await poll(text('.train-report .accuracy'), 60_000).toMatch(/^accuracy/);
    expect(await page.locator('.job-progress').getAttribute('data-state')).toBe('done');
    await shot('08-trained');
    await page.getByRole('button', { name: 'Colour the map by prediction' }).click();
    expect(await page.getByLabel('colour by').inputValue()).toBe('prediction');
    const legend = await page.locator('.map-pane .cl-legend-row span:nth-child(2)').allTextContents();
    expect(legend.sort()).toEqual(['bikes', 'food']);
    await shot('09-predictions');
  });

  it('starts an index job under an allowed root and follows its progress while the app stays usable', async () => {
    await page.getByRole('button', { name: 'Jobs' }).click();
    await page.getByLabel('folder').fill('more');
    await page.getByRole('button', { name: 'Index', exact: true }).click();
    await page.locator('.job[data-kind="index"]').first().waitFor({ state: 'visible' });
    await shot('10-index-job');
    // meanwhile the rest of the app answers
    await page.getByRole('button', { name: 'Grid' }).click();
    await page.locator('.grid .thumb').first().waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Jobs' }).click();
    await poll(() => page.locator('.job[data-kind="index"]').first().getAttribute('data-state'), 90_000).toBe('done');
    await poll(text('.job[data-kind="index"] .bar-value')).toBe('8/8');
    await poll(text('.stats')).toMatch(/^52 images/);
    await poll(text('.banner')).toMatch(/The collection changed/);
    await shot('11-indexed');
    await page.getByRole('button', { name: 'Recompute the map' }).click();
    await poll(() => page.evaluate('window.convlensMap.pointCount'), 90_000).toBe(52);
    await page.waitForSelector('.map-pane[data-ready="true"]', { timeout: 90_000 });
    await shot('12-new-map');
    expect(problems).toEqual([]);
  });
});
