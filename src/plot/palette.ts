/**
 * Colours: a categorical palette whose first colours are matplotlib's (the seed figures' look),
 * extended Glasbey-style (each new colour as far as possible from all earlier ones in CIELAB),
 * and a sequential white→blue ramp for heatmaps.
 */
import { ConvlensError } from '../core/index.js';

/** Points without a category. */
export const UNLABELLED_COLOR = '#c7c7c7';
/** Categories grouped together beyond the legend's limit. */
export const OTHER_COLOR = '#7f7f7f';

// tab10 without its grey (kept for "other"), then the dark tab20b hues, then tab20's light hues:
// the first colours are the most distinct, light variants come only when many classes need them.
const BASE = [
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

export type Rgb = [number, number, number];

export function parseColor(color: string): Rgb {
  const m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(color.trim());
  if (!m) throw new ConvlensError('E_USAGE', `not a #rrggbb colour: ${color}`);
  let h = m[1]!;
  if (h.length === 3) h = h.replace(/./g, (c) => c + c);
  const v = parseInt(h, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export function toHex([r, g, b]: Rgb): string {
  return '#' + [r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('');
}

function toLab([r, g, b]: Rgb): Rgb {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  const R = lin(r);
  const G = lin(g);
  const B = lin(b);
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const x = f((0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047);
  const y = f(0.2126 * R + 0.7152 * G + 0.0722 * B);
  const z = f((0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883);
  return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
}

function dist2(a: Rgb, b: Rgb): number {
  return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2;
}

let cache: string[] = BASE.slice();

/**
 * `n` distinct colours for categories. Deterministic: the same n always gives the same list, and
 * a longer list starts with a shorter one.
 */
export function categoricalPalette(n: number): string[] {
  if (n > cache.length) cache = extend(cache, n);
  return cache.slice(0, n);
}

function extend(start: string[], n: number): string[] {
  const out = start.slice();
  // Candidates: an RGB grid, without colours too light to see on white or too dark to tell apart.
  const cands: { hex: string; lab: Rgb; d: number }[] = [];
  for (let r = 0; r < 256; r += 17)
    for (let g = 0; g < 256; g += 17)
      for (let b = 0; b < 256; b += 17) {
        const lab = toLab([r, g, b]);
        if (lab[0] < 25 || lab[0] > 88) continue;
        cands.push({ hex: toHex([r, g, b]), lab, d: Infinity });
      }
  const taken = [...out, '#ffffff', UNLABELLED_COLOR, OTHER_COLOR].map((c) => toLab(parseColor(c)));
  for (const c of cands) for (const t of taken) c.d = Math.min(c.d, dist2(c.lab, t));
  while (out.length < n) {
    let best = cands[0]!;
    for (const c of cands) if (c.d > best.d) best = c;
    out.push(best.hex);
    for (const c of cands) c.d = Math.min(c.d, dist2(c.lab, best.lab));
  }
  return out;
}

/** Sequential colour for t in [0, 1]: white to dark blue (like matplotlib's "Blues"). */
export function blues(t: number): string {
  const stops: Rgb[] = [
    [247, 251, 255],
    [198, 219, 239],
    [107, 174, 214],
    [33, 113, 181],
    [8, 48, 107],
  ];
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return toHex([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
}

/** Relative luminance (0 dark … 1 light), to choose black or white text over a colour. */
export function luminance(color: string): number {
  const [r, g, b] = parseColor(color);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}
