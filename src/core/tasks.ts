/**
 * The one concurrency model for long CPU work (index runs, maps, training, the server's batched
 * search): a task module's exported functions run on a worker thread, called with an input, a
 * progress callback and an abort signal; each call ends with its result or a coded error.
 *
 * A `TaskThread` keeps one worker for many calls (state may live in the module between calls);
 * `runTask` starts one for a single call. Cancelling a call asks the task to stop (its signal
 * aborts); a task that has not stopped within `graceMs` has its thread terminated.
 */
import type { Worker } from 'node:worker_threads';
import { ConvlensError, type ErrorCode } from './errors.js';
import { siblingModule, startWorker } from './worker.js';

export interface TaskContext<P = unknown> {
  signal: AbortSignal;
  progress(p: P): void;
}

/** What a task module exports: functions of (input, context). */
export type TaskFunction<I = never, P = never, R = unknown> = (input: I, ctx: TaskContext<P>) => Promise<R> | R;

export type TaskRequest = { type: 'call'; id: number; fn: string; input: unknown } | { type: 'abort'; id: number } | { type: 'close' };

export type TaskReply =
  | { type: 'progress'; id: number; progress: unknown }
  | { type: 'done'; id: number; result: unknown }
  | { type: 'error'; id: number; code: string; message: string; stack?: string };

export interface CallOptions<P> {
  onProgress?: (p: P) => void;
  signal?: AbortSignal;
  /** buffers moved to the worker instead of copied */
  transfer?: ArrayBuffer[];
  /** how long a cancelled call may take to stop before its thread is terminated (default 10 s) */
  graceMs?: number;
}

interface Pending {
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
  onProgress?: (p: unknown) => void;
}

export function abortError(message = 'cancelled'): Error {
  return new DOMException(message, 'AbortError');
}

export class TaskThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: Error | null = null;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: TaskReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.type === 'progress') {
        p.onProgress?.(m.progress);
        return;
      }
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.type === 'done') p.resolve(m.result);
      else if (m.code === 'E_ABORTED') p.reject(abortError(m.message));
      else {
        const e = new ConvlensError(m.code as ErrorCode, m.message);
        if (m.stack) e.stack = m.stack;
        p.reject(e);
      }
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(new ConvlensError('E_INTERNAL', `a worker thread failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => fail(new ConvlensError('E_INTERNAL', `a worker thread stopped (exit ${code})`)));
    worker.unref(); // an idle thread never keeps the process alive; a pending call does
  }

  /** A thread for the task module `./<name>` next to `baseUrl` (the caller's import.meta.url). */
  static start(baseUrl: string, name: string): TaskThread {
    return new TaskThread(startWorker(import.meta.url, 'task-worker', { module: siblingModule(baseUrl, name) }));
  }

  /** Call an exported function of the module on the thread. */
  call<I, P, R>(fn: string, input: I, options: CallOptions<P> = {}): Promise<R> {
    if (this.failure) return Promise.reject(this.failure);
    if (options.signal?.aborted) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      let kill: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        this.worker.postMessage({ type: 'abort', id } satisfies TaskRequest);
        kill = setTimeout(() => {
          if (!this.pending.has(id)) return;
          this.pending.delete(id);
          reject(abortError());
          void this.worker.terminate();
        }, options.graceMs ?? 10_000);
        kill.unref();
      };
      const done = (): void => {
        clearTimeout(kill);
        options.signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, {
        resolve: (r) => {
          done();
          resolve(r as R);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        ...(options.onProgress ? { onProgress: options.onProgress as (p: unknown) => void } : {}),
      });
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ type: 'call', id, fn, input } satisfies TaskRequest, options.transfer ?? []);
    });
  }

  /** Stop the thread (pending calls are rejected). */
  async close(): Promise<void> {
    if (this.failure) return;
    this.worker.postMessage({ type: 'close' } satisfies TaskRequest);
    await new Promise<void>((resolve) => {
      this.worker.ref();
      this.worker.once('exit', () => resolve());
    });
  }
}

/** Run one function of a task module on a thread of its own. */
export async function runTask<I, P, R>(baseUrl: string, name: string, fn: string, input: I, options: CallOptions<P> = {}): Promise<R> {
  const thread = TaskThread.start(baseUrl, name);
  try {
    return await thread.call<I, P, R>(fn, input, options);
  } finally {
    await thread.close().catch(() => undefined);
  }
}
