/**
 * Worker threads running a module that sits next to the caller. From the compiled package that is
 * a plain .js file; from the TypeScript sources (tests, tsx) a small bootstrap module registers
 * tsx in the worker first (ts-worker.mjs), then loads the .ts module.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Start `./<name>.js` (or `.ts` from sources) relative to `baseUrl` (the caller's import.meta.url). */
export function startWorker(baseUrl: string, name: string, workerData: unknown, options: WorkerOptions = {}): Worker {
  const fromSource = baseUrl.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, baseUrl);
  if (!fromSource) return new Worker(url, { ...options, workerData });
  return new Worker(new URL('./ts-worker.mjs', import.meta.url), { ...options, workerData, argv: [url.href] });
}

/** The URL of a sibling module, as startWorker resolves it (for task modules). */
export function siblingModule(baseUrl: string, name: string): string {
  return new URL(`./${name}${baseUrl.endsWith('.ts') ? '.ts' : '.js'}`, baseUrl).href;
}
