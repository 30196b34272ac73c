/**
 * Worker threads running a module next to this one. From the compiled package that is a plain .js
 * file; from the TypeScript sources (tests, tsx) the worker registers tsx before importing it.
 */
import { Worker } from 'node:worker_threads';
import { ConvlensError, type ErrorCode } from '../core/errors.js';

export function startWorker(name: string, workerData: unknown): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, import.meta.url);
  if (!fromSource) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** What a job's worker posts: progress, then its result or its error. */
export type WorkerMessage<P, R> = { type: 'progress'; progress: P } | { type: 'done'; result: R } | { type: 'error'; code: string; message: string };

/**
 * Run a worker to its end: progress is forwarded; aborting first asks the worker to stop (it
 * posts what it has done), and terminates it if it has not ended within `graceMs`.
 */
export function runWorker<P, R>(name: string, workerData: unknown, onProgress: (p: P) => void, signal: AbortSignal, graceMs = 30_000): Promise<R> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(name, workerData);
    let settled = false;
    let kill: ReturnType<typeof setTimeout> | undefined;
    const end = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(kill);
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = (): void => {
      worker.postMessage({ type: 'abort' });
      kill = setTimeout(() => end(() => reject(new DOMException('cancelled', 'AbortError'))), graceMs);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
    worker.on('message', (m: WorkerMessage<P, R>) => {
      if (m.type === 'progress') onProgress(m.progress);
      else if (m.type === 'done') end(() => resolve(m.result));
      else end(() => reject(m.code === 'E_ABORTED' ? new DOMException(m.message, 'AbortError') : new ConvlensError(m.code as ErrorCode, m.message)));
    });
    worker.on('error', (e) => end(() => reject(e)));
    worker.on('exit', (code) => end(() => reject(new ConvlensError('E_INTERNAL', `a worker thread exited (${code})`))));
  });
}
