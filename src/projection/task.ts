/** The projection as a task (core/tasks.ts): a map is computed on a worker thread, never on the caller's. */
import type { TaskContext } from '../core/tasks.js';
import { matrix } from '../core/matrix.js';
import { project as projectHere, type ProjectOptions } from './index.js';

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
