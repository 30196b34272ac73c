import { describe, expect, it } from 'vitest';
import { Random, matrix } from '../../src/core/index.js';
import { pca } from '../../src/projection/index.js';
import { exactKnnSteps } from '../../src/projection/knn.js';
import { Helper, allocator, type ShareName } from '../../src/projection/parallel.js';
import { drain } from '../../src/projection/steps.js';

/** Adds 1 to every other element: thread t takes the elements of parity t. */
function bump(thread: number, threads: number, b: { values: Int32Array }): void {
  for (let i = thread; i < b.values.length; i += threads) b.values[i]! += 1;
}

describe('worker helper', () => {
  it('runs a kernel on a second thread over shared memory (the worker module imports it by name)', () => {
    const r = new Random(3);
    const n = 600;
    const d = 16;
    const data = new Float64Array(n * d).map(() => r.normal());
    const before = Helper.failures;
    const two = drain(exactKnnSteps(data, n, d, 5, 2));
    const one = drain(exactKnnSteps(data, n, d, 5, 1));
    expect(Helper.failures).toBe(before);
    expect(Array.from(two.indices)).toEqual(Array.from(one.indices));
  });

  it('does the share itself when the worker cannot run it, and counts the failure', () => {
    const before = Helper.failures;
    const values = allocator(true).i32(10);
    let calls = 0;
    const share = (thread: number, threads: number, b: { values: Int32Array }): void => {
      calls++;
      bump(thread, threads, b);
    };
    // the worker knows no kernel by this name: it fails on the first command
    const helper = new Helper('no-such-kernel' as ShareName, share, { values }, 2);
    const started = Date.now();
    helper.run();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(helper.threaded).toBe(false);
    expect(Helper.failures).toBe(before + 1);
    expect(calls).toBe(2);
    expect(values.every((v) => v === 1)).toBe(true);
  });

  it('PCA passes and kNN run on two threads without a worker failure', () => {
    const before = Helper.failures;
    const r = new Random(2);
    const m = matrix(
      600,
      300,
      Float32Array.from({ length: 600 * 300 }, () => r.normal()),
    );
    const one = pca(m, { nComponents: 10, threads: 1 });
    const two = pca(m, { nComponents: 10, threads: 2 });
    expect(Array.from(two.coords.data)).toEqual(Array.from(one.coords.data));
    const x = Float64Array.from(m.data.subarray(0, 600 * 20));
    const k1 = drain(exactKnnSteps(x, 600, 20, 15, 1));
    const k2 = drain(exactKnnSteps(x, 600, 20, 15, 2));
    expect(Array.from(k2.indices)).toEqual(Array.from(k1.indices));
    expect(Array.from(k2.distances)).toEqual(Array.from(k1.distances));
    expect(Helper.failures).toBe(before);
  });
});
