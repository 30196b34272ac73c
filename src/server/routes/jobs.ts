/** Routes for jobs: list, follow (polling or server-sent events), cancel, and start an index job. */
import type { ServerContext } from '../context.js';
import { notFound } from '../http.js';
import { isFinished, jobSummary } from '../jobs.js';
import { realRoots, resolveIndexFolder } from '../paths.js';
import { API, type JobInfo } from '../schemas.js';
import type { App } from './app-type.js';

export function registerJobRoutes(app: App, ctx: ServerContext): void {
  app.route({ ...API.jobs, handler: async () => ({ jobs: ctx.jobs.list().map(jobSummary) }) });

  app.route({
    ...API.job,
    handler: async (req) => {
      const info = ctx.jobs.get(req.params.id);
      if (!info) throw notFound('no such job');
      return info;
    },
  });

  app.route({
    ...API.cancelJob,
    handler: async (req) => {
      const info = ctx.jobs.cancel(req.params.id);
      if (!info) throw notFound('no such job');
      return jobSummary(info);
    },
  });

  // progress as server-sent events: one `data:` line of the job's JSON per change, until it ends
  app.route({
    ...API.jobEvents,
    handler: (req, reply) => {
      const id = req.params.id;
      const info = ctx.jobs.get(id);
      if (!info) throw notFound('no such job');
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-content-type-options': 'nosniff',
        'cross-origin-resource-policy': 'same-origin',
      });
      let last = 0;
      const send = (i: JobInfo, force = false): void => {
        const now = Date.now();
        if (!force && !isFinished(i) && now - last < 200) return; // at most 5 updates a second
        last = now;
        res.write(`data: ${JSON.stringify(isFinished(i) ? i : jobSummary(i))}\n\n`);
        if (isFinished(i)) {
          off();
          res.end();
        }
      };
      const off = ctx.jobs.subscribe(id, (i) => send(i));
      req.raw.on('close', () => off());
      send(info, true);
    },
  });

  app.route({
    ...API.indexJob,
    handler: async (req, reply) => {
      const { folder } = await resolveIndexFolder(req.body.folder, req.body.root, ctx.options.allowedRoots);
      return reply.code(202).send(ctx.submitIndex(folder, req.body.prune ?? false, await realRoots(ctx.options.allowedRoots)));
    },
  });
}
