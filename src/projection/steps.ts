/**
 * Running step generators: synchronously (drain) or in slices of ~20 ms (or one step, where a step
 * is longer: ~30 ms for PCA and kNN steps, one t-SNE iteration at 20 000 points) between which the
 * event loop runs (sliced), so a server that computes a map keeps answering requests.
 */

/** Runs a step generator to completion and returns its result. */
export function drain<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

const SLICE_MS = 20;

/**
 * Runs steps, yielding to the event loop after ~20 ms slices. onValue sees every yielded value and may
 * return false to stop; an aborted signal stops at the next step. Returns the generator's result,
 * or undefined when stopped early.
 */
export async function sliced<Y, T>(
  steps: Generator<Y, T>,
  onValue?: (value: Y) => void | boolean,
  signal?: AbortSignal,
): Promise<T | undefined> {
  let sliceStart = performance.now();
  for (;;) {
    if (signal?.aborted === true) return undefined;
    const r = steps.next();
    if (r.done === true) return r.value;
    if (onValue !== undefined && onValue(r.value) === false) return undefined;
    if (performance.now() - sliceStart >= SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
