/**
 * A collection past `memoryRows` (here 1,000 of 3,000 synthetic rows, so the test stays small):
 * thresholds, histograms and duplicates answer without reading every embedding at once — the
 * store's whole-matrix read is made to throw — and agree with the in-memory answers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Collection } from '../../src/collection/index.js';
import { sampleIds } from '../../src/collection/large.js';
import { CollectionSearch } from '../../src/collection/search.js';
import { HnswIndex } from '../../src/search/index.js';
import { syntheticStore } from '../helpers/synthetic-store.js';

const N = 3000;
const COPIES = 20;
const dir = mkdtempSync(join(tmpdir(), 'convlens-large-'));
const db = join(dir, 'c.db');
let large: Collection;
let small: Collection;

/** Ids and scores, rounded past float noise, for comparing two answers. */
const rounded = (ns: { id: number; score: number }[]): [number, number][] => ns.map((n) => [n.id, +n.score.toFixed(9)]);

describe('a collection larger than memory should hold', () => {
  beforeAll(async () => {
    await syntheticStore(db, join(dir, 'photos'), N, { dim: 256, thumbnails: false, clusters: 6, noise: 0.9, copies: COPIES });
    large = await Collection.open(db, { memoryRows: 1000 });
    small = await Collection.open(db, { readonly: true });
    large.store.embeddings = () => {
      throw new Error('read every embedding at once');
    };
  });
  afterAll(async () => {
    await large?.close();
    await small?.close();
  });

  it('thresholds: the block scan and the HNSW answer equal the in-memory exact answer', async () => {
    const q = (await large.store.embedding(7))!;
    const t = 0.6;
    const exact = (await small.similar({ vector: q }, { minSimilarity: t })).results;
    expect(exact.length).toBeGreaterThan(20);
    expect(exact.length).toBeLessThan(N / 2);
    expect(rounded((await large.similar({ vector: q }, { minSimilarity: t })).results)).toEqual(rounded(exact));
    expect(rounded((await large.similar({ vector: q }, { k: 5 })).results)).toEqual(rounded(exact.slice(0, 5)));
    await (await large.search()).buildHnsw('cosine'); // from blocks, never the whole matrix
    await large.refresh();
    // the graph may miss a match in a thousand (its recall), never report one that fails, and its scores are exact
    const viaHnsw = (await large.similar({ vector: q }, { minSimilarity: t })).results;
    const want = new Map(rounded(exact));
    expect(viaHnsw.length).toBeGreaterThanOrEqual(Math.floor(0.99 * exact.length));
    for (const [id, score] of rounded(viaHnsw)) expect(want.get(id)).toBe(score);
  });

  it('the exactness check: an HNSW index that misses most matches is caught by the sample, and the scan answers', async () => {
    const q = (await large.store.embedding(7))!;
    const exact = (await small.similar({ vector: q }, { minSimilarity: 0.6 })).results;
    // an index of the first 1,000 images only, standing for a damaged graph
    const first = await large.store.embeddingPage(0, 1000);
    const partial = await HnswIndex.build(first.matrix, { ids: first.ids });
    const search = await CollectionSearch.open(large.store, { memoryRows: 1000, live: async () => partial });
    expect(rounded(await search.similar(q, { minSimilarity: 0.6 }))).toEqual(rounded(exact));
  });

  it('histograms: a seeded uniform sample, scaled, each bin within the stated margin; best score and matches exact', async () => {
    const exact = (await small.histogram({ id: 7 }, { threshold: 0.6, bins: 20 })).histogram;
    const { histogram: h } = await large.histogram({ id: 7 }, { threshold: 0.6, bins: 20 });
    const sampled = h as Required<typeof h>;
    expect(sampled.sample.of).toBe(N - 1);
    expect(sampled.sample.size).toBeLessThanOrEqual(N - 1);
    expect(h.max).toBe(exact.max);
    expect(h.matches).toBeGreaterThanOrEqual(Math.floor(0.99 * exact.matches!)); // HNSW recall
    expect(h.matches).toBeLessThanOrEqual(exact.matches!);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.97 * (N - 1));
    const small2 = await small.histogram({ id: 7 }, { bins: 20 });
    expect(small2.histogram.count).toBe(N - 1);
    // a sample of 500 of the same collection: counts scaled, and close to the full histogram's where the edges agree
    const search = await large.search();
    const s500 = (await search.histogram((await large.store.embedding(7))!, { bins: 20, excludeId: 7, sampleSize: 500 })) as typeof sampled;
    expect(s500.sample).toMatchObject({ size: 500, of: N - 1 });
    expect(s500.sample.margin).toBeGreaterThan(0);
    const ids = sampleIds(
      Int32Array.from({ length: 100 }, (_, i) => i),
      10,
    );
    expect(new Set(ids).size).toBe(10);
    expect(Array.from(ids)).toEqual(
      Array.from(
        sampleIds(
          Int32Array.from({ length: 100 }, (_, i) => i),
          10,
        ),
      ),
    );
  });

  it('maps: a layout of a sample, every other image placed among its nearest sampled ones, clusters kept apart', async () => {
    const m = await large.map({ method: 'tsne' }, { sample: 500 });
    expect(m.params['sample']).toBe(500);
    expect(m.ids).toHaveLength(N);
    expect(m.coords.data.every(Number.isFinite)).toBe(true);
    // the synthetic clusters (row i in cluster i mod 6): an image's nearest on the map is of its cluster
    const cluster = (id: number): number => (id - 1) % 6;
    const rows = Array.from({ length: N - COPIES }, (_, i) => i).filter((i) => i % 10 === 0);
    let same = 0;
    for (const r of rows) {
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < N - COPIES; j++) {
        if (j === r) continue;
        const d = Math.hypot(m.coords.data[2 * r]! - m.coords.data[2 * j]!, m.coords.data[2 * r + 1]! - m.coords.data[2 * j + 1]!);
        if (d < bestD) [best, bestD] = [j, d];
      }
      if (cluster(m.ids[best]!) === cluster(m.ids[r]!)) same++;
    }
    expect(same / rows.length).toBeGreaterThan(0.9);
    expect((await large.map({ method: 'tsne' }, { sample: 500 })).cached).toBe(true);
  });

  it('duplicates: HNSW candidates block by block find the same groups as all pairs in memory', async () => {
    const inMemory = await small.duplicates();
    const streamed = await large.duplicates();
    expect(streamed).toEqual(inMemory);
    expect(streamed.length).toBe(COPIES);
    for (const g of streamed) expect(g.duplicates).toHaveLength(1);
  });
});
