/**
 * A set with known duplicates, made from the shared photos: each original is stored once as it is
 * and three times more as the copies people make — resized to half and re-saved as JPEG quality
 * 55, cropped by 5% on every side, mirrored — so duplicate detection can be scored by precision
 * and recall of pairs. The other originals include many photos of the same kind of thing (ten
 * daisies, ten roses, ...), which must not be grouped.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

export const COPY_KINDS = ['half-q55', 'crop5', 'mirror'] as const;

/** The originals: every ImageNet sample, and every 15th flower photo (ten per class). */
export function duplicateOriginals(shared: string): string[] {
  const imagenet = readFileSync(join(shared, 'imagenet-100', 'labels.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => join(shared, 'imagenet-100', l.split('\t')[0]!));
  const flowers = readFileSync(join(shared, 'flowers', 'labels.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .filter((_, i) => i % 15 === 0)
    .map((l) => join(shared, 'flowers', l.split('\t')[0]!));
  return [...imagenet, ...flowers];
}

/** Write originals and copies under dir; returns the groups of file names that are one photo. */
export async function makeDuplicateSet(dir: string, originals: string[]): Promise<string[][]> {
  mkdirSync(dir, { recursive: true });
  const groups: string[][] = [];
  for (const [i, src] of originals.entries()) {
    const id = String(i).padStart(3, '0');
    const img = sharp(src).rotate();
    const { width, height } = await img.metadata();
    const w = width!;
    const h = height!;
    const names = [`${id}-original.jpg`, ...COPY_KINDS.map((k) => `${id}-${k}.jpg`)];
    writeFileSync(join(dir, names[0]!), readFileSync(src));
    await sharp(src)
      .rotate()
      .resize(Math.round(w / 2), Math.round(h / 2))
      .jpeg({ quality: 55 })
      .toFile(join(dir, names[1]!));
    const dx = Math.round(w * 0.05);
    const dy = Math.round(h * 0.05);
    await sharp(src)
      .rotate()
      .extract({ left: dx, top: dy, width: w - 2 * dx, height: h - 2 * dy })
      .jpeg({ quality: 85 })
      .toFile(join(dir, names[2]!));
    await sharp(src).rotate().flop().jpeg({ quality: 85 }).toFile(join(dir, names[3]!));
    groups.push(names);
  }
  return groups;
}

/** Precision and recall of the pairs a grouping implies, against the true groups (by file name). */
export function pairScores(
  found: string[][],
  truth: string[][],
): { precision: number; recall: number; truePairs: number; foundPairs: number } {
  const groupOf = new Map<string, number>();
  truth.forEach((g, i) => g.forEach((n) => groupOf.set(n, i)));
  let foundPairs = 0;
  let correct = 0;
  for (const g of found) {
    for (let a = 0; a < g.length; a++) {
      for (let b = a + 1; b < g.length; b++) {
        foundPairs++;
        if (groupOf.get(g[a]!) !== undefined && groupOf.get(g[a]!) === groupOf.get(g[b]!)) correct++;
      }
    }
  }
  const truePairs = truth.reduce((s, g) => s + (g.length * (g.length - 1)) / 2, 0);
  return { precision: foundPairs ? correct / foundPairs : 1, recall: correct / truePairs, truePairs, foundPairs };
}
