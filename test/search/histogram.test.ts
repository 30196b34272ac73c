import { describe, expect, it } from 'vitest';
import { histogram } from '../../src/search/index.js';

describe('histogram', () => {
  it('splits [min, max] into equal bins, the last one closed', () => {
    const h = histogram([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { bins: 5 });
    expect(h.edges).toEqual([0, 2, 4, 6, 8, 10]);
    expect(h.counts).toEqual([2, 2, 2, 2, 3]);
    expect(h.total).toBe(11);
  });

  it('respects a range, dropping values outside it and NaN', () => {
    const h = histogram(Float32Array.from([-1, 0, 0.25, 0.5, 0.75, 1, 2, NaN]), { bins: 4, range: [0, 1] });
    expect(h.edges).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(h.counts).toEqual([1, 1, 1, 2]);
    expect(h.total).toBe(5);
  });

  it('puts values that sit on an edge in the bin that starts there', () => {
    // 0.1 * 3 is not exactly 0.3 in floating point: bins must follow the edges, not the division
    const h = histogram([0, 0.3, 0.6, 0.7, 1], { bins: 10, range: [0, 1] });
    h.edges.forEach((e, i) => {
      if (i < 10) expect(h.counts[i]).toBe([0, 0.3, 0.6, 0.7, 1].filter((v) => v >= e && (v < h.edges[i + 1]! || i === 9)).length);
    });
    expect(h.total).toBe(5);
  });

  it('widens a single value to ±0.5 and handles no values', () => {
    expect(histogram([3, 3, 3], { bins: 2 })).toEqual({ bins: 2, edges: [2.5, 3, 3.5], counts: [0, 3], total: 3 });
    expect(histogram([], { bins: 2 })).toEqual({ bins: 2, edges: [0, 0.5, 1], counts: [0, 0], total: 0 });
  });

  it('rejects bad bins and ranges', () => {
    expect(() => histogram([1], { bins: 0 })).toThrow(/bins/);
    expect(() => histogram([1], { range: [1, 0] })).toThrow(/range/);
  });
});
