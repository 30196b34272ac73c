/**
 * Small SVG-writing helpers shared by every plot: XML escaping of user text, number formatting,
 * text width estimates for layout, and the font list that librsvg (through fontconfig) resolves.
 */
import { ConvlensError } from '../core/index.js';

/**
 * Generic families in order of preference. librsvg asks fontconfig for the first installed one;
 * "sans-serif" makes fontconfig fall back to whatever sans font exists.
 */
export const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

// Characters XML 1.0 forbids (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/U+FFFF):
// a file name can contain them, and librsvg rejects the whole document if one slips through.
const INVALID_XML =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escape user text (titles, class names, file names) for XML text and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A coordinate with at most `digits` decimals and no trailing zeros (keeps big SVGs small). */
export function num(x: number, digits = 1): string {
  const s = x.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

// Advance widths of DejaVu Sans (the widest of our fallbacks) in em, by character class; layout
// only needs an upper-ish estimate so labels do not collide or run off the canvas.
function charWidth(c: string): number {
  if (/[il.,:;!|'`]/.test(c)) return 0.3;
  if (/[fjrtI() \-[\]]/.test(c)) return 0.4;
  if (/[MWmw@%]/.test(c)) return 0.9;
  if (/[A-Z]/.test(c)) return 0.72;
  if (c.charCodeAt(0) > 0x2e7f) return 1; // CJK and other wide scripts
  return 0.62;
}

/** Estimated rendered width of `text` at font size `fontSize` (px). */
export function textWidth(text: string, fontSize: number): number {
  let w = 0;
  for (const c of text) w += charWidth(c);
  return w * fontSize;
}

/** Shorten `text` with an ellipsis so that it fits in `maxWidth` px at `fontSize`. */
export function truncate(text: string, fontSize: number, maxWidth: number): string {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  const budget = maxWidth - textWidth('…', fontSize);
  let w = 0;
  let out = '';
  for (const c of text) {
    w += charWidth(c) * fontSize;
    if (w > budget) break;
    out += c;
  }
  return out + '…';
}

/** Base font size for a canvas: text stays readable whether the figure is 600 or 4000 px wide. */
export function baseFontSize(width: number, height: number): number {
  return Math.max(11, Math.round(Math.sqrt(width * height) / 55));
}

export interface TextOptions {
  size: number;
  anchor?: 'start' | 'middle' | 'end';
  weight?: 'normal' | 'bold';
  fill?: string;
  /** Rotation in degrees around (x, y). */
  rotate?: number;
  /** Vertical alignment: 'middle' centres the text on y (via a dy of about a third of the size). */
  baseline?: 'alphabetic' | 'middle' | 'hanging';
  className?: string;
  /** A white outline behind the glyphs, to keep text readable over bars or dots. */
  halo?: boolean;
}

/** A <text> element with escaped content. */
export function text(x: number, y: number, content: string, o: TextOptions): string {
  const attrs = [`x="${num(x)}"`, `y="${num(y)}"`, `font-size="${num(o.size)}"`];
  if (o.className) attrs.push(`class="${o.className}"`);
  if (o.anchor && o.anchor !== 'start') attrs.push(`text-anchor="${o.anchor}"`);
  if (o.weight === 'bold') attrs.push('font-weight="bold"');
  if (o.fill) attrs.push(`fill="${o.fill}"`);
  // dy rather than dominant-baseline: librsvg's support for the latter has varied across versions
  if (o.baseline === 'middle') attrs.push(`dy="${num(0.35 * o.size)}"`);
  if (o.baseline === 'hanging') attrs.push(`dy="${num(0.8 * o.size)}"`);
  if (o.halo) attrs.push(`stroke="#ffffff" stroke-width="${num(o.size / 5)}" stroke-linejoin="round" paint-order="stroke"`);
  if (o.rotate) attrs.push(`transform="rotate(${num(o.rotate)} ${num(x)} ${num(y)})"`);
  return `<text ${attrs.join(' ')}>${escapeXml(content)}</text>`;
}

/** The root element; every plot has a white (or given) background and our font list. */
export function svgOpen(width: number, height: number, background = '#ffffff'): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">` +
    (background === 'none' ? '' : `<rect width="${width}" height="${height}" fill="${background}"/>`)
  );
}

/** Checks a caller-given canvas dimension. */
export function checkSize(name: string, value: number, min = 16, max = 32768): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConvlensError('E_USAGE', `${name} must be between ${min} and ${max} px (got ${value})`);
  }
  return Math.round(value);
}

/** A <rect> at (x, y) of w × h, with more attributes as written. */
export function rect(x: number, y: number, w: number, h: number, attrs = ''): string {
  return `<rect x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}"${attrs ? ` ${attrs}` : ''}/>`;
}

/** A <line> from (x1, y1) to (x2, y2), with more attributes as written. */
export function line(x1: number, y1: number, x2: number, y2: number, attrs = ''): string {
  return `<line x1="${num(x1)}" x2="${num(x2)}" y1="${num(y1)}" y2="${num(y2)}"${attrs ? ` ${attrs}` : ''}/>`;
}
