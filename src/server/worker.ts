/** Worker threads for server jobs (index, train): see core/worker.ts for how they start. */
import { startWorker } from '../core/worker.js';
import { ConvlensError, type ErrorCode } from '../core/errors.js';

/** What a job's worker posts: progress, then its result or its error. */
export type WorkerMessage<P, R> =
  { type: 'progress'; progress: P } | { type: 'done'; result: R } | { type: 'error'; code: string; message: string };

/**
 * Run a worker to its end: progress is forwarded; aborting first asks the worker to stop (it
 * posts what it has done), and terminates it if it has not ended within `graceMs`.
 */
export function runWorker<P, R>(
  name: string,
  workerData: unknown,
  onProgress: (p: P) => void,
  signal: AbortSignal,
  graceMs = 30_000,
): Promise<R> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(import.meta.url, name, workerData);
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
      else
        end(() =>
          reject(m.code === 'E_ABORTED' ? new DOMException(m.message, 'AbortError') : new ConvlensError(m.code as ErrorCode, m.message)),
        );
    });
    worker.on('error', (e) => end(() => reject(e)));
    worker.on('exit', (code) => end(() => reject(new ConvlensError('E_INTERNAL', `a worker thread exited (${code})`))));
  });
}
