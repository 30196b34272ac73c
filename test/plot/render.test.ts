import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { checkTextRendering, savePlot, svgToPng } from '../../src/plot/index.js';
import { FONT_FAMILY } from '../../src/plot/svg.js';
import { decodePng, pngStats } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convlens-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200"><rect width="300" height="200" fill="#fff"/><circle cx="150" cy="100" r="50" fill="#d62728"/></svg>`;

describe('svgToPng', () => {
  it('renders at the SVG size by default and at any requested width, keeping the aspect ratio', async () => {
    expect(await pngStats(await svgToPng(svg))).toMatchObject({ width: 300, height: 200 });
    for (const width of [1000, 4000, 333]) {
      const s = await pngStats(await svgToPng(svg, { width }));
      expect([s.width, s.height]).toEqual([width, Math.round((200 * width) / 300)]);
    }
    const big = await decodePng(await svgToPng(svg, { width: 3000 }));
    expect(big.at(1500, 1000)).toEqual([214, 39, 40]);
  });

  it('renders text crisply at high resolution rather than upscaling', async () => {
    const t = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="#fff"/><text x="5" y="30" font-size="24" font-family="${FONT_FAMILY}">Mg</text></svg>`;
    const png = await svgToPng(t, { width: 2000 });
    const { data } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
    // a vector render has almost only pure black and white; an upscaled bitmap a wide grey ramp
    let grey = 0;
    let ink = 0;
    for (const v of data) {
      if (v < 128) ink++;
      if (v > 40 && v < 215) grey++;
    }
    expect(ink).toBeGreaterThan(1000);
    expect(grey / ink).toBeLessThan(0.3);
  });

  it('rejects documents without a size and absurd widths', async () => {
    await expect(svgToPng('<svg xmlns="http://www.w3.org/2000/svg"/>')).rejects.toMatchObject({ code: 'E_BAD_INPUT' });
    await expect(svgToPng(svg, { width: 100000 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('savePlot', () => {
  it('writes .svg as text and .png as an image, by extension in any case', async () => {
    await savePlot(join(dir, 'a.svg'), svg);
    expect(readFileSync(join(dir, 'a.svg'), 'utf8')).toBe(svg);
    await savePlot(join(dir, 'b.PNG'), svg, { width: 600 });
    expect(await pngStats(readFileSync(join(dir, 'b.PNG')))).toMatchObject({ width: 600, height: 400 });
  });

  it('refuses other extensions with E_USAGE naming the file, and reports a missing folder', async () => {
    const bad = join(dir, 'plot.jpg');
    await expect(savePlot(bad, svg)).rejects.toMatchObject({ code: 'E_USAGE', file: bad, message: expect.stringContaining('plot.jpg') });
    await expect(savePlot(join(dir, 'noext'), svg)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(savePlot(join(dir, 'missing', 'x.svg'), svg)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('fonts', () => {
  it('renders real glyphs on this machine (else install fonts-dejavu-core)', async () => {
    const ok = await checkTextRendering();
    expect(ok, 'SVG text renders as empty boxes: no fonts found by fontconfig; install e.g. fonts-dejavu-core').toBe(true);
  });
});
