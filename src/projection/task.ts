/** The projection as a task (core/tasks.ts): a map is computed on a worker thread, never on the caller's. */
import type { TaskContext } from '../core/tasks.js';
import { matrix, type Matrix } from '../core/matrix.js';
import { runTask } from '../core/tasks.js';
import { project as projectHere, type ProjectionResult, type ProjectOptions, type ProjectProgress } from './project.js';

export interface ProjectTaskInput {
  data: Float32Array;
  rows: number;
  cols: number;
  options: Omit<ProjectOptions, 'signal'>;
}

export interface ProjectTaskResult {
  coords: Float32Array;
  method: ProjectOptions['method'];
  params: Record<string, number | string>;
  kl?: number;
  seconds: number;
}

export async function project(
  input: ProjectTaskInput,
  ctx: TaskContext<{ done: number; total: number; kl?: number }>,
): Promise<ProjectTaskResult> {
  const r = await projectHere(matrix(input.rows, input.cols, input.data), { ...input.options, signal: ctx.signal }, (done, total, kl) =>
    ctx.progress({ done, total, ...(kl !== undefined ? { kl } : {}) }),
  );
  return { coords: r.coords.data, method: r.method, params: r.params, ...(r.kl !== undefined ? { kl: r.kl } : {}), seconds: r.seconds };
}

/**
 * `project` on a worker thread (core/tasks.ts): the caller's thread stays free (a server keeps
 * answering). Rows on a SharedArrayBuffer are read in place; others are copied to the thread.
 */
export async function projectOnThread(m: Matrix, opts: ProjectOptions, onProgress?: ProjectProgress): Promise<ProjectionResult> {
  const { signal, ...options } = opts;
  const r = await runTask<ProjectTaskInput, { done: number; total: number; kl?: number }, ProjectTaskResult>(
    import.meta.url,
    'task',
    'project',
    { data: m.data, rows: m.rows, cols: m.cols, options },
    { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress: (p) => void onProgress(p.done, p.total, p.kl) } : {}) },
  );
  return {
    coords: matrix(m.rows, 2, r.coords),
    method: r.method,
    params: r.params,
    ...(r.kl !== undefined ? { kl: r.kl } : {}),
    seconds: r.seconds,
  };
}
