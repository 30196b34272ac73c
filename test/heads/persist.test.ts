import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isConvlensError, type Matrix } from '../../src/core/index.js';
import {
  loadHead,
  loadModelDir,
  MODEL_FILE,
  saveModelDir,
  selectRows,
  stratifiedSplit,
  trainHead,
  type BackboneInfo,
  type Head,
  type HeadType,
} from '../../src/heads/index.js';
import { syntheticClasses } from '../helpers/synthetic-classes.js';

const root = mkdtempSync(join(tmpdir(), 'convlens-heads-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const { x, labels } = syntheticClasses({ classes: 3, perClass: 30, dim: 48, separation: 6, seed: 21 });
const s = stratifiedSplit(labels, 0.2, { seed: 2 });
const xTr = selectRows(x, s.train);
const yTr = s.train.map((i) => labels[i]!);
const xVa = selectRows(x, s.val);
const backbone: BackboneInfo = { model: 'resnet50-imagenet', layer: 'avg_pool', resize: 'crop', dim: 48 };

const heads: Record<HeadType, Head> = {
  softmax: trainHead(xTr, yTr, { type: 'softmax', scaling: 'l2+standardize' }),
  knn: trainHead(xTr, yTr, { type: 'knn' }),
  svm: trainHead(xTr, yTr, { type: 'svm', l2: 0.1 }),
};

function sameProba(a: Head, b: Head, m: Matrix): void {
  expect(Array.from(b.predictProba(m).data)).toEqual(Array.from(a.predictProba(m).data));
  expect(b.predictTop(m, 2)).toEqual(a.predictTop(m, 2));
}

function expectError(f: () => unknown, code: string, message: RegExp, file?: string): void {
  try {
    f();
  } catch (e) {
    if (!isConvlensError(e)) throw e;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    if (file) expect(e.file).toBe(file);
    return;
  }
  throw new Error('expected an error');
}

describe('model directory', () => {
  for (const type of ['softmax', 'knn', 'svm'] as const) {
    it(`saves and loads a ${type} head that predicts identically`, () => {
      const dir = join(root, type);
      const metrics = { accuracy: 0.9 };
      const path = saveModelDir(dir, heads[type], {
        backbone,
        metrics,
        training: { seed: 42 },
        createdAt: new Date('2025-01-02T03:04:05Z'),
      });
      expect(path).toBe(join(dir, MODEL_FILE));
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      expect(doc).toMatchObject({
        format: 'convlens-model',
        formatVersion: 1,
        createdAt: '2025-01-02T03:04:05.000Z',
        backbone,
        metrics,
        head: { type, dim: 48, classes: ['c0', 'c1', 'c2'] },
      });
      const loaded = loadModelDir(dir);
      expect(loaded.head.type).toBe(type);
      expect(loaded.backbone).toEqual(backbone);
      expect(loaded.metrics).toEqual(metrics);
      expect(loaded.training).toEqual({ seed: 42 });
      sameProba(heads[type], loaded.head, xVa);
      // the JSON file path works too
      sameProba(heads[type], loadModelDir(path).head, xVa);
    });

    it(`round-trips a ${type} head through JSON text`, () => {
      const back = loadHead(JSON.parse(JSON.stringify(heads[type])));
      sameProba(heads[type], back, xVa);
      expect(back.toJSON()).toEqual(heads[type].toJSON());
    });
  }

  it('stores k-NN training rows as .npy and removes arrays a replaced model no longer uses', () => {
    const dir = join(root, 'replace');
    saveModelDir(dir, heads.knn, { backbone });
    expect(readdirSync(dir).sort()).toEqual(['convlens-model.json', 'labels.npy', 'train.npy']);
    saveModelDir(dir, heads.softmax, { backbone });
    expect(readdirSync(dir).sort()).toEqual(['bias.npy', 'convlens-model.json', 'scaling_mean.npy', 'scaling_std.npy', 'weight.npy']);
  });

  it('refuses a backbone whose dim differs from the head', () => {
    expectError(
      () => saveModelDir(join(root, 'dim'), heads.softmax, { backbone: { ...backbone, dim: 2048 } }),
      'E_SETTINGS_MISMATCH',
      /dim 2048/,
    );
  });
});

describe('corrupt model directories', () => {
  const dir = join(root, 'corrupt');
  const json = join(dir, MODEL_FILE);
  const fresh = (): Record<string, any> => {
    rmSync(dir, { recursive: true, force: true });
    saveModelDir(dir, heads.softmax, { backbone });
    return JSON.parse(readFileSync(json, 'utf8'));
  };
  const write = (doc: unknown) => writeFileSync(json, JSON.stringify(doc));

  it('names a missing directory or description', () => {
    expectError(() => loadModelDir(join(root, 'nope')), 'E_NOT_FOUND', /no such model directory/);
    fresh();
    rmSync(json);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /convlens-model\.json: missing/, json);
  });

  it('rejects JSON that is broken, foreign or from a newer version', () => {
    fresh();
    writeFileSync(json, '{"format": "convlens-model", ');
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /not valid JSON/, json);
    write({ ...fresh(), format: 'keras' });
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /not a convlens model description/, json);
    write({ ...fresh(), formatVersion: 2 });
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /format version 2 was written by a newer convlens/, json);
    const doc = fresh();
    doc['head'].type = 'forest';
    write(doc);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /unknown head type "forest"/, json);
    write({ ...fresh(), backbone: { model: 'x' } });
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /backbone must be/, json);
    const few = fresh();
    few['head'].classes = ['only'];
    write(few);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /at least 2 distinct/, json);
  });

  it('names a missing, truncated or mis-shaped array file', () => {
    fresh();
    const weight = join(dir, 'weight.npy');
    rmSync(weight);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /weight\.npy: missing/, weight);
    fresh();
    writeFileSync(weight, readFileSync(weight).subarray(0, 200));
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /weight\.npy.*data size/, weight);
    const doc = fresh();
    doc['head'].arrays.weight.shape = [3, 47];
    write(doc);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /shape 3×48 differs/, weight);
    const evil = fresh();
    evil['head'].arrays.weight.file = '../../etc/passwd.npy';
    write(evil);
    expectError(() => loadModelDir(dir), 'E_BAD_INPUT', /bad file name/, json);
    expect(existsSync(dir)).toBe(true);
  });
});
