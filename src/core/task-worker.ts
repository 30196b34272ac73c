/**
 * The worker side of core/tasks.ts: loads the task module named in workerData and runs its
 * exported functions as they are called, posting progress, then the result or a coded error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toConvlensError } from './errors.js';
import type { TaskContext, TaskFunction, TaskReply, TaskRequest } from './tasks.js';

const port = parentPort!;
const mod = (await import((workerData as { module: string }).module)) as Record<string, unknown>;
const controllers = new Map<number, AbortController>();

function post(m: TaskReply): void {
  port.postMessage(m);
}

port.on('message', (m: TaskRequest) => {
  if (m.type === 'close') {
    for (const c of controllers.values()) c.abort();
    port.close();
    return;
  }
  if (m.type === 'abort') {
    controllers.get(m.id)?.abort();
    return;
  }
  const fn = mod[m.fn];
  if (typeof fn !== 'function') {
    post({ type: 'error', id: m.id, code: 'E_INTERNAL', message: `no task "${m.fn}" in ${(workerData as { module: string }).module}` });
    return;
  }
  const controller = new AbortController();
  controllers.set(m.id, controller);
  const ctx: TaskContext = { signal: controller.signal, progress: (p) => post({ type: 'progress', id: m.id, progress: p }) };
  void Promise.resolve()
    .then(() => (fn as TaskFunction<unknown, unknown, unknown>)(m.input as never, ctx as TaskContext<never>))
    .then(
      (result) => post({ type: 'done', id: m.id, result }),
      (e: unknown) => {
        if (controller.signal.aborted || (e as { name?: string })?.name === 'AbortError') {
          post({ type: 'error', id: m.id, code: 'E_ABORTED', message: 'cancelled' });
          return;
        }
        const ce = toConvlensError(e);
        post({
          type: 'error',
          id: m.id,
          code: ce.code,
          message: ce.message,
          ...(ce.code === 'E_INTERNAL' ? { stack: (e as Error)?.stack } : {}),
        });
      },
    )
    .finally(() => controllers.delete(m.id));
});
