/**
 * Category colours: matplotlib's tab10 first (the seed figures' look), then tab20b / tab20 hues;
 * the same list as src/plot/palette.ts (which the browser cannot import: it pulls in Node code).
 */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#bcbd22',
  '#17becf',
  '#393b79',
  '#637939',
  '#843c39',
  '#7b4173',
  '#aec7e8',
  '#ffbb78',
  '#98df8a',
  '#ff9896',
  '#c5b0d5',
  '#c49c94',
  '#f7b6d2',
  '#dbdb8d',
  '#9edae5',
];
export const OTHER_COLOR = '#7f7f7f';
export const NONE_COLOR = '#c7c7c7';

export interface Legend {
  entries: { name: string; color: string; count: number }[];
  /** colour per point (null: no category) */
  colors: (string | null)[];
}

/**
 * Colours for a category per point (null = none): the most frequent categories get palette
 * colours, the rest share "other".
 */
export function categoryColors(categories: (string | null)[], max = PALETTE.length): Legend {
  const counts = new Map<string, number>();
  for (const c of categories) if (c !== null) counts.set(c, (counts.get(c) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const colorOf = new Map<string, string>();
  const entries: Legend['entries'] = [];
  let other = 0;
  sorted.forEach(([name, count], i) => {
    if (i < max) {
      colorOf.set(name, PALETTE[i]!);
      entries.push({ name, color: PALETTE[i]!, count });
    } else {
      colorOf.set(name, OTHER_COLOR);
      other += count;
    }
  });
  if (other > 0) entries.push({ name: `other (${sorted.length - max} more)`, color: OTHER_COLOR, count: other });
  return { entries, colors: categories.map((c) => (c === null ? null : colorOf.get(c)!)) };
}

export function hexColor(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}
