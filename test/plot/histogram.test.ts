import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/core/index.js';
import { computeHistogram, histogramSvg, svgToPng } from '../../src/plot/index.js';
import { ARTIFACTS, byClass, findAll, parseXml, pngStats } from './helpers.js';

describe('computeHistogram', () => {
  it('counts equal bins like numpy, the last bin including its right edge', () => {
    const h = computeHistogram([0, 0.1, 0.5, 0.99, 1, NaN, Infinity], { bins: 4, range: [0, 1] });
    expect(Array.from(h.edges)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(h.counts)).toEqual([2, 0, 1, 2]);
    expect(h.total).toBe(5);
    expect(h.ignored).toBe(2);
  });

  it('puts values that sit on an edge in the bin that starts there', () => {
    // 0.1 * 3 is not exactly 0.3 in floating point: bins must follow the edges, not the division
    const values = [0, 0.3, 0.6, 0.7, 1];
    const h = computeHistogram(values, { bins: 10, range: [0, 1] });
    for (let i = 0; i < 10; i++) {
      const [lo, hi] = [h.edges[i]!, h.edges[i + 1]!];
      expect(h.counts[i]).toBe(values.filter((v) => v >= lo && (v < hi || i === 9)).length);
    }
    expect(h.total).toBe(5);
  });

  it('takes explicit edges and leaves out values outside them', () => {
    const h = computeHistogram([-1, 0, 1, 2, 5, 9, 10, 11], { bins: [0, 1, 5, 10] });
    expect(Array.from(h.counts)).toEqual([1, 2, 3]);
    expect(h.ignored).toBe(2);
    expect(() => computeHistogram([1], { bins: [0, 0] })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => computeHistogram([1], { bins: 0 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('picks a sensible bin count automatically and copes with constant or empty data', () => {
    const rng = new Random(1);
    const v = Float32Array.from({ length: 10000 }, () => rng.normal());
    const h = computeHistogram(v);
    expect(h.counts.length).toBeGreaterThan(20);
    expect(h.counts.length).toBeLessThanOrEqual(200);
    expect(h.total).toBe(10000);
    expect(computeHistogram([3, 3, 3]).total).toBe(3);
    expect(computeHistogram([]).total).toBe(0);
  });
});

describe('histogramSvg', () => {
  const rng = new Random(7);
  const sims = Float32Array.from({ length: 5000 }, () => Math.tanh(0.3 + 0.35 * rng.normal()));
  const mean = sims.reduce((a, b) => a + b, 0) / sims.length;

  it('draws one bar per non-empty bin, marker lines with labels, and renders', async () => {
    const svg = histogramSvg(sims, {
      bins: 40,
      title: 'Cosine similarity to "chelsea.png" & others',
      xLabel: 'cosine similarity',
      markers: [
        { value: 0.5, label: 'cos = 0.5' },
        { value: mean, label: `mean ${mean.toFixed(2)}` },
      ],
    });
    const doc = parseXml(svg);
    const nonEmpty = Array.from(computeHistogram(sims, { bins: 40 }).counts).filter((c) => c > 0).length;
    expect(findAll(doc, byClass('bar'))).toHaveLength(nonEmpty);
    const markers = findAll(doc, byClass('marker'));
    expect(markers).toHaveLength(2);
    expect(markers[0]!.children.find((c) => c.name === 'text')!.text).toBe('cos = 0.5');
    expect(findAll(doc, byClass('title'))[0]!.text).toBe('Cosine similarity to "chelsea.png" & others');

    const png = await svgToPng(svg, { width: 2000 });
    const s = await pngStats(png);
    expect([s.width, s.height]).toEqual([2000, 1200]);
    expect(s.nonWhite).toBeGreaterThan(0.1);
    await writeFile(join(ARTIFACTS, 'histogram-similarity.png'), png);
  });

  it('has a log-scale option whose bars keep single counts visible', async () => {
    // zero fraction of representations: most near 0.4, a thin tail
    const zf = Float32Array.from({ length: 3000 }, (_, i) =>
      i < 10 ? 0.9 + i * 0.005 : Math.min(1, Math.max(0, 0.4 + 0.05 * rng.normal())),
    );
    const svg = histogramSvg(zf, {
      bins: 50,
      range: [0, 1],
      logY: true,
      title: 'Zero fraction of representations',
      xLabel: 'fraction of zeros',
    });
    const doc = parseXml(svg);
    const bars = findAll(doc, byClass('bar'));
    const heights = bars.map((b) => Number(b.attrs.height));
    expect(Math.min(...heights)).toBeGreaterThan(5); // count 1 still has a visible bar
    const yLabels = findAll(doc, byClass('y-axis'))[0]!
      .children.filter((c) => c.name === 'text')
      .map((t) => t.text);
    expect(yLabels.slice(0, 3)).toEqual(['1', '10', '100']);
    const png = await svgToPng(svg);
    await writeFile(join(ARTIFACTS, 'histogram-zero-fraction-log.png'), png);
    expect((await pngStats(png)).stdev).toBeGreaterThan(10);
  });
});
