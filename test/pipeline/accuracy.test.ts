import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { topIndices } from '../../src/imagenet/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { sharedDataPath, skipNote } from '../helpers/paths.js';

const dir = sharedDataPath('imagenet-100');
const lenses: ConvLens[] = [];
afterAll(async () => {
  for (const l of lenses) await l.dispose();
});

// On these 100 images (one per tenth class) Keras-equivalent pipelines score about 0.78 / 0.96
// (squash) and 0.91 / 0.99-1.0 (crop); the bounds leave room for a few images of noise.
const FLOOR = { squash: { top1: 0.74, top5: 0.93 }, crop: { top1: 0.86, top5: 0.97 } } as const;

describe.skipIf(!dir)(dir ? 'ImageNet top-1 / top-5 on imagenet-100' : skipNote('the ImageNet accuracy test'), () => {
  const rows = dir
    ? readFileSync(join(dir, 'labels.tsv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t'))
    : [];

  for (const resize of ['squash', 'crop'] as const) {
    it(`${resize}`, async () => {
      const lens = await ConvLens.load({ resize, batchSize: 25 });
      lenses.push(lens);
      let top1 = 0,
        top5 = 0,
        i = 0;
      for await (const { outcome } of lens.process(rows.map((r) => join(dir!, r[0]!)))) {
        if (!outcome.ok) throw outcome.error;
        const truth = Number(rows[i++]![3]);
        const best = topIndices(outcome.probabilities, 5);
        if (best[0] === truth) top1++;
        if (best.includes(truth)) top5++;
      }
      const n = rows.length;
      console.log(`imagenet-100 ${resize}: top-1 ${(top1 / n).toFixed(3)}, top-5 ${(top5 / n).toFixed(3)} (n=${n})`);
      expect(top1 / n).toBeGreaterThanOrEqual(FLOOR[resize].top1);
      expect(top5 / n).toBeGreaterThanOrEqual(FLOOR[resize].top5);
    });
  }
});
