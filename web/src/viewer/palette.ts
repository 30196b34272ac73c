/**
 * Category colours that stay apart: matplotlib's tab10 hues first (the seed figures' look, its grey
 * kept for "other"), then navy, maroon and teal. Twelve at most: past a dozen, colours start to
 * look alike (tab20's light twins of tab10 read as the same class), so the rarer categories share
 * "other" and the legend says how many it holds.
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
  '#000075',
  '#800000',
  '#469990',
];
export const OTHER_COLOR = '#7f7f7f';
export const NONE_COLOR = '#c7c7c7';

export interface Legend {
  /** `members`: the categories an entry stands for (one, or the tail that shares "other") */
  entries: { name: string; color: string; count: number; members: string[] }[];
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
  const rest: string[] = [];
  // a tail of one is shown as itself (in the "other" grey): no point in grouping one category
  const shown = sorted.length === max + 1 ? max + 1 : max;
  sorted.forEach(([name, count], i) => {
    const color = i < max ? PALETTE[i]! : OTHER_COLOR;
    colorOf.set(name, color);
    if (i < shown) entries.push({ name, color, count, members: [name] });
    else {
      other += count;
      rest.push(name);
    }
  });
  if (other > 0) entries.push({ name: `other (${rest.length} more)`, color: OTHER_COLOR, count: other, members: rest });
  return { entries, colors: categories.map((c) => (c === null ? null : colorOf.get(c)!)) };
}

export function hexColor(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}
