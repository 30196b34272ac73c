import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvlensError, matrix, row, type Matrix } from '../../src/core/index.js';
import { ExactIndex, HnswIndex, type Neighbour } from '../../src/search/index.js';
import { syntheticEmbeddings } from '../helpers/synthetic-embeddings.js';

function recall(got: Neighbour[][], truth: Neighbour[][]): number {
  let hits = 0;
  let total = 0;
  got.forEach((list, i) => {
    const want = new Set(truth[i]!.map((n) => n.id));
    total += want.size;
    for (const n of list) if (want.has(n.id)) hits++;
  });
  return hits / total;
}

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as ConvlensError).code;
  }
  return undefined;
}

describe('HnswIndex', () => {
  let dir: string;
  let data: Matrix;
  let queries: Matrix;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'convlens-hnsw-'));
    data = await syntheticEmbeddings(3000, { dims: 256, clusters: 30, seed: 11 });
    queries = await syntheticEmbeddings(50, { dims: 256, clusters: 30, seed: 11, start: 1_000_000 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [metric, quantization] of [
    ['cosine', 'f16'],
    ['cosine', 'i8'],
    ['euclidean', 'f32'],
  ] as const) {
    it(`${metric} / ${quantization}: recall@10 against exact, and a save/load round trip`, async () => {
      const truth = await new ExactIndex(data, { metric }).searchBatch(queries, { k: 10 });
      const index = await HnswIndex.build(data, { metric, quantization, threads: 1 });
      expect(index.size).toBe(3000);
      const got = await index.searchBatch(queries, { k: 10 });
      // int8 keeps the graph sound but reorders near-ties at rank 10 (its scores are not rescored)
      expect(recall(got, truth)).toBeGreaterThanOrEqual(quantization === 'i8' ? 0.85 : 0.95);
      got.forEach((list) => {
        for (let i = 1; i < list.length; i++) {
          const [a, b] = [list[i - 1]!, list[i]!];
          expect(metric === 'cosine' ? a.score >= b.score : a.score <= b.score).toBe(true);
        }
      });

      const path = join(dir, `${metric}-${quantization}.usearch`);
      index.save(path);
      for (const view of [false, true]) {
        const loaded = HnswIndex.load(path, { view });
        expect([loaded.metric, loaded.quantization, loaded.dims, loaded.size]).toEqual([metric, quantization, 256, 3000]);
        const again = await loaded.searchBatch(queries, { k: 10 });
        expect(again).toEqual(got);
      }
    });
  }

  it('uses the given ids, excludes, and returns every match above a threshold', async () => {
    const ids = Array.from({ length: data.rows }, (_, i) => 5000 + i);
    const index = await HnswIndex.build(data, { ids, expansionSearch: 256 });
    const q = row(data, 7);
    const top = await index.search(q, { k: 5 });
    expect(top[0]).toEqual({ id: 5007, score: expect.closeTo(1, 3) as number });
    const rest = await index.search(q, { k: 5, exclude: [5007] });
    expect(rest.map((n) => n.id)).toEqual(
      top
        .slice(1)
        .map((n) => n.id)
        .concat(rest[4]!.id),
    );

    const exact = await new ExactIndex(data, { ids }).search(q, { minSimilarity: 0.75 });
    expect(exact.length).toBeGreaterThan(70); // more than the first request of 64 candidates
    const every = await index.search(q, { minSimilarity: 0.75 });
    expect(every.every((n) => n.score >= 0.75)).toBe(true);
    expect(recall([every], [exact])).toBeGreaterThanOrEqual(0.95);
  });

  it('adds blocks with continuing ids', async () => {
    const index = HnswIndex.create(256, { metric: 'euclidean', quantization: 'f32' });
    index.add({ rows: 1000, cols: 256, data: data.data.subarray(0, 1000 * 256) });
    index.add({ rows: 2000, cols: 256, data: data.data.subarray(1000 * 256) });
    expect(index.size).toBe(3000);
    const top = await index.search(row(data, 2500), { k: 1 });
    expect(top).toEqual([{ id: 2500, score: 0 }]);
    expect(errorCode(() => index.add(matrix(1, 256), [2500]))).toBe('E_USAGE'); // duplicate id
  });

  it('rejects bad options and files without crashing', async () => {
    expect(errorCode(() => HnswIndex.create(8, { metric: 'euclidean', quantization: 'i8' }))).toBe('E_USAGE');
    expect(errorCode(() => HnswIndex.create(8, { connectivity: 1 }))).toBe('E_USAGE');
    expect(errorCode(() => HnswIndex.load(join(dir, 'missing.usearch')))).toBe('E_NOT_FOUND');
    const junk = join(dir, 'junk.usearch');
    writeFileSync(junk, 'definitely not an index, just some text that is long enough to have a header');
    expect(errorCode(() => HnswIndex.load(junk))).toBe('E_BAD_INPUT');
    const saved = join(dir, 'small.usearch');
    (await HnswIndex.build({ rows: 500, cols: 256, data: data.data.subarray(0, 500 * 256) })).save(saved);
    const bytes = readFileSync(saved);
    // inside the vectors (usearch itself would abort the process here), inside the graph, last byte
    for (const cut of [100, 500 * 512 + 500, bytes.length - 1]) {
      const truncated = join(dir, `cut-${cut}.usearch`);
      writeFileSync(truncated, bytes.subarray(0, cut));
      expect(errorCode(() => HnswIndex.load(truncated))).toBe('E_BAD_INPUT');
    }
  });
});
