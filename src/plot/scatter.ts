/**
 * Scatter plot of a 2-D map, one dot per image, coloured by category (seed Figure 3).
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import { categorize, layoutLegend, type CategoryOptions, type Legend, type PointLabels } from './categories.js';
import { categoricalPalette } from './palette.js';
import { checkPoints, drawingOrder, fitPoints, type DrawOrder } from './points.js';
import { baseFontSize, checkSize, num, svgOpen, text, truncate } from './svg.js';

export interface ScatterOptions extends CategoryOptions {
  /** Category per point (top-1 prediction or a user label); null / '' are drawn grey. */
  labels?: PointLabels;
  title?: string;
  /** A smaller second title line (method, parameters, N). */
  subtitle?: string;
  /** Canvas size in px (default 1200 × 900). Fonts and dots scale with it. */
  width?: number;
  height?: number;
  /** Dot radius in px (default: from N and the plot size, see autoPointStyle). */
  pointRadius?: number;
  /** Dot opacity 0..1 (default: from N). */
  alpha?: number;
  /** Show the legend (default: when labels are given). */
  legend?: boolean;
  /** Axis names, e.g. "PC 1"; none by default since t-SNE / UMAP axes carry no meaning. */
  xLabel?: string;
  yLabel?: string;
  order?: DrawOrder;
}

/**
 * Dot radius and opacity for N points in a plot whose smaller side is `plotSize` px: the radius
 * falls as 1/√N so the inked area stays near an eighth of the plot from tens to tens of thousands
 * of points; opacity falls with N so dense clusters still show their density.
 */
export function autoPointStyle(n: number, plotSize: number): { radius: number; alpha: number } {
  const r = (0.2 * plotSize) / Math.sqrt(Math.max(1, n));
  const radius = Math.min(0.012 * plotSize, Math.max(0.0008 * plotSize, r, 0.6));
  const alpha = n <= 1000 ? 0.85 : Math.max(0.35, 0.85 - 0.2 * Math.log10(n / 1000));
  return { radius, alpha };
}

export function scatterSvg(points: Matrix, options: ScatterOptions = {}): string {
  checkPoints(points, 'scatter');
  const n = points.rows;
  const labels = options.labels;
  if (labels && labels.length !== n) {
    throw new ConvlensError('E_BAD_INPUT', `scatter: ${labels.length} labels for ${n} points`);
  }
  const W = checkSize('width', options.width ?? 1200);
  const H = checkSize('height', options.height ?? Math.round(W * 0.75));
  const fs = baseFontSize(W, H);
  const margin = fs;

  const parts: string[] = [svgOpen(W, H)];
  let top = margin;
  if (options.title) {
    parts.push(
      text(W / 2, top, truncate(options.title, 1.4 * fs, W - 2 * margin), {
        size: 1.4 * fs,
        anchor: 'middle',
        weight: 'bold',
        baseline: 'hanging',
        className: 'title',
      }),
    );
    top += 1.4 * fs * 1.35;
  }
  if (options.subtitle) {
    parts.push(
      text(W / 2, top, truncate(options.subtitle, fs, W - 2 * margin), {
        size: fs,
        anchor: 'middle',
        baseline: 'hanging',
        fill: '#555555',
        className: 'subtitle',
      }),
    );
    top += fs * 1.5;
  }
  if (options.title || options.subtitle) top += 0.5 * fs;

  const cats = labels ? categorize(labels, options) : null;
  let legend: Legend | null = null;
  if (cats && (options.legend ?? true) && cats.entries.length > 0) {
    legend = layoutLegend(cats.entries, { fontSize: fs, maxWidth: 0.3 * W, maxHeight: H - top - margin, marker: 'circle' });
  }

  const left = margin + (options.yLabel ? 1.6 * fs : 0);
  const bottom = H - margin - (options.xLabel ? 1.6 * fs : 0);
  const right = W - margin - (legend ? legend.width + margin : 0);
  const box = { x: left, y: top, width: Math.max(1, right - left), height: Math.max(1, bottom - top) };
  const auto = autoPointStyle(n, Math.min(box.width, box.height));
  const radius = options.pointRadius ?? auto.radius;
  const alpha = options.alpha ?? auto.alpha;

  // A light frame only: ticks and numbers on t-SNE axes would suggest a scale that does not exist.
  parts.push(
    `<rect class="frame" x="${num(box.x)}" y="${num(box.y)}" width="${num(box.width)}" height="${num(box.height)}" ` +
      `fill="none" stroke="#cccccc" stroke-width="${num(Math.max(1, fs / 16))}"/>`,
  );
  if (options.xLabel) {
    parts.push(
      text(box.x + box.width / 2, H - margin, options.xLabel, { size: fs, anchor: 'middle', fill: '#444444', className: 'axis-label' }),
    );
  }
  if (options.yLabel) {
    const x = margin + fs;
    const y = box.y + box.height / 2;
    parts.push(text(x, y, options.yLabel, { size: fs, anchor: 'middle', fill: '#444444', rotate: -90, className: 'axis-label' }));
  }

  const inset = radius + 0.5 * fs;
  const xy = fitPoints(points, {
    x: box.x + inset,
    y: box.y + inset,
    width: Math.max(1, box.width - 2 * inset),
    height: Math.max(1, box.height - 2 * inset),
  });
  const single = categoricalPalette(1)[0]!;
  const r = num(radius, 2);
  parts.push(`<g class="points" fill-opacity="${num(alpha, 2)}" stroke="none">`);
  for (const i of drawingOrder(n, options.order)) {
    const color = cats ? cats.entries[cats.entryOf[i]!]!.color : single;
    parts.push(`<circle cx="${num(xy[2 * i]!)}" cy="${num(xy[2 * i + 1]!)}" r="${r}" fill="${color}"/>`);
  }
  parts.push('</g>');
  if (legend) parts.push(legend.render(W - margin - legend.width, top));
  parts.push('</svg>');
  return parts.join('');
}
