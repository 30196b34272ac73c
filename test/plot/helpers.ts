/**
 * Test helpers for plots: a strict little XML parser (no XML package is installed; this one
 * rejects anything that is not well-formed), pixel statistics of PNGs, and where artifacts and
 * the shared photos live.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));

/** PNGs written here for a human to look at (git-ignored). */
export const ARTIFACTS = join(here, '..', '..', 'test-artifacts', 'plot');
mkdirSync(ARTIFACTS, { recursive: true });

/** The CC0 / public-domain photos of ../shared/data/photos, or null when that folder is absent. */
export const PHOTOS: string | null = (() => {
  const p = join(here, '..', '..', '..', 'shared', 'data', 'photos');
  return existsSync(join(p, 'skimage', 'chelsea.png')) ? p : null;
})();
export const NO_PHOTOS = 'skipped: ../shared/data/photos is absent';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function decodeEntities(s: string, where: number): string {
  return s.replace(/&([^;]*);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new Error(`bare & at ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ent in named) return named[ent]!;
    if (/^#x[0-9a-fA-F]+$/.test(ent)) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (/^#[0-9]+$/.test(ent)) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    throw new Error(`unknown entity &${ent}; at ${where}`);
  });
}

/** Parses a whole document with one root element; throws on anything not well-formed. */
export function parseXml(src: string): XmlElement {
  // characters XML 1.0 forbids
  const bad = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(src);
  if (bad) throw new Error(`invalid XML character U+${bad[0].charCodeAt(0).toString(16)} at ${bad.index}`);
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  skipSpace();
  if (src.startsWith('<?xml', i)) i = src.indexOf('?>', i) + 2;
  while (i < src.length) {
    if (src[i] !== '<') {
      const end = src.indexOf('<', i);
      const raw = src.slice(i, end < 0 ? src.length : end);
      if (raw.includes('>')) throw new Error(`'>' in text at ${i}`);
      const t = decodeEntities(raw, i);
      if (stack.length === 0) {
        if (t.trim() !== '') throw new Error(`text outside the root at ${i}`);
      } else stack[stack.length - 1]!.text += t;
      i = end < 0 ? src.length : end;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src[i + 1] === '/') {
      const m = NAME.exec(src.slice(i + 2));
      if (!m) throw new Error(`bad closing tag at ${i}`);
      const open = stack.pop();
      if (!open || open.name !== m[0]) throw new Error(`</${m[0]}> closes <${open?.name}> at ${i}`);
      i += 2 + m[0].length;
      skipSpace();
      if (src[i] !== '>') throw new Error(`bad closing tag at ${i}`);
      i++;
      continue;
    }
    const m = NAME.exec(src.slice(i + 1));
    if (!m) throw new Error(`bad tag at ${i}`);
    const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
    i += 1 + m[0].length;
    for (;;) {
      const before = i;
      skipSpace();
      if (src.startsWith('/>', i)) {
        i += 2;
        break;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) throw new Error(`no space before attribute at ${i}`);
      const a = NAME.exec(src.slice(i));
      if (!a) throw new Error(`bad attribute at ${i}`);
      i += a[0].length;
      skipSpace();
      if (src[i] !== '=') throw new Error(`attribute without value at ${i}`);
      i++;
      skipSpace();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute at ${i}`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new Error('unterminated attribute');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) throw new Error(`'<' in attribute at ${i}`);
      if (a[0] in el.attrs) throw new Error(`duplicate attribute ${a[0]} at ${i}`);
      el.attrs[a[0]] = decodeEntities(raw, i);
      i = end + 1;
    }
    const selfClosing = src[i - 2] === '/';
    if (stack.length > 0) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new Error(`second root element at ${i}`);
    else root = el;
    if (!selfClosing) stack.push(el);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

/** All elements in document order that satisfy `pred`. */
export function findAll(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (e: XmlElement): void => {
    if (pred(e)) out.push(e);
    e.children.forEach(walk);
  };
  walk(el);
  return out;
}

export const byClass =
  (c: string) =>
  (e: XmlElement): boolean =>
    (e.attrs.class ?? '').split(/\s+/).includes(c);

/** Width, height and per-channel spread of a PNG; a blank image has (near) zero spread. */
export async function pngStats(png: Buffer): Promise<{ width: number; height: number; stdev: number; nonWhite: number }> {
  const img = sharp(png);
  const meta = await img.metadata();
  const { data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let nonWhite = 0;
  for (let p = 0; p < data.length; p += info.channels) {
    if (data[p]! < 240 || data[p + 1]! < 240 || data[p + 2]! < 240) nonWhite++;
  }
  const stats = await sharp(png).stats();
  const stdev = Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev));
  return { width: meta.width!, height: meta.height!, stdev, nonWhite: nonWhite / (info.width * info.height) };
}

/** A decoded PNG: its size and the RGB of any pixel. */
export async function decodePng(
  png: Buffer,
): Promise<{ width: number; height: number; at(x: number, y: number): [number, number, number] }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    at(x: number, y: number): [number, number, number] {
      const p = (y * info.width + x) * info.channels;
      return [data[p]!, data[p + 1]!, data[p + 2]!];
    },
  };
}

/** Seeded Gaussian clusters: k centres, n points, labels "class 0" … */
export function clusters(rng: { normal(): number }, n: number, k: number, spread = 10): { xy: Float32Array; labels: string[] } {
  const centres = Array.from({ length: k }, () => [rng.normal() * spread, rng.normal() * spread] as const);
  const xy = new Float32Array(2 * n);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    xy[2 * i] = centres[c]![0] + rng.normal();
    xy[2 * i + 1] = centres[c]![1] + rng.normal();
    labels.push(`class ${c}`);
  }
  return { xy, labels };
}
