import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { Collection } from '../../src/collection/index.js';
import { ExactIndex } from '../../src/search/index.js';
import { jsonLines, runCli } from '../helpers/cli.js';
import { flowerEmbeddings, FLOWERS } from '../helpers/flowers.js';
import { CAT } from '../helpers/image-fixtures.js';
import { EXAMPLES, skipNote } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'convlens-search-cli-'));
const db = join(tmp, 'photos.db');
const MOTO_L = join(EXAMPLES, 'skimage', 'motorcycle_left.png');
const MOTO_R = join(EXAMPLES, 'skimage', 'motorcycle_right.png');

beforeAll(async () => {
  const c = await Collection.open(db, { create: true });
  await c.index([EXAMPLES]);
  await c.close();
});

describe('similar', () => {
  it('ranks the collection for an indexed image, excluding it; scores match a brute-force cosine', async () => {
    const r = await runCli(['similar', MOTO_L, '--db', db, '--json']);
    expect(r.code).toBe(0);
    const [out] = jsonLines(r.stdout);
    expect(out.metric).toBe('cosine');
    expect(out.results).toHaveLength(5);
    expect(out.results[0].path).toBe(MOTO_R);
    expect(out.results.map((x: { path: string }) => x.path)).not.toContain(MOTO_L);
    const scores = out.results.map((x: { score: number }) => x.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    const c = await Collection.open(db, { readonly: true });
    const a = (await c.store.embedding((await c.imageByFile(MOTO_L))!.id))!;
    const b = (await c.store.embedding((await c.imageByFile(MOTO_R))!.id))!;
    await c.close();
    let d = 0,
      na = 0,
      nb = 0;
    for (let i = 0; i < a.length; i++) {
      d += a[i]! * b[i]!;
      na += a[i]! ** 2;
      nb += b[i]! ** 2;
    }
    expect(out.results[0].score).toBeCloseTo(d / Math.sqrt(na * nb), 5);
  });

  it('euclidean distances ascend; a threshold without -k returns every match', async () => {
    const e = jsonLines((await runCli(['similar', CAT, '--db', db, '--metric', 'euclidean', '-k', '4', '--json'])).stdout)[0];
    const d = e.results.map((x: { score: number }) => x.score);
    expect(d).toEqual([...d].sort((a, b) => a - b));
    const all = jsonLines((await runCli(['similar', CAT, '--db', db, '--min-similarity', '0.25', '--json'])).stdout)[0].results;
    const wide = jsonLines((await runCli(['similar', CAT, '--db', db, '-k', '43', '--json'])).stdout)[0].results;
    expect(all.length).toBe(wide.filter((x: { score: number }) => x.score >= 0.25).length);
    expect(all.length).toBeGreaterThan(5);
  });

  it('embeds a query image that is not in the collection, without storing it', async () => {
    const q = join(tmp, 'mirrored motorcycle.jpg');
    await sharp(MOTO_L).flop().jpeg().toFile(q);
    const r = await runCli(['similar', q, '--db', db, '-k', '1']);
    expect(r.stdout).toContain('(not in the collection)');
    expect(r.stdout).toMatch(/motorcycle_(left|right)\.png/);
    const c = await Collection.open(db, { readonly: true });
    expect((await c.store.count()).images).toBe(44);
    await c.close();
  });

  it('uses a saved HNSW index when one is built, with the same neighbours as the exact scan here', async () => {
    const r = await runCli(['index', EXAMPLES, '--db', db, '--hnsw', 'always', '--json']);
    const [summary] = jsonLines(r.stdout);
    expect(summary.hnsw).toBe(`${db}.cosine.hnsw`);
    const approx = jsonLines((await runCli(['similar', CAT, '--db', db, '-k', '8', '--json'])).stdout)[0].results;
    const exact = jsonLines((await runCli(['similar', CAT, '--db', db, '-k', '8', '--exact', '--json'])).stdout)[0].results;
    expect(approx.map((x: { path: string }) => x.path)).toEqual(exact.map((x: { path: string }) => x.path));
    approx.forEach((x: { score: number }, i: number) => expect(x.score).toBeCloseTo(exact[i].score, 2)); // f16 storage

    // with a fresh HNSW index, top-k queries never read the embedding matrix into memory
    const c = await Collection.open(db, { readonly: true });
    const readAll = vi.spyOn(c.store, 'embeddings');
    const [first] = await c.store.images({ limit: 1 });
    const { results } = await c.similar({ id: first!.id }, { k: 3 });
    expect(results).toHaveLength(3);
    expect(results.map((n) => n.id)).not.toContain(first!.id);
    expect(readAll).not.toHaveBeenCalled();
    const exactly = await c.similar({ id: first!.id }, { k: 3, approximate: false });
    expect(readAll).toHaveBeenCalledTimes(1);
    // the scores reported are the exact ones either way (HNSW's f16 scores are rescored)
    expect(results).toEqual(exactly.results);
    expect(c.lensLoaded).toBe(false);
    await c.close();
  });

  it('refuses mismatched threshold flags and missing databases', async () => {
    const a = await runCli(['similar', CAT, '--db', db, '--max-distance', '3']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('a distance threshold goes with the euclidean metric');
    const b = await runCli(['similar', CAT, '--db', join(tmp, 'none.db')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('[E_DB]');
  });
});

describe('histogram, duplicates, stats, label + knn', () => {
  it('histogram: similarities to all others, plotted', async () => {
    const out = join(tmp, 'hist.png');
    const r = await runCli(['histogram', MOTO_L, '--db', db, '--out', out, '--json']);
    const [h] = jsonLines(r.stdout);
    expect(h.count).toBe(43);
    expect(h.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(43);
    expect(h.max).toBeGreaterThan(0.9); // its stereo twin
    expect(h.matches).toBeGreaterThanOrEqual(1);
    const meta = await sharp(out).metadata();
    expect(meta.format).toBe('png');
  });

  it('duplicates by embeddings alone: the stereo pair is one group', async () => {
    const [d] = jsonLines((await runCli(['duplicates', '--db', db, '--min-similarity', '0.9', '--json'])).stdout);
    expect(d.method).toBe('embedding');
    expect(d.groups.map((g: { keep: string; duplicates: string[] }) => [g.keep, ...g.duplicates].sort())).toEqual([
      [MOTO_L, MOTO_R].sort(),
    ]);
  });

  it('stats: counts, dimension, zero fractions, top-1 classes', async () => {
    const [s] = jsonLines((await runCli(['stats', '--db', db, '--json', '--plot', join(tmp, 'zf.png')])).stdout);
    expect(s).toMatchObject({ count: 44, embedded: 44, failed: 0, dim: 2048 });
    expect(s.zeroFraction.min).toBeLessThanOrEqual(s.zeroFraction.mean);
    expect(s.zeroFraction.histogram.counts.reduce((a: number, b: number) => a + b, 0)).toBe(44);
    expect(s.top1.reduce((a: number, c: { count: number }) => a + c.count, 0)).toBe(44);
  });

  it('label images, then classify the rest of the collection', async () => {
    const animals = ['skimage/chelsea.png', 'opencv/chicky_512.png', 'opencv/baboon.jpg', 'opencv/squirrel_cls.jpg'].map((p) =>
      join(EXAMPLES, p),
    );
    const textures = ['skimage/brick.png', 'skimage/grass.png', 'skimage/gravel.png', 'opencv/board.jpg'].map((p) => join(EXAMPLES, p));
    expect((await runCli(['label', ...animals, '--as', 'animal', '--db', db])).code).toBe(0);
    const t = await runCli(['label', ...textures, '--as', 'texture', '--db', db, '--json']);
    expect(jsonLines(t.stdout)[0].labels).toEqual([
      { label: 'animal', count: 4 },
      { label: 'texture', count: 4 },
    ]);
    const notIndexed = await runCli(['label', join(tmp, 'nope.jpg'), '--as', 'x', '--db', db]);
    expect(notIndexed.code).toBe(2);
    const k = await runCli(['knn', '--db', db, '--k', '3', '--json']);
    const [result] = jsonLines(k.stdout);
    expect(result.predictions).toHaveLength(44 - 8);
    expect(result.predictions.find((r: { file: string }) => r.file.endsWith('butterfly.jpg'))?.label).toBe('animal');
    // cross-validated metrics, the same as the web app's training reports
    expect(result.metrics).toMatchObject({ folds: 4, n: 8 });
    expect(result.metrics.accuracy).toBeGreaterThanOrEqual(0.75);
    expect(result.labelled).toEqual([
      { label: 'animal', count: 4 },
      { label: 'texture', count: 4 },
    ]);
  });
});

describe.skipIf(!FLOWERS)(FLOWERS ? 'visual search on the shared flowers' : skipNote('the flower search test'), () => {
  it('the 5 most similar images (cosine) of a flower are mostly its class', async () => {
    const set = await flowerEmbeddings('crop');
    const index = new ExactIndex(set.matrix, { metric: 'cosine' });
    let same = 0;
    for (let i = 0; i < set.matrix.rows; i++) {
      const q = set.matrix.data.subarray(i * 2048, (i + 1) * 2048);
      const nn = await index.search(q, { k: 5, exclude: [i] });
      same += nn.filter((n) => set.labels[n.id] === set.labels[i]).length;
    }
    const precision = same / (set.matrix.rows * 5);
    console.log(`flowers crop: cosine top-5 neighbours share the query's class ${(precision * 100).toFixed(1)}% of the time`);
    expect(precision).toBeGreaterThanOrEqual(0.8);
  });
});

describe('one file, one row; one score', () => {
  it('indexes nested roots without duplicates: the query is not its own neighbour, no duplicate groups of one file', async () => {
    const nested = join(tmp, 'nested.db');
    expect((await runCli(['index', EXAMPLES, '--db', nested, '--json'])).code).toBe(0);
    const [inner] = jsonLines((await runCli(['index', join(EXAMPLES, 'skimage'), '--db', nested, '--json'])).stdout);
    expect(inner.indexed).toBe(0);
    const c = await Collection.open(nested, { readonly: true });
    expect((await c.store.count()).images).toBe(44);
    await c.close();
    const similar = await runCli(['similar', MOTO_L, '--db', nested, '-k', '3', '--json']);
    expect(similar.code, similar.stderr).toBe(0);
    const [sim] = jsonLines(similar.stdout);
    expect(sim.results.map((r: { path: string }) => r.path)).not.toContain(MOTO_L);
    expect(sim.results[0].path).toBe(MOTO_R);
    const [dup] = jsonLines((await runCli(['duplicates', '--db', nested, '--min-similarity', '0.99', '--json'])).stdout);
    expect(dup.groups).toEqual([]);
  });

  it('a threshold equal to a reported score, or to the histogram max, includes that image', async () => {
    const [h] = jsonLines((await runCli(['histogram', MOTO_L, '--db', db, '--out', join(tmp, 'h.svg'), '--json'])).stdout);
    const [top] = jsonLines((await runCli(['similar', MOTO_L, '--db', db, '-k', '1', '--exact', '--json'])).stdout);
    expect(h.max).toBe(top.results[0].score);
    const [at] = jsonLines((await runCli(['similar', MOTO_L, '--db', db, '--min-similarity', String(h.max), '--json'])).stdout);
    expect(at.results.map((r: { path: string }) => r.path)).toEqual([MOTO_R]);
    const [hat] = jsonLines(
      (await runCli(['histogram', MOTO_L, '--db', db, '--out', join(tmp, 'h.svg'), '--threshold', String(h.max), '--json'])).stdout,
    );
    expect(hat.matches).toBe(1);
    const [e] = jsonLines((await runCli(['similar', MOTO_L, '--db', db, '--metric', 'euclidean', '-k', '1', '--json'])).stdout);
    const [ed] = jsonLines(
      (await runCli(['similar', MOTO_L, '--db', db, '--metric', 'euclidean', '--max-distance', String(e.results[0].score), '--json']))
        .stdout,
    );
    expect(ed.results).toHaveLength(1);
  });
});
