/**
 * Worker threads running a module that sits next to the caller. From the compiled package that is
 * a plain .js file; from the TypeScript sources (tests, tsx) the worker registers tsx first.
 */
import { Worker } from 'node:worker_threads';

/** Start `./<name>.js` (or `.ts` from sources) relative to `baseUrl` (the caller's import.meta.url). */
export function startWorker(baseUrl: string, name: string, workerData: unknown): Worker {
  const fromSource = baseUrl.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, baseUrl);
  if (!fromSource) return new Worker(url, { workerData });
  const bootstrap = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}
