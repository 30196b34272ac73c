import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matrix, Random } from '../../src/core/index.js';
import { autoPointStyle, scatterSvg, svgToPng } from '../../src/plot/index.js';
import { ARTIFACTS, byClass, clusters, findAll, parseXml, pngStats } from './helpers.js';

function circlesIn(svg: string): number {
  const doc = parseXml(svg);
  const g = findAll(doc, byClass('points'))[0]!;
  return g.children.filter((c) => c.name === 'circle').length;
}

describe('scatterSvg', () => {
  it('draws one dot per point and a legend entry per category, with counts', async () => {
    const { xy, labels } = clusters(new Random(1), 750, 5);
    const withNull = labels.map((l, i) => (i % 25 === 0 ? null : l));
    const svg = scatterSvg(matrix(750, 2, xy), { labels: withNull, title: 't-SNE of 750 images', subtitle: 'perplexity 30' });
    const doc = parseXml(svg);
    expect(doc.name).toBe('svg');
    expect(circlesIn(svg)).toBe(750);
    const entries = findAll(doc, byClass('legend-entry'));
    expect(entries).toHaveLength(6);
    const texts = entries.map((e) => e.children.find((c) => c.name === 'text')!.text);
    expect(texts).toContain('unlabelled (30)');
    expect(texts.filter((t) => /^class \d \(\d+\)$/.test(t))).toHaveLength(5);
    expect(findAll(doc, byClass('title'))[0]!.text).toBe('t-SNE of 750 images');

    const png = await svgToPng(svg);
    const s = await pngStats(png);
    expect([s.width, s.height]).toEqual([1200, 900]);
    expect(s.nonWhite).toBeGreaterThan(0.02);
    await writeFile(join(ARTIFACTS, 'scatter-750.png'), png);
  });

  it('groups many categories beyond the top 20 as "other"', () => {
    const { xy, labels } = clusters(new Random(2), 3000, 45);
    const svg = scatterSvg(matrix(3000, 2, xy), { labels });
    const entries = findAll(parseXml(svg), byClass('legend-entry'));
    expect(entries).toHaveLength(21);
    expect(entries[20]!.children.find((c) => c.name === 'text')!.text).toMatch(/^other: 25 classes \(\d+\)$/);
  });

  it('escapes user text in titles and labels', async () => {
    const pts = matrix(3, 2, Float32Array.from([0, 0, 1, 1, 2, 0]));
    const evil = `</text><script>x</script> & "q" \u0007`;
    const svg = scatterSvg(pts, { labels: [evil, 'b<c', null], title: evil, xLabel: 'x & y' });
    const doc = parseXml(svg);
    expect(findAll(doc, (e) => e.name === 'script')).toHaveLength(0);
    expect(findAll(doc, byClass('title'))[0]!.text).toBe(evil.replace('\u0007', '\uFFFD'));
    // librsvg parses it too
    const s = await pngStats(await svgToPng(svg, { width: 300 }));
    expect(s.width).toBe(300);
  });

  it('is deterministic and handles a single point, identical points and no labels', () => {
    const { xy } = clusters(new Random(3), 200, 3);
    const m = matrix(200, 2, xy);
    expect(scatterSvg(m)).toBe(scatterSvg(m));
    expect(findAll(parseXml(scatterSvg(m)), byClass('legend'))).toHaveLength(0);
    expect(circlesIn(scatterSvg(matrix(1, 2, Float32Array.from([5, 5]))))).toBe(1);
    const same = scatterSvg(matrix(4, 2, new Float32Array(8).fill(3)));
    const cx = findAll(parseXml(same), (e) => e.name === 'circle').map((c) => c.attrs.cx);
    expect(new Set(cx).size).toBe(1);
  });

  it('rejects bad input with coded errors', () => {
    expect(() => scatterSvg(matrix(2, 3))).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
    expect(() => scatterSvg(matrix(2, 2, Float32Array.from([0, NaN, 1, 1])))).toThrow(/point 0/);
    expect(() => scatterSvg(matrix(2, 2), { labels: ['a'] })).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
    expect(() => scatterSvg(matrix(2, 2), { width: 5 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('scales dots and opacity from 10 to 50 000 points', () => {
    const small = autoPointStyle(10, 1000);
    const mid = autoPointStyle(1000, 1000);
    const big = autoPointStyle(50000, 1000);
    expect(small.radius).toBeGreaterThan(mid.radius);
    expect(mid.radius).toBeGreaterThan(big.radius);
    expect(small.radius).toBeLessThanOrEqual(12);
    expect(big.radius).toBeGreaterThanOrEqual(0.6);
    expect(big.alpha).toBeLessThan(mid.alpha);
    expect(big.alpha).toBeGreaterThanOrEqual(0.35);
  });

  it('renders 50 000 points at 4000 px with readable text', async () => {
    const { xy, labels } = clusters(new Random(4), 50000, 30, 12);
    const svg = scatterSvg(matrix(50000, 2, xy), { labels, title: 'UMAP of 50 000 images', width: 4000, height: 3000 });
    expect(circlesIn(svg)).toBe(50000);
    const png = await svgToPng(svg);
    const s = await pngStats(png);
    expect([s.width, s.height]).toEqual([4000, 3000]);
    expect(s.stdev).toBeGreaterThan(10);
    await writeFile(join(ARTIFACTS, 'scatter-50k-4000px.png'), png);
  });
});
