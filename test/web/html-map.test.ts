/**
 * The standalone HTML map: one self-contained file (viewer, data and atlas inlined) that opens in
 * Chromium from disk with no console errors, shows the hover card, and pans and zooms over 20 000
 * thumbnails (frame times are printed, not asserted: machines differ).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAtlas, mapHtml, type Atlas, type HtmlMapPoint } from '../../src/atlas/index.js';
import { Random } from '../../src/core/random.js';
import { imagenetClasses } from '../../src/imagenet/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { ARTIFACTS, buildWeb, hasChromium, launchChromium, removeTempDirs, syntheticStore, tempDir } from '../server/helpers.js';

const enabled = hasChromium();
type Context = Awaited<ReturnType<typeof launchChromium>>;

/** An atlas of n flat-colour tiles, built directly (fast) for the 20 000-image map. */
async function colourAtlas(n: number, tile = 32, maxSize = 4096): Promise<Atlas> {
  const columns = maxSize / tile;
  const perPage = columns * columns;
  const colors = new Uint32Array(n);
  const pages: Atlas['pages'] = [];
  for (let start = 0; start < n; start += perPage) {
    const count = Math.min(perPage, n - start);
    const width = Math.min(count, columns) * tile;
    const height = Math.ceil(count / columns) * tile;
    const raw = Buffer.alloc(width * height * 3);
    for (let i = 0; i < count; i++) {
      const t = start + i;
      const rgb = [(t * 37) % 256, (t * 91) % 256, (t * 151) % 256];
      colors[t] = (rgb[0]! << 16) | (rgb[1]! << 8) | rgb[2]!;
      const x0 = (i % columns) * tile;
      const y0 = Math.floor(i / columns) * tile;
      for (let y = 2; y < tile - 2; y++) for (let x = 2; x < tile - 2; x++) raw.set(rgb, ((y0 + y) * width + x0 + x) * 3);
    }
    const data = await sharp(raw, { raw: { width, height, channels: 3 } })
      .webp({ quality: 70 })
      .toBuffer();
    pages.push({ width, height, count, data, mime: 'image/webp' });
  }
  return { tile, columns, perPage, ids: Int32Array.from({ length: n }, (_, i) => i + 1), colors, pages };
}

describe.skipIf(!enabled)('standalone HTML map in Chromium', () => {
  const dir = tempDir('html-map');
  let viewerDir: string;
  let browser: Context;

  beforeAll(async () => {
    viewerDir = join(await buildWeb(true), 'viewer');
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    removeTempDirs();
  });

  async function open(file: string) {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) problems.push(`network request: ${r.url()}`);
    });
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    return { page, problems };
  }

  it('maps a collection from its database: thumbnails from the atlas, hover card with path and prediction', async () => {
    const db = join(dir, 'c.db');
    await syntheticStore(db, join(dir, 'photos'), 300, { dim: 16 });
    const store = SqliteStore.open(db, { readonly: true });
    const { ids } = await store.embeddings();
    const rng = new Random(5);
    const points: HtmlMapPoint[] = [];
    for (const id of ids) {
      const row = (await store.image(id))!;
      const top = row.top5![0]!;
      points.push({
        id,
        x: rng.normal() * 10,
        y: rng.normal() * 10,
        path: row.path,
        prediction: imagenetClasses()[top.index]!.label,
        probability: top.probability,
      });
    }
    const atlas = await buildAtlas(ids, (id) => store.thumbnail(id), { tile: 32 });
    const html = mapHtml({ title: 'Test <map> & "friends"', points, atlas, colorBy: 'prediction', viewerDir });
    await store.close();
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>Test &lt;map&gt; &amp; &quot;friends&quot;</title>');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\//);
    expect(atlas.pages).toHaveLength(1);
    const file = join(dir, 'collection-map.html');
    writeFileSync(file, html);

    const { page, problems } = await open(file);
    expect(await page.evaluate('window.convlensMap.pointCount')).toBe(300);
    const id = ids[17]!;
    const p = (await page.evaluate(`window.convlensMap.screenPositionOf(${id})`)) as { x: number; y: number };
    await page.mouse.move(p.x, p.y);
    await page.locator('.cl-card').waitFor({ state: 'visible' });
    const card = await page.locator('.cl-card').textContent();
    expect(card).toMatch(/img\/\d{6}\.jpg/);
    expect(card).toMatch(/\d+\.\d%/);
    expect(await page.locator('.cl-legend-row').count()).toBeGreaterThan(5);
    await page.locator('.cl-search').fill('000017');
    expect(await page.locator('.cl-bar .cl-muted').last().textContent()).toBe('1 match');
    await page.screenshot({ path: join(ARTIFACTS, 'html-map-collection.png') });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('pans and zooms over 20 000 thumbnails in one self-contained file', async () => {
    const n = 20_000;
    const rng = new Random(9);
    const centres = Array.from({ length: 12 }, () => [rng.normal() * 30, rng.normal() * 30]);
    const classes = ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip', 'cat', 'dog', 'car', 'boat', 'plane', 'tree', 'house'];
    const points: HtmlMapPoint[] = Array.from({ length: n }, (_, i) => {
      const c = i % centres.length;
      return {
        id: i + 1,
        x: centres[c]![0]! + rng.normal() * 4,
        y: centres[c]![1]! + rng.normal() * 4,
        path: `/photos/${classes[c]}/${i}.jpg`,
        prediction: classes[c]!,
        probability: 0.5 + rng.next() / 2,
      };
    });
    const html = mapHtml({ title: '20 000 images', points, atlas: await colourAtlas(n), viewerDir });
    const file = join(dir, 'big-map.html');
    writeFileSync(file, html);
    const mb = readFileSync(file).length / 1e6;

    const { page, problems } = await open(file);
    expect(await page.evaluate('window.convlensMap.pointCount')).toBe(n);
    await page.screenshot({ path: join(ARTIFACTS, 'html-map-20k-fit.png') });
    const canvas = (await page.locator('canvas.convlens-map-canvas').boundingBox())!;
    const cx = canvas.x + canvas.width / 2;
    const cy = canvas.y + canvas.height / 2;
    const frames = async (): Promise<number[]> => (await page.evaluate('window.convlensMap.frameTimes.slice()')) as number[];
    await page.evaluate('window.convlensMap.frameTimes.length = 0');
    // the page's own frame intervals: what a person sees, raster included
    await page.evaluate(
      'window.intervals = []; ' +
        '(function loop(last) { requestAnimationFrame((t) => { window.intervals.push(t - last); loop(t); }); })(performance.now())',
    );
    await page.mouse.move(cx, cy);
    for (let i = 0; i < 12; i++) {
      await page.mouse.wheel(0, -120);
      await page.waitForTimeout(30);
    }
    expect(await page.evaluate('window.convlensMap.zoom')).toBeGreaterThan(4);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(ARTIFACTS, 'html-map-20k-zoomed.png') });
    await page.mouse.down();
    for (let i = 0; i < 10; i++) await page.mouse.move(cx - i * 20, cy - i * 10);
    await page.mouse.up();
    for (let i = 0; i < 12; i++) {
      await page.mouse.wheel(0, 120);
      await page.waitForTimeout(30);
    }
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(ARTIFACTS, 'html-map-20k-after.png') });
    const t = (await frames()).sort((a, b) => a - b);
    const iv = ((await page.evaluate('window.intervals.slice(1)')) as number[]).sort((a, b) => a - b);
    expect(t.length).toBeGreaterThan(10);
    const q = (a: number[], p: number): string => a[Math.min(a.length - 1, Math.floor(p * a.length))]!.toFixed(1);
    console.log(
      `HTML map, 20 000 thumbnails, ${mb.toFixed(1)} MB: while zooming and panning, ` +
        `drawing work per frame median ${q(t, 0.5)} ms, max ${q(t, 1)} ms; ` +
        `frame interval median ${q(iv, 0.5)} ms, p95 ${q(iv, 0.95)} ms (software canvas, headless, busy machine)`,
    );
    expect(problems).toEqual([]);
    await page.close();
  });
});
