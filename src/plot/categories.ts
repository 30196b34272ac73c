/**
 * Categories of points (top-1 prediction or a user label) → colours and legend entries. Shared by
 * the dot scatter and the thumbnail scatter so both colour a class the same way.
 */
import { ConvlensError } from '../core/index.js';
import { categoricalPalette, OTHER_COLOR, UNLABELLED_COLOR } from './palette.js';
import { num, rect, text, textWidth, truncate } from './svg.js';

/** A category per point; null, undefined or '' mean unlabelled. */
export type PointLabels = ReadonlyArray<string | null | undefined>;

export interface LegendEntry {
  /** Category name; for the grouped entry "other", for unlabelled points the unlabelled name. */
  name: string;
  kind: 'category' | 'other' | 'unlabelled';
  /** Points in this entry. */
  count: number;
  /** Categories folded into this entry (1 except for "other"). */
  categories: number;
  color: string;
}

export interface Categories {
  /** Legend order: categories by count (largest first), then "other", then unlabelled. */
  entries: LegendEntry[];
  /** Index into `entries` for each point. */
  entryOf: Int32Array;
}

export interface CategoryOptions {
  /** Most categories shown on their own; the rest are grouped as "other" (default 20). */
  maxCategories?: number;
  /** Fixed colours for some categories (e.g. to match another figure). */
  colors?: Readonly<Record<string, string>>;
  /** Legend name for points without a category (default "unlabelled"). */
  unlabelledName?: string;
}

export function categorize(labels: PointLabels, options: CategoryOptions = {}): Categories {
  const maxCategories = options.maxCategories ?? 20;
  if (!Number.isInteger(maxCategories) || maxCategories < 1) {
    throw new ConvlensError('E_USAGE', `maxCategories must be a positive integer (got ${maxCategories})`);
  }
  const counts = new Map<string, number>();
  let unlabelled = 0;
  for (const l of labels) {
    if (l === null || l === undefined || l === '') unlabelled++;
    else counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  // Largest first; ties in natural order ("class 2" before "class 10") with a fixed locale.
  const collator = new Intl.Collator('en', { numeric: true });
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || collator.compare(a[0], b[0]) || (a[0] < b[0] ? -1 : 1));
  // Grouping a single category as "other" would hide its name for nothing.
  const shown = sorted.length <= maxCategories + 1 ? sorted : sorted.slice(0, maxCategories);
  const fixed = options.colors ?? {};
  const fixedValues = new Set(Object.values(fixed).map((c) => c.toLowerCase()));
  const free = categoricalPalette(shown.length + fixedValues.size).filter((c) => !fixedValues.has(c));
  let nextFree = 0;

  const entries: LegendEntry[] = shown.map(([name, count]) => ({
    name,
    kind: 'category',
    count,
    categories: 1,
    color: fixed[name] ?? free[nextFree++]!,
  }));
  const indexOf = new Map<string, number>(shown.map(([name], i) => [name, i]));
  let otherIndex = -1;
  if (shown.length < sorted.length) {
    const rest = sorted.slice(shown.length);
    otherIndex = entries.length;
    entries.push({
      name: 'other',
      kind: 'other',
      count: rest.reduce((s, [, c]) => s + c, 0),
      categories: rest.length,
      color: OTHER_COLOR,
    });
  }
  let unlabelledIndex = -1;
  if (unlabelled > 0) {
    unlabelledIndex = entries.length;
    entries.push({
      name: options.unlabelledName ?? 'unlabelled',
      kind: 'unlabelled',
      count: unlabelled,
      categories: 0,
      color: UNLABELLED_COLOR,
    });
  }
  const entryOf = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    entryOf[i] = l === null || l === undefined || l === '' ? unlabelledIndex : (indexOf.get(l) ?? otherIndex);
  });
  return { entries, entryOf };
}

/** The text shown for an entry: name and count. */
export function legendLabel(e: LegendEntry): string {
  return legendName(e) + legendCount(e);
}

function legendName(e: LegendEntry): string {
  return e.kind === 'other' ? `other: ${e.categories} classes` : e.name;
}

function legendCount(e: LegendEntry): string {
  return ` (${e.count})`;
}

export interface Legend {
  width: number;
  height: number;
  fontSize: number;
  /** SVG fragment for the legend with its top-left corner at (x, y). */
  render(x: number, y: number): string;
}

/**
 * Lays out a legend box no wider than `maxWidth` (labels are shortened with "…") and no taller
 * than `maxHeight` (the font shrinks when there are many entries).
 */
export function layoutLegend(
  entries: readonly LegendEntry[],
  o: { fontSize: number; maxWidth: number; maxHeight: number; marker: 'circle' | 'square' },
): Legend {
  const rows = entries.length;
  const fs = Math.max(6, Math.min(o.fontSize, o.maxHeight / (rows * 1.5 + 1.2)));
  const pad = 0.6 * fs;
  const rowH = 1.5 * fs;
  const markerW = fs;
  const gap = 0.5 * fs;
  const textMax = Math.max(fs * 3, o.maxWidth - 2 * pad - markerW - gap);
  // Long names are shortened, never the counts.
  const labels = entries.map((e) => truncate(legendName(e), fs, textMax - textWidth(legendCount(e), fs)) + legendCount(e));
  const width = 2 * pad + markerW + gap + Math.max(0, ...labels.map((l) => textWidth(l, fs)));
  const height = 2 * pad + rows * rowH;
  return {
    width,
    height,
    fontSize: fs,
    render(x: number, y: number): string {
      const parts = [
        `<g class="legend"><rect x="${num(x)}" y="${num(y)}" width="${num(width)}" height="${num(height)}" ` +
          `fill="#ffffff" fill-opacity="0.85" stroke="#d0d0d0" stroke-width="${num(Math.max(1, fs / 16))}"/>`,
      ];
      entries.forEach((e, i) => {
        const cy = y + pad + (i + 0.5) * rowH;
        const cx = x + pad + markerW / 2;
        const marker =
          o.marker === 'circle'
            ? `<circle cx="${num(cx)}" cy="${num(cy)}" r="${num(0.38 * fs)}" fill="${e.color}"/>`
            : rect(cx - 0.4 * fs, cy - 0.4 * fs, 0.8 * fs, 0.8 * fs, `fill="${e.color}"`);
        parts.push(
          `<g class="legend-entry">${marker}` +
            text(x + pad + markerW + gap, cy, labels[i]!, { size: fs, baseline: 'middle', fill: '#222222' }) +
            '</g>',
        );
      });
      parts.push('</g>');
      return parts.join('');
    },
  };
}
