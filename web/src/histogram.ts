/** The similarity histogram of the image view (seed Figure 6), as inline SVG. */
import type { HistogramResult } from './api.js';

const NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function histogramSvg(hist: HistogramResult, threshold: number | null, width = 380, height = 130): SVGSVGElement {
  const pad = { l: 8, r: 8, t: 8, b: 22 };
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', class: 'histogram', role: 'img' });
  const lo = hist.edges[0]!;
  const hi = hist.edges[hist.edges.length - 1]!;
  const x = (v: number): number => pad.l + ((v - lo) / (hi - lo || 1)) * (width - pad.l - pad.r);
  const top = Math.max(1, ...hist.counts);
  const y = (c: number): number => height - pad.b - (c / top) * (height - pad.t - pad.b);
  const passes = (v: number): boolean => threshold !== null && (hist.metric === 'cosine' ? v >= threshold : v <= threshold);
  hist.counts.forEach((c, i) => {
    const x0 = x(hist.edges[i]!);
    const x1 = x(hist.edges[i + 1]!);
    const mid = (hist.edges[i]! + hist.edges[i + 1]!) / 2;
    root.append(
      svg('rect', {
        x: x0 + 0.5,
        y: y(c),
        width: Math.max(0.5, x1 - x0 - 1),
        height: height - pad.b - y(c),
        fill: passes(mid) ? '#ff7f0e' : '#1f77b4',
      }),
    );
  });
  root.append(svg('line', { x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b, stroke: '#999' }));
  const label = (v: number, anchor: string): SVGTextElement => {
    const t = svg('text', { x: x(v), y: height - 6, 'text-anchor': anchor, 'font-size': 11, fill: '#555' });
    t.textContent = v.toFixed(hist.metric === 'cosine' ? 2 : 1);
    return t;
  };
  root.append(label(lo, 'start'), label(hi, 'end'));
  if (hist.sample) {
    // a large collection: say the bars are estimates from a sample
    const note = svg('text', { x: width / 2, y: height - 6, 'text-anchor': 'middle', 'font-size': 10, fill: '#777' });
    note.textContent = `sample of ${hist.sample.size.toLocaleString()} · ±${hist.sample.margin.toLocaleString()} per bar`;
    root.append(note);
  }
  const mean = svg('line', { x1: x(hist.mean), x2: x(hist.mean), y1: pad.t, y2: height - pad.b, stroke: '#2ca02c', 'stroke-width': 1.5 });
  const meanTitle = svg('title', {});
  meanTitle.textContent = `mean ${hist.mean.toFixed(3)}`;
  mean.append(meanTitle);
  root.append(mean);
  if (threshold !== null) {
    root.append(
      svg('line', {
        x1: x(threshold),
        x2: x(threshold),
        y1: pad.t,
        y2: height - pad.b,
        stroke: '#d62728',
        'stroke-width': 1.5,
        'stroke-dasharray': '4 3',
      }),
    );
  }
  return root;
}

/** Images past a threshold, counted from the bins (exact at bin edges, else approximate). */
export function countPassing(hist: HistogramResult, threshold: number): number {
  let n = 0;
  hist.counts.forEach((c, i) => {
    const mid = (hist.edges[i]! + hist.edges[i + 1]!) / 2;
    if (hist.metric === 'cosine' ? mid >= threshold : mid <= threshold) n += c;
  });
  return n;
}
