import { describe, expect, it } from 'vitest';
import { stratifiedKFold, stratifiedSplit } from '../../src/heads/index.js';

const labels = [...Array(50).fill('a'), ...Array(30).fill('b'), ...Array(20).fill('c')] as string[];

describe('stratifiedSplit', () => {
  it('splits each class in proportion, deterministically for a seed', () => {
    const s = stratifiedSplit(labels, 0.2, { seed: 1 });
    const count = (rows: number[], l: string) => rows.filter((i) => labels[i] === l).length;
    expect([count(s.val, 'a'), count(s.val, 'b'), count(s.val, 'c')]).toEqual([10, 6, 4]);
    expect([...s.train, ...s.val].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    expect(s.train).toEqual([...s.train].sort((a, b) => a - b));
    expect(stratifiedSplit(labels, 0.2, { seed: 1 })).toEqual(s);
    expect(stratifiedSplit(labels, 0.2, { seed: 2 }).val).not.toEqual(s.val);
  });

  it('keeps one training row per class and groups on one side', () => {
    const tiny = stratifiedSplit(['a', 'a', 'b'], 0.9);
    expect(tiny.val).toHaveLength(1);
    expect(tiny.train).toContain(2);
    const groups = labels.map((_, i) => Math.floor(i / 2));
    const s = stratifiedSplit(labels, 0.3, { seed: 4, groups });
    const valGroups = new Set(s.val.map((i) => groups[i]));
    expect(s.train.some((i) => valGroups.has(groups[i]))).toBe(false);
    // 25, 15 and 10 pairs: round(7.5) + round(4.5) + 3 pairs
    expect(s.val.length).toBe(32);
  });

  it('rejects a bad fraction', () => {
    expect(() => stratifiedSplit(labels, 1)).toThrow(/\[0, 1\)/);
  });
});

describe('stratifiedKFold', () => {
  it('partitions the rows into even, stratified folds', () => {
    const folds = stratifiedKFold(labels, 5, { seed: 3 });
    expect(folds.flat().sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    for (const f of folds) {
      expect(f.length).toBe(20);
      expect(f.filter((i) => labels[i] === 'c').length).toBe(4);
    }
    expect(stratifiedKFold(labels, 5, { seed: 3 })).toEqual(folds);
  });

  it('keeps groups in one fold', () => {
    const groups = labels.map((_, i) => i % 25);
    const folds = stratifiedKFold(labels, 4, { groups });
    const foldOf = new Map<number, number>();
    folds.forEach((f, k) =>
      f.forEach((i) => {
        const g = groups[i]!;
        expect(foldOf.get(g) ?? k).toBe(k);
        foldOf.set(g, k);
      }),
    );
  });
});
