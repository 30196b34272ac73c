/**
 * Long-running work (indexing, maps, atlases, training) as jobs: each kind runs one job at a
 * time in submission order, while requests keep being answered; progress is polled
 * (`GET /api/jobs/:id`) or streamed (`GET /api/jobs/:id/events`). Finished jobs are kept (the
 * newest `keep`) so a client can read their results.
 */
import { ConvlensError, toConvlensError } from '../core/errors.js';
import type { JobInfo, JobKind, JobProgress } from './schemas.js';
import { HttpError } from './http.js';

/** Jobs of one kind waiting at most (more are refused with 429). */
const MAX_QUEUED = 20;

export interface JobContext {
  id: string;
  signal: AbortSignal;
  progress(p: JobProgress): void;
}

export type JobRunner = (ctx: JobContext) => Promise<unknown>;

interface Job {
  info: JobInfo;
  run: JobRunner;
  controller: AbortController;
  /** identical work already queued or running is not submitted twice */
  dedupe: string | undefined;
}

type Listener = (info: JobInfo) => void;

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly queues = new Map<JobKind, Job[]>();
  private readonly active = new Map<JobKind, Job>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly keep = 50) {}

  submit(kind: JobKind, params: Record<string, unknown>, run: JobRunner, dedupe?: string): JobInfo {
    if (this.closed) throw new ConvlensError('E_USAGE', 'the server is shutting down');
    if (dedupe !== undefined) {
      for (const j of this.jobs.values()) {
        if (j.dedupe === dedupe && j.info.kind === kind && (j.info.state === 'queued' || j.info.state === 'running')) return j.info;
      }
    }
    if ((this.queues.get(kind)?.length ?? 0) >= MAX_QUEUED)
      throw new HttpError(429, 'E_USAGE', `too many ${kind} jobs waiting; try again later`);
    const info: JobInfo = {
      id: String(this.nextId++),
      kind,
      state: 'queued',
      params,
      progress: null,
      result: null,
      error: null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
    };
    const job: Job = { info, run, controller: new AbortController(), dedupe };
    this.jobs.set(info.id, job);
    const q = this.queues.get(kind) ?? [];
    q.push(job);
    this.queues.set(kind, q);
    this.prune();
    queueMicrotask(() => this.pump(kind));
    return info;
  }

  /** The newest job of a kind for this work that is queued, running or done (null: none kept). */
  latest(kind: JobKind, dedupe: string): JobInfo | null {
    let found: JobInfo | null = null;
    for (const j of this.jobs.values()) {
      if (j.info.kind === kind && j.dedupe === dedupe && j.info.state !== 'failed' && j.info.state !== 'cancelled') found = j.info;
    }
    return found;
  }

  get(id: string): JobInfo | null {
    return this.jobs.get(id)?.info ?? null;
  }

  /** Newest first. */
  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => j.info).reverse();
  }

  counts(): { running: number; queued: number } {
    let running = 0;
    let queued = 0;
    for (const j of this.jobs.values()) {
      if (j.info.state === 'running') running++;
      else if (j.info.state === 'queued') queued++;
    }
    return { running, queued };
  }

  /** Cancel a queued or running job (a running one stops at its next check). */
  cancel(id: string): JobInfo | null {
    const job = this.jobs.get(id);
    if (!job) return null;
    if (job.info.state === 'queued') {
      const q = this.queues.get(job.info.kind) ?? [];
      q.splice(q.indexOf(job), 1);
      this.finish(job, 'cancelled');
    } else if (job.info.state === 'running') job.controller.abort();
    return job.info;
  }

  /** Follow one job's changes until it ends; returns the unsubscribe function. */
  subscribe(id: string, listener: Listener): () => void {
    const set = this.listeners.get(id) ?? new Set();
    set.add(listener);
    this.listeners.set(id, set);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(id);
    };
  }

  /** A promise for a job's end (for the CLI and tests). */
  wait(id: string): Promise<JobInfo> {
    const info = this.get(id);
    if (!info) return Promise.reject(new ConvlensError('E_NOT_FOUND', `no job ${id}`));
    if (isFinished(info)) return Promise.resolve(info);
    return new Promise((resolve) => {
      const off = this.subscribe(id, (i) => {
        if (isFinished(i)) {
          off();
          resolve(i);
        }
      });
    });
  }

  /** Cancel everything and wait for running jobs to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const q of this.queues.values()) for (const j of q.splice(0)) this.finish(j, 'cancelled');
    const running = [...this.active.values()];
    for (const j of running) j.controller.abort();
    await Promise.all(running.map((j) => this.wait(j.info.id)));
  }

  private emit(job: Job): void {
    for (const l of this.listeners.get(job.info.id) ?? []) l(job.info);
  }

  private finish(
    job: Job,
    state: 'done' | 'failed' | 'cancelled',
    result: unknown = null,
    error: { code: string; message: string } | null = null,
  ): void {
    job.info.state = state;
    job.info.result = result;
    job.info.error = error;
    job.info.finishedAt = Date.now();
    this.emit(job);
  }

  private pump(kind: JobKind): void {
    if (this.active.has(kind)) return;
    const job = this.queues.get(kind)?.shift();
    if (!job) return;
    this.active.set(kind, job);
    job.info.state = 'running';
    job.info.startedAt = Date.now();
    this.emit(job);
    const ctx: JobContext = {
      id: job.info.id,
      signal: job.controller.signal,
      progress: (p) => {
        job.info.progress = p;
        this.emit(job);
      },
    };
    void Promise.resolve()
      .then(() => job.run(ctx))
      .then(
        (result) => (job.controller.signal.aborted ? this.finish(job, 'cancelled') : this.finish(job, 'done', result)),
        (e: unknown) => {
          if (job.controller.signal.aborted || (e as { name?: string })?.name === 'AbortError') this.finish(job, 'cancelled');
          else {
            const ce = toConvlensError(e);
            // unexpected errors keep their detail in the server log, not in the answer
            if (ce.code === 'E_INTERNAL') console.error(`convlens serve: job ${job.info.id} (${kind}) failed:`, e);
            this.finish(job, 'failed', null, {
              code: ce.code,
              message: ce.code === 'E_INTERNAL' ? 'internal error (see the server log)' : ce.message,
            });
          }
        },
      )
      .finally(() => {
        this.active.delete(kind);
        this.pump(kind);
      });
  }

  /** Drop the oldest finished jobs beyond `keep`. */
  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => isFinished(j.info));
    for (const j of finished.slice(0, Math.max(0, finished.length - this.keep))) this.jobs.delete(j.info.id);
  }
}

export function isFinished(info: JobInfo): boolean {
  return info.state === 'done' || info.state === 'failed' || info.state === 'cancelled';
}

/** A job's summary for listings (results can be large). */
export function jobSummary(info: JobInfo): JobInfo {
  return { ...info, result: null };
}
