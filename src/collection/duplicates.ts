/**
 * Duplicates in a collection: copies of the same photo (resized, re-encoded, slightly cropped,
 * mirrored), never two photos of the same kind of thing.
 *
 * Embeddings alone cannot tell them apart: a photo saved again at half size as JPEG quality 55
 * can sit at cosine 0.66 from its original while two different daisies sit at 0.88. So candidate
 * pairs come from the embeddings (cosine ≥ 0.65) and perceptual hashes of both images' stored
 * thumbnails decide: the whole pictures (either orientation), or for a cropped copy a part of one
 * against the other whole (the rule below, measured on known-duplicate sets: README,
 * "Duplicates"). Without thumbnails only near-identical embeddings count. Identical files are
 * found by content hash, without embeddings.
 */
import { ConvlensError } from '../core/errors.js';
import { cropHashes, hashDistance, perceptualHash, UnionFind, type PerceptualHash } from '../search/index.js';
import type { CollectionStore, ImageRow } from '../store/index.js';
import type { CollectionSearch } from './search.js';

/** When two images are copies of one photo. */
export const DUPLICATE_RULE = {
  /** cosine of the embeddings below which a pair is never considered */
  candidates: 0.65,
  /** perceptual-hash bits (of 64) that may differ for the same picture resized, re-encoded or mirrored */
  sameImage: 10,
  /** a cropped copy: a part of one image (centre or a corner, 80–90% of each side) is the other, and the embeddings agree */
  cropped: { bits: 8, cosine: 0.75 },
  /** embeddings this close are the same photo whatever the hashes say (and the only test without thumbnails) */
  nearIdentical: 0.97,
} as const;

/** One photo: the copy to keep (most pixels, then most bytes, then first indexed), and the others. */
export interface DuplicateGroup {
  keep: number;
  duplicates: number[];
}

/** What the rule looks at in one image: its thumbnail's hash, and (only when needed) the hashes of its parts. */
export interface ImageHashes {
  full: PerceptualHash;
  crops: () => Promise<PerceptualHash[]>;
}

/** The hashes of an encoded thumbnail (null when it cannot be decoded). */
export async function hashesOf(thumbnail: Buffer | Uint8Array): Promise<ImageHashes | null> {
  const full = await perceptualHash(thumbnail).catch(() => null);
  if (!full) return null;
  let crops: Promise<PerceptualHash[]> | undefined;
  return { full, crops: () => (crops ??= cropHashes(thumbnail).catch(() => [])) };
}

/** Whether a candidate pair is a duplicate, given the pair's cosine and hashes (null: no thumbnail). */
export async function isDuplicate(cosine: number, a: ImageHashes | null, b: ImageHashes | null): Promise<boolean> {
  if (cosine >= DUPLICATE_RULE.nearIdentical) return true;
  if (!a || !b || cosine < DUPLICATE_RULE.candidates) return false;
  if (hashDistance(a.full, b.full) <= DUPLICATE_RULE.sameImage) return true;
  if (cosine < DUPLICATE_RULE.cropped.cosine) return false;
  // either may be the cropped one: compare each one's parts with the other whole
  const near = (parts: PerceptualHash[], whole: PerceptualHash): boolean =>
    parts.some((p) => hashDistance(whole, p) <= DUPLICATE_RULE.cropped.bits);
  return near(await a.crops(), b.full) || near(await b.crops(), a.full);
}

/** Hashes of stored thumbnails, computed once per image. */
export class ThumbnailHashes {
  private readonly cache = new Map<number, Promise<ImageHashes | null>>();
  constructor(private readonly store: CollectionStore) {}

  of(id: number): Promise<ImageHashes | null> {
    let h = this.cache.get(id);
    if (!h) {
      h = this.store.thumbnail(id).then((t) => (t ? hashesOf(t) : null));
      this.cache.set(id, h);
    }
    return h;
  }
}

/** Order a group: the one to keep first. */
export function keepOne(rows: ImageRow[]): DuplicateGroup {
  const pixels = (r: ImageRow): number => (r.width ?? 0) * (r.height ?? 0);
  const sorted = [...rows].sort((a, b) => pixels(b) - pixels(a) || b.size - a.size || a.id - b.id);
  return { keep: sorted[0]!.id, duplicates: sorted.slice(1).map((r) => r.id) };
}

async function asGroups(store: CollectionStore, groups: number[][]): Promise<DuplicateGroup[]> {
  const out: DuplicateGroup[] = [];
  for (const ids of groups) {
    const rows = (await Promise.all(ids.map((id) => store.image(id)))).filter((r): r is ImageRow => r !== null);
    if (rows.length > 1) out.push(keepOne(rows));
  }
  return out.sort((a, b) => b.duplicates.length - a.duplicates.length || a.keep - b.keep);
}

export interface DuplicateOptions {
  /** embeddings only: pairs at or above this cosine (the rule above is not used) */
  minSimilarity?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Groups of copies of the same photo, largest first. */
export async function findDuplicates(
  store: CollectionStore,
  search: CollectionSearch,
  options: DuplicateOptions = {},
): Promise<DuplicateGroup[]> {
  if (options.minSimilarity !== undefined && !(options.minSimilarity > 0 && options.minSimilarity <= 1)) {
    throw new ConvlensError('E_USAGE', `the minimum similarity must be in (0, 1] (got ${options.minSimilarity})`);
  }
  const pairs = await search.pairs(options.minSimilarity ?? DUPLICATE_RULE.candidates, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  // union-find over the images that appear in a pair (ids → dense rows)
  const rowOf = new Map<number, number>();
  const idOf: number[] = [];
  const row = (id: number): number => {
    let r = rowOf.get(id);
    if (r === undefined) {
      r = idOf.push(id) - 1;
      rowOf.set(id, r);
    }
    return r;
  };
  for (const p of pairs) {
    row(p.a);
    row(p.b);
  }
  const uf = new UnionFind(idOf.length);
  const hashes = options.minSimilarity === undefined ? new ThumbnailHashes(store) : null;
  for (const p of pairs) {
    const [a, b] = [row(p.a), row(p.b)];
    if (uf.find(a) === uf.find(b)) continue;
    if (!hashes || (await isDuplicate(p.cosine, await hashes.of(p.a), await hashes.of(p.b)))) uf.union(a, b);
  }
  return asGroups(
    store,
    uf.groups().map((g) => g.map((r) => idOf[r]!)),
  );
}

/** Files with identical bytes (by content hash): instant, no embeddings needed. */
export async function identicalFiles(store: CollectionStore): Promise<DuplicateGroup[]> {
  return asGroups(store, await store.sameContent());
}
