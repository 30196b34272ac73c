/** findImages: text matched against labels, predictions, ImageNet classes and paths, with the kind of each match. */
import { describe, expect, it } from 'vitest';
import { findImages, type FindSource } from '../../src/collection/index.js';

const rows: Record<number, { path: string; top1: number }> = {
  1: { path: 'flowers/rose/001.jpg', top1: 985 }, // daisy
  2: { path: 'flowers/rose/002.jpg', top1: 738 }, // pot
  3: { path: 'flowers/sunflower/003.jpg', top1: 985 },
  4: { path: 'pets/Egyptian cat.jpg', top1: 285 }, // Egyptian_cat
  5: { path: 'machines/crane.jpg', top1: 517 }, // crane (the machine; 134 is the bird)
  6: { path: 'birds/x.jpg', top1: 134 },
};

const source = (extra: Partial<FindSource> = {}): FindSource => ({
  ids: [1, 2, 3, 4, 5, 6],
  path: (id) => rows[id]!.path,
  top1: (id) => rows[id]!.top1,
  labels: new Map([
    [1, 'rose'],
    [3, 'sunflower'],
  ]),
  ...extra,
});

describe('findImages', () => {
  it('finds labels, then trained predictions, then classes, then paths, each with its kind', () => {
    const prediction = (id: number): string | null => (id === 2 ? 'rose' : id === 6 ? 'sunflower' : null);
    const found = findImages('Rose', source({ prediction }));
    expect(found).toEqual([
      { kind: 'label', name: 'rose', ids: [1] },
      { kind: 'prediction', name: 'rose', ids: [2] },
      { kind: 'path', name: 'Rose', ids: [1, 2] },
    ]);
  });

  it('ignores case, spaces, underscores and hyphens; a class is found by its name and kept apart from a namesake', () => {
    expect(findImages('egyptian-cat', source())).toEqual([
      { kind: 'class', name: 'Egyptian_cat', index: 285, ids: [4] },
      { kind: 'path', name: 'egyptian-cat', ids: [4] },
    ]);
    const cranes = findImages('crane', source()).filter((g) => g.kind === 'class');
    expect(cranes.map((g) => [g.index, g.ids])).toEqual([
      [134, [6]],
      [517, [5]],
    ]);
  });

  it('puts exact names before partial ones and finds nothing for empty text', () => {
    const found = findImages('daisy', source({ labels: new Map([[2, 'daisy chain']]) }));
    expect(found.map((g) => [g.kind, g.name])).toEqual([
      ['label', 'daisy chain'],
      ['class', 'daisy'],
    ]);
    expect(findImages('   ', source())).toEqual([]);
    expect(findImages('zebra', source())).toEqual([]);
  });
});
