import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvLens, zeroFraction } from '../../src/pipeline/index.js';
import { CAT, makeImageFixtures, type Fixtures } from '../helpers/image-fixtures.js';

const CAT_CLASSES = new Set(['tabby', 'tiger_cat', 'Egyptian_cat', 'Persian_cat', 'Siamese_cat', 'lynx']);
let lens: ConvLens;
let fx: Fixtures;
beforeAll(async () => {
  [lens, fx] = await Promise.all([ConvLens.load({ batchSize: 4 }), makeImageFixtures()]);
});
afterAll(async () => {
  await lens.dispose();
});

describe('ConvLens', () => {
  it('classifies every odd-but-valid file, and the cat variants as cats', async () => {
    const cats = Object.entries(fx.cats);
    const results = await lens.classify(
      cats.map(([, p]) => p),
      { top: 3 },
    );
    results.forEach((r, i) => {
      expect(r.error, cats[i]![0]).toBeUndefined();
      expect(CAT_CLASSES.has(r.predictions![0]!.label), `${cats[i]![0]}: ${r.predictions![0]!.label}`).toBe(true);
    });
    const odd = await lens.classify(Object.values(fx.odd));
    for (const r of odd) expect(r.predictions).toHaveLength(5);
  });

  it('keeps input order, isolates failures and still runs the rest of the batch', async () => {
    const bad = Object.values(fx.bad);
    const inputs = [fx.cats.jpeg, ...bad.map((b) => b.path), fx.cats.webp];
    const results = await lens.classify(inputs);
    expect(results.map((r) => r.file)).toEqual(inputs);
    expect(results[0]!.predictions).toBeDefined();
    expect(results.at(-1)!.predictions).toBeDefined();
    bad.forEach((b, i) => expect(results[i + 1]!.error?.code, `${b.path}: ${results[i + 1]!.error?.message}`).toBe(b.code));
  });

  it('gives the same numbers for a path, its bytes, and batch positions', async () => {
    const bytes = readFileSync(CAT);
    const out = [];
    for await (const { outcome } of lens.process([CAT, bytes, fx.cats.jpeg, CAT, CAT])) out.push(outcome);
    const [a, b, , d, e] = out.map((o) => (o.ok ? o : null));
    expect(Array.from(a!.embedding)).toEqual(Array.from(b!.embedding));
    expect(Array.from(a!.embedding)).toEqual(Array.from(d!.embedding));
    expect(Array.from(a!.probabilities)).toEqual(Array.from(e!.probabilities));
  });

  it('embeds with avg_pool: 2048 non-negative values, some exactly zero', async () => {
    const [r] = await lens.embed([CAT]);
    expect(r!.layer).toBe('avg_pool');
    expect(r!.embedding).toHaveLength(2048);
    expect(Math.min(...r!.embedding!)).toBeGreaterThanOrEqual(0);
    expect(r!.zeroFraction).toBe(zeroFraction(r!.embedding!));
    expect(r!.zeroFraction).toBeGreaterThan(0);
    expect(r!.zeroFraction).toBeLessThan(0.5);
  });

  it('reports its settings and refuses bad options', async () => {
    expect(lens.settings).toEqual({ model: 'keras-resnet50-imagenet', layer: 'avg_pool', resize: 'crop', dim: 2048 });
    await expect(ConvLens.load({ resize: 'stretch' as never })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ConvLens.load({ batchSize: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(ConvLens.load({ layer: 'no_such_layer' })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
