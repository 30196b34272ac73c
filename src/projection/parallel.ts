/**
 * A second thread for the heavy loops (t-SNE gradient, kNN, PCA passes).
 *
 * The worker is a real module (helper-worker.ts) that imports the same kernels, found there by
 * name. The worker calls `share(1, 2, buffers, scratch)` for every command while the main thread
 * runs share(0, 2, …); buffers are typed arrays on SharedArrayBuffers and the threads meet on
 * Atomics.wait/notify, with no message per command. A worker that fails or hangs is dropped and
 * its share is done here, so results never depend on the worker (kernels are written so that the
 * split does not change them).
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../core/worker.js';

/** Control (Int32Array) slots: command number (-1 = quit), last command finished, failed, started. */
const C_COMMAND = 0,
  C_DONE = 1,
  C_FAILED = 2,
  C_STARTED = 3;
/** A worker that has not started in this long (its source did not even load) is given up. */
const START_TIMEOUT_MS = 15_000;
/** A started worker that has not finished a command in this long is given up. */
const WORKER_TIMEOUT_MS = 120_000;

/** Two threads when the machine has two cores (never more: the shares are halves). */
export function defaultThreads(): 1 | 2 {
  return availableParallelism() >= 2 ? 2 : 1;
}

/** Typed arrays on a SharedArrayBuffer (for worker threads) or an ordinary one. */
export function allocator(shared: boolean) {
  const buffer = (bytes: number): ArrayBufferLike => (shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  return {
    f64: (length: number) => new Float64Array(buffer(8 * length)),
    i32: (length: number) => new Int32Array(buffer(4 * length)),
    f32: (length: number) => new Float32Array(buffer(4 * length)),
  };
}

export type Share<B> = (thread: number, threads: number, buffers: B, scratch: object) => void;

/** The kernels a helper can run, by the name helper-worker.ts knows them by. */
export type ShareName = 'tsne-gradient' | 'knn' | 'pca-pass';

/** Runs share(0, threads, …) here and, with two threads, share(1, 2, …) on a worker, per call of run(). */
export class Helper<B extends object> {
  /** Workers that failed or hung since the process started (their shares were done here). */
  static failures = 0;
  private worker: Worker | null = null;
  private readonly control: Int32Array;
  private command = 0;
  private readonly scratch = {};

  constructor(
    name: ShareName,
    private readonly share: Share<B>,
    private readonly buffers: B,
    threads: number,
  ) {
    this.control = new Int32Array(threads > 1 ? new SharedArrayBuffer(16) : new ArrayBuffer(16));
    if (threads > 1) {
      this.worker = startWorker(import.meta.url, 'helper-worker', { buffers, control: this.control, share: name });
      // a worker blocked in Atomics.wait must not keep the process alive if close() is never called
      this.worker.unref();
      this.worker.on('error', () => this.fail());
    }
  }

  /** True while a second thread shares the work. */
  get threaded(): boolean {
    return this.worker !== null;
  }

  /** Runs one command on both threads and returns when both shares are done. */
  run(): void {
    if (this.worker === null) {
      this.share(0, 1, this.buffers, this.scratch);
      return;
    }
    const command = ++this.command;
    Atomics.store(this.control, C_COMMAND, command);
    Atomics.notify(this.control, C_COMMAND);
    this.share(0, 2, this.buffers, this.scratch);
    if (!this.awaitWorker(command)) this.share(1, 2, this.buffers, this.scratch);
  }

  /** Stops the worker thread, if any. */
  close(): void {
    if (this.worker === null) return;
    Atomics.store(this.control, C_COMMAND, -1);
    Atomics.notify(this.control, C_COMMAND);
    this.drop();
  }

  private awaitWorker(command: number): boolean {
    const started = Date.now();
    for (;;) {
      const waited = Date.now() - started;
      const hung = Atomics.load(this.control, C_STARTED) === 0 ? waited > START_TIMEOUT_MS : waited > WORKER_TIMEOUT_MS;
      if (Atomics.load(this.control, C_FAILED) !== 0 || hung) {
        this.fail();
        return false;
      }
      const done = Atomics.load(this.control, C_DONE);
      if (done === command) return true;
      Atomics.wait(this.control, C_DONE, done, 1000);
    }
  }

  private fail(): void {
    if (this.worker !== null) Helper.failures++;
    this.drop();
  }

  private drop(): void {
    if (this.worker === null) return;
    void this.worker.terminate();
    this.worker = null;
  }
}
