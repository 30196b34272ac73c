import { describe, expect, it } from 'vitest';
import { ConvlensError, Random, matrix, row, type Matrix } from '../../src/core/index.js';
import { ExactIndex, similarities, type Metric, type Neighbour, type SearchOptions } from '../../src/search/index.js';
import { syntheticEmbeddings } from '../helpers/synthetic-embeddings.js';

/** Float64 brute force: every score, sorted best first with ties in row order, then filtered. */
function reference(m: Matrix, q: Float32Array, metric: Metric, opts: SearchOptions & { ids?: number[] } = {}): Neighbour[] {
  const all: { row: number; score: number }[] = [];
  for (let i = 0; i < m.rows; i++) {
    let dot = 0;
    let qq = 0;
    let xx = 0;
    let l2 = 0;
    for (let j = 0; j < m.cols; j++) {
      const x = m.data[i * m.cols + j]!;
      dot += q[j]! * x;
      qq += q[j]! * q[j]!;
      xx += x * x;
      l2 += (q[j]! - x) ** 2;
    }
    all.push({ row: i, score: metric === 'cosine' ? (qq > 0 && xx > 0 ? dot / Math.sqrt(qq * xx) : 0) : Math.sqrt(l2) });
  }
  const sign = metric === 'cosine' ? -1 : 1;
  all.sort((a, b) => sign * (a.score - b.score) || a.row - b.row);
  const id = (r: number): number => opts.ids?.[r] ?? r;
  const excluded = new Set(opts.exclude ?? []);
  let out = all.filter((x) => !excluded.has(id(x.row)));
  if (opts.minSimilarity !== undefined) out = out.filter((x) => x.score >= opts.minSimilarity!);
  if (opts.maxDistance !== undefined) out = out.filter((x) => x.score <= opts.maxDistance!);
  const k = opts.k ?? (opts.minSimilarity === undefined && opts.maxDistance === undefined ? 10 : Infinity);
  return out.slice(0, k).map((x) => ({ id: id(x.row), score: x.score }));
}

function expectSame(got: Neighbour[], want: Neighbour[]): void {
  expect(got.map((n) => n.id)).toEqual(want.map((n) => n.id));
  got.forEach((n, i) => expect(n.score).toBeCloseTo(want[i]!.score, 9));
}

/** Random rows (some negative values), a zero row, and exact copies so that ties exist. */
function randomData(rows: number, cols: number, seed: number): Matrix {
  const rng = new Random(seed);
  const m = matrix(rows, cols);
  for (let i = 0; i < m.data.length; i++) m.data[i] = rng.normal() + 0.3;
  m.data.fill(0, 5 * cols, 6 * cols); // row 5: zero vector
  for (const copy of [21, 22, 40]) m.data.copyWithin(copy * cols, 20 * cols, 21 * cols); // rows 20, 21, 22, 40 equal
  return m;
}

describe('ExactIndex', () => {
  const m = randomData(600, 96, 7);
  const queries = [row(m, 3), row(m, 20), Float32Array.from(row(m, 100), (v, i) => v + 0.01 * Math.sin(i))];

  for (const metric of ['cosine', 'euclidean'] as const) {
    const index = new ExactIndex(m, { metric });

    it(`${metric}: top-k equals the float64 brute force`, async () => {
      for (const q of queries) {
        for (const k of [1, 10, 37]) expectSame(await index.search(q, { k }), reference(m, q, metric, { k }));
      }
      expectSame(await index.search(queries[0]!), reference(m, queries[0]!, metric));
    });

    it(`${metric}: ties come back in row order and exclusions are honoured`, async () => {
      const q = row(m, 20);
      const got = await index.search(q, { k: 5, exclude: [20] });
      expect(got.slice(0, 3).map((n) => n.id)).toEqual([21, 22, 40]);
      expect(got[0]!.score).toBe(metric === 'cosine' ? got[1]!.score : 0);
      expectSame(got, reference(m, q, metric, { k: 5, exclude: [20] }));
      expectSame(await index.search(q, { k: 4, exclude: [22, 20, 9999] }), reference(m, q, metric, { k: 4, exclude: [20, 22] }));
    });

    it(`${metric}: thresholds, with and without k`, async () => {
      const q = queries[2]!;
      const all = reference(m, q, metric, { k: 600 });
      const cut = all[57]!.score; // a threshold that admits 58 rows
      const thr: SearchOptions = metric === 'cosine' ? { minSimilarity: cut } : { maxDistance: cut };
      const every = await index.search(q, thr);
      expect(every.length).toBe(58);
      expectSame(every, reference(m, q, metric, thr));
      expectSame(await index.search(q, { ...thr, k: 20 }), reference(m, q, metric, { ...thr, k: 20 }));
      expectSame(
        await index.search(q, { ...thr, k: 100, exclude: [all[0]!.id] }),
        reference(m, q, metric, { ...thr, k: 100, exclude: [all[0]!.id] }),
      );
    });

    it(`${metric}: a batch gives the same lists as single queries`, async () => {
      const qs = matrix(3, m.cols);
      queries.forEach((q, i) => qs.data.set(q, i * m.cols));
      const batch = await index.searchBatch(qs, { k: 12, exclude: [3] });
      for (let i = 0; i < queries.length; i++) expectSame(batch[i]!, await index.search(queries[i]!, { k: 12, exclude: [3] }));
    });

    it(`${metric}: scores() gives every row's score`, async () => {
      const q = row(m, 20);
      const s = await similarities(q, m, metric);
      const want = reference(m, q, metric, { k: 600 });
      expect(s.length).toBe(600);
      for (const n of want) expect(s[n.id]).toBeCloseTo(n.score, 5);
      if (metric === 'euclidean')
        expect(s[20]).toBe(0); // no cancellation noise on the query itself
      else expect(s[5]).toBe(0); // zero vector
    });
  }

  it('maps ids and excludes by id', async () => {
    const ids = Array.from({ length: m.rows }, (_, i) => 1000 + 3 * i);
    const index = new ExactIndex(m, { ids });
    const q = row(m, 20);
    expectSame(await index.search(q, { k: 6, exclude: [1060] }), reference(m, q, 'cosine', { k: 6, exclude: [1060], ids }));
  });

  it('gives the same answers for a matrix that is a view into a larger buffer', async () => {
    // (usearch's exactSearch ignores byteOffset; views must still give exact answers)
    const big = new Float32Array((m.rows + 7) * m.cols);
    big.set(m.data, 7 * m.cols);
    const view: Matrix = { rows: m.rows, cols: m.cols, data: big.subarray(7 * m.cols) };
    for (const metric of ['cosine', 'euclidean'] as const) {
      const index = new ExactIndex(view, { metric });
      for (const i of [3, 20, 100]) expectSame(await index.search(row(m, i), { k: 5 }), reference(m, row(m, i), metric, { k: 5 }));
    }
  });

  it('rejects bad requests with E_USAGE', async () => {
    const index = new ExactIndex(m, { metric: 'euclidean' });
    const code = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'ok',
        (e: ConvlensError) => e.code,
      );
    expect(await code(index.search(row(m, 0), { minSimilarity: 0.5 }))).toBe('E_USAGE');
    expect(await code(index.search(new Float32Array(3)))).toBe('E_USAGE');
    expect(await code(index.search(row(m, 0), { k: 0 }))).toBe('E_USAGE');
    expect(() => new ExactIndex(m, { ids: [1, 2, 3] })).toThrow(ConvlensError);
  });

  it('returns nothing from an empty matrix', async () => {
    expect(await new ExactIndex(matrix(0, 8)).search(new Float32Array(8))).toEqual([]);
  });
});

describe('ExactIndex with int8 storage', () => {
  it('gives the float32 top-k after rescoring, on clustered data', async () => {
    const m = await syntheticEmbeddings(4000, { dims: 512, clusters: 20, seed: 3 });
    for (const metric of ['cosine', 'euclidean'] as const) {
      const f32 = new ExactIndex(m, { metric });
      const i8 = new ExactIndex(m, { metric, storage: 'i8' });
      expect(i8.extraBytes).toBeGreaterThanOrEqual(4000 * 512);
      for (let r = 0; r < 40; r++) {
        const q = row(m, r * 97);
        const opts: SearchOptions = { k: 10, exclude: [r * 97] };
        expectSame(await i8.search(q, opts), await f32.search(q, opts));
      }
      const q = row(m, 1);
      const thr: SearchOptions = metric === 'cosine' ? { minSimilarity: 0.8 } : { maxDistance: 14 }; // a dozen matches or more
      expectSame(await i8.search(q, thr), await f32.search(q, thr));
    }
  });
});
