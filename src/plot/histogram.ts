/**
 * Histograms: the similarity distribution of one image to all others (seed Figure 6) and the
 * zero fraction of representations (seed Figure 2), with optional marker lines (a threshold,
 * the mean) and a log-scale y axis.
 */
import { ConvlensError } from '../core/index.js';
import { linearScale, logScale, niceTicks, tickLabel, type Scale } from './axes.js';
import { categoricalPalette } from './palette.js';
import { baseFontSize, checkSize, line, num, rect, svgOpen, text, textWidth, truncate } from './svg.js';

export interface HistogramData {
  /** bins + 1 increasing bin edges; the last bin includes its right edge (as numpy). */
  edges: Float64Array;
  counts: Float64Array;
  /** Values counted. */
  total: number;
  /** Values left out: non-finite or outside the range. */
  ignored: number;
}

export interface BinOptions {
  /** Number of equal bins, or explicit increasing edges. Default: numpy's 'auto' rule, 1..200 bins. */
  bins?: number | ArrayLike<number>;
  /** Value range for equal bins (default: min and max of the finite values). */
  range?: [number, number];
}

export function computeHistogram(values: ArrayLike<number>, options: BinOptions = {}): HistogramData {
  const finite = new Float64Array(values.length);
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) finite[m++] = v;
  }
  const vals = finite.subarray(0, m);
  const edges = binEdges(vals, options);
  const nb = edges.length - 1;
  const lo = edges[0]!;
  const hi = edges[nb]!;
  const counts = new Float64Array(nb);
  const uniform = typeof options.bins !== 'object';
  let total = 0;
  for (let i = 0; i < m; i++) {
    const v = vals[i]!;
    if (v < lo || v > hi) continue;
    let b: number;
    if (uniform) {
      b = Math.min(nb - 1, Math.floor(((v - lo) / (hi - lo)) * nb));
      // the bin must agree with the edges (0.1 * 3 is not 0.3), whatever the division rounded to
      if (v < edges[b]!) b--;
      else if (b < nb - 1 && v >= edges[b + 1]!) b++;
    } else {
      // last edge <= v, by binary search
      let a = 0;
      let z = nb;
      while (z - a > 1) {
        const mid = (a + z) >> 1;
        if (edges[mid]! <= v) a = mid;
        else z = mid;
      }
      b = a;
    }
    counts[b]++;
    total++;
  }
  return { edges, counts, total, ignored: values.length - total };
}

function binEdges(vals: Float64Array, options: BinOptions): Float64Array {
  const bins = options.bins;
  if (bins !== undefined && typeof bins !== 'number') {
    const e = Float64Array.from(bins as ArrayLike<number>);
    if (e.length < 2 || e.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= e[i - 1]!))) {
      throw new ConvlensError('E_USAGE', 'histogram: bin edges must be at least two finite, increasing numbers');
    }
    return e;
  }
  let lo: number;
  let hi: number;
  if (options.range) {
    [lo, hi] = options.range;
    if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo)) {
      throw new ConvlensError('E_USAGE', `histogram: range [${lo}, ${hi}] must be finite and increasing`);
    }
  } else {
    lo = Infinity;
    hi = -Infinity;
    for (const v of vals) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (vals.length === 0) [lo, hi] = [0, 1];
    if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  }
  let nb: number;
  if (bins !== undefined) {
    if (!Number.isInteger(bins) || bins < 1) throw new ConvlensError('E_USAGE', `histogram: bins must be a positive integer (got ${bins})`);
    nb = bins;
  } else {
    nb = autoBinCount(vals, lo, hi);
  }
  const e = new Float64Array(nb + 1);
  for (let i = 0; i <= nb; i++) e[i] = lo + ((hi - lo) * i) / nb;
  e[nb] = hi;
  return e;
}

/** numpy's 'auto': the smaller bin width of Freedman–Diaconis and Sturges, capped to 200 bins. */
function autoBinCount(vals: Float64Array, lo: number, hi: number): number {
  const n = vals.length;
  if (n < 2) return 1;
  const sturges = (hi - lo) / (Math.log2(n) + 1);
  const sorted = Float64Array.from(vals).sort();
  const q = (p: number): number => {
    const x = p * (n - 1);
    const i = Math.floor(x);
    return sorted[i]! + (sorted[Math.min(n - 1, i + 1)]! - sorted[i]!) * (x - i);
  };
  const fd = (2 * (q(0.75) - q(0.25))) / Math.cbrt(n);
  const width = fd > 0 ? Math.min(fd, sturges) : sturges;
  return Math.max(1, Math.min(200, Math.ceil((hi - lo) / width)));
}

export interface Marker {
  value: number;
  /** Shown next to the line, e.g. "cos = 0.5" or "mean 0.31". */
  label?: string;
  color?: string;
  /** Dashed line (default true). */
  dashed?: boolean;
}

export interface HistogramOptions extends BinOptions {
  title?: string;
  subtitle?: string;
  xLabel?: string;
  /** Default "count". */
  yLabel?: string;
  /** Logarithmic count axis: rare values in long tails stay visible. */
  logY?: boolean;
  markers?: readonly Marker[];
  /** Canvas size in px (default 1000 × 600). */
  width?: number;
  height?: number;
  /** Bar colour (default matplotlib blue). */
  color?: string;
}

/** Histogram of `values` as an SVG document (non-finite values are left out). */
export function histogramSvg(values: ArrayLike<number>, options: HistogramOptions = {}): string {
  return histogramDataSvg(computeHistogram(values, options), options);
}

/** Histogram of already binned data as an SVG document. */
export function histogramDataSvg(h: HistogramData, options: HistogramOptions = {}): string {
  const W = checkSize('width', options.width ?? 1000);
  const H = checkSize('height', options.height ?? Math.round(W * 0.6));
  const fs = baseFontSize(W, H);
  const margin = fs;
  const markers = (options.markers ?? []).filter((m) => Number.isFinite(m.value));
  const nb = h.counts.length;
  const logY = options.logY ?? false;
  let maxCount = 0;
  for (const c of h.counts) maxCount = Math.max(maxCount, c);

  // y domain and ticks
  let yTicks: number[];
  let yDomain: [number, number];
  if (logY) {
    const top = Math.max(10, maxCount * 2);
    yDomain = [0.5, top];
    yTicks = [];
    for (let t = 1; t <= top; t *= 10) yTicks.push(t);
  } else {
    const ticks = niceTicks(0, Math.max(1, maxCount), 6);
    const top = Math.max(ticks[ticks.length - 1]!, maxCount * 1.05);
    yDomain = [0, top];
    yTicks = ticks;
  }

  // x domain: the bins, widened to show markers outside them, with a small margin
  let x0 = h.edges[0]!;
  let x1 = h.edges[nb]!;
  for (const m of markers) {
    x0 = Math.min(x0, m.value);
    x1 = Math.max(x1, m.value);
  }
  const pad = (x1 - x0) * 0.02;
  x0 -= pad;
  x1 += pad;
  const xTicks = niceTicks(x0, x1, Math.max(3, Math.round(W / (fs * 7))));

  const parts: string[] = [svgOpen(W, H)];
  let top = margin;
  if (options.title) {
    parts.push(
      text(W / 2, top, truncate(options.title, 1.3 * fs, W - 2 * margin), {
        size: 1.3 * fs,
        anchor: 'middle',
        weight: 'bold',
        baseline: 'hanging',
        className: 'title',
      }),
    );
    top += 1.3 * fs * 1.4;
  }
  if (options.subtitle) {
    parts.push(
      text(W / 2, top, truncate(options.subtitle, 0.9 * fs, W - 2 * margin), {
        size: 0.9 * fs,
        anchor: 'middle',
        baseline: 'hanging',
        fill: '#555555',
        className: 'subtitle',
      }),
    );
    top += 0.9 * fs * 1.5;
  }
  top += 0.5 * fs;
  const tickFs = 0.85 * fs;
  const yLabelW = Math.max(...yTicks.map((t) => textWidth(tickLabel(t), tickFs)));
  const left = margin + 1.6 * fs + yLabelW + 0.5 * fs;
  const bottom = H - margin - 1.6 * fs - 1.5 * tickFs;
  const right = W - margin - 0.5 * fs;
  const box = { x: left, y: top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
  const sx = linearScale(x0, x1, box.x, box.x + box.width);
  const sy: Scale = logY
    ? logScale(yDomain[0], yDomain[1], box.y + box.height, box.y)
    : linearScale(yDomain[0], yDomain[1], box.y + box.height, box.y);
  const thin = num(Math.max(1, fs / 16));

  // grid and y ticks
  parts.push('<g class="y-axis">');
  for (const t of yTicks) {
    const y = sy(t);
    parts.push(
      `<line x1="${num(box.x)}" x2="${num(box.x + box.width)}" y1="${num(y)}" y2="${num(y)}" stroke="#e6e6e6" stroke-width="${thin}"/>`,
    );
    parts.push(text(box.x - 0.4 * fs, y, tickLabel(t), { size: tickFs, anchor: 'end', baseline: 'middle', fill: '#444444' }));
  }
  parts.push('</g>');

  // bars
  const color = options.color ?? categoricalPalette(1)[0]!;
  const base = sy(yDomain[0]);
  const barEdge = sx(h.edges[1]!) - sx(h.edges[0]!) > 6 ? ` stroke="#ffffff" stroke-width="${thin}"` : '';
  parts.push(`<g class="bars" fill="${color}"${barEdge}>`);
  for (let b = 0; b < nb; b++) {
    const c = h.counts[b]!;
    if (c <= 0) continue;
    const xa = sx(h.edges[b]!);
    const xb = sx(h.edges[b + 1]!);
    const y = sy(c);
    parts.push(
      `<rect class="bar" x="${num(xa, 2)}" y="${num(y, 2)}" width="${num(Math.max(0.5, xb - xa), 2)}" height="${num(base - y, 2)}"/>`,
    );
  }
  parts.push('</g>');

  // frame and x ticks
  parts.push(rect(box.x, box.y, box.width, box.height, `fill="none" stroke="#888888" stroke-width="${thin}"`));
  parts.push('<g class="x-axis">');
  const tickLen = 0.35 * fs;
  for (const t of xTicks) {
    const x = sx(t);
    const y = box.y + box.height;
    parts.push(`<line x1="${num(x)}" x2="${num(x)}" y1="${num(y)}" y2="${num(y + tickLen)}" stroke="#888888" stroke-width="${thin}"/>`);
    parts.push(text(x, y + tickLen + 0.2 * fs, tickLabel(t), { size: tickFs, anchor: 'middle', baseline: 'hanging', fill: '#444444' }));
  }
  parts.push('</g>');

  // markers: each label on its own line from the top so several markers do not collide
  const palette = ['#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
  markers.forEach((m, k) => {
    const x = sx(m.value);
    const mc = m.color ?? palette[k % palette.length]!;
    const dash = m.dashed === false ? '' : ` stroke-dasharray="${num(0.5 * fs)} ${num(0.3 * fs)}"`;
    parts.push(
      `<g class="marker">${line(x, box.y, x, box.y + box.height, `stroke="${mc}" stroke-width="${num(Math.max(1.5, fs / 7))}"${dash}`)}`,
    );
    if (m.label) {
      const onLeft = x > box.x + box.width * 0.75;
      const label = truncate(m.label, 0.9 * fs, box.width * 0.4);
      parts.push(
        text(x + (onLeft ? -0.4 : 0.4) * fs, box.y + (1.2 + 1.3 * k) * fs, label, {
          size: 0.9 * fs,
          anchor: onLeft ? 'end' : 'start',
          fill: mc,
          halo: true,
        }),
      );
    }
    parts.push('</g>');
  });

  // axis names
  if (options.xLabel) {
    parts.push(
      text(box.x + box.width / 2, H - margin, options.xLabel, { size: fs, anchor: 'middle', fill: '#222222', className: 'axis-label' }),
    );
  }
  parts.push(
    text(margin + fs, box.y + box.height / 2, options.yLabel ?? (logY ? 'count (log scale)' : 'count'), {
      size: fs,
      anchor: 'middle',
      fill: '#222222',
      rotate: -90,
      className: 'axis-label',
    }),
  );
  parts.push('</svg>');
  return parts.join('');
}
