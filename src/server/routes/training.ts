/** Routes for teaching: train a head on the collection's labels (a job), and its predictions. */
import { confidentMistakes, confusionIds, trainOnThread } from '../../teach/index.js';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../http.js';
import { API, type Predictions, type TrainResult } from '../schemas.js';
import type { App } from './app-type.js';

export function registerTrainingRoutes(app: App, ctx: ServerContext): void {
  app.route({
    ...API.train,
    handler: async (req, reply) => {
      const head = req.body.head ?? 'knn';
      const k = req.body.k;
      if (k !== undefined && head !== 'knn') throw badRequest('k applies to head=knn');
      const counts = await ctx.store.labelCounts();
      if (counts.length < 2) throw badRequest(`label images of at least two classes first (found ${counts.length})`);
      const job = ctx.jobs.submit('train', { head, ...(k !== undefined ? { k } : {}) }, async (jc): Promise<TrainResult> => {
        const t0 = performance.now();
        jc.progress({ stage: 'starting', done: 0, total: 1 });
        // the same function as `convlens knn`, on a worker thread: the same metrics
        const out = await trainOnThread(
          { location: ctx.collection.store.connection, head, seed: 0, ...(k !== undefined ? { k } : {}) },
          { signal: jc.signal, graceMs: 0, onProgress: jc.progress },
        );
        const classIndex = new Map(out.classes.map((c, i) => [c, i]));
        const perClass = new Array<number>(out.classes.length).fill(0);
        const predicted = out.predictions.map((p) => classIndex.get(p.label)!);
        for (const c of predicted) perClass[c]!++;
        const counted = out.classes.map((label, i) => ({ label, count: perClass[i]! })).sort((a, b) => b.count - a.count);
        const predictions: Predictions = {
          job: jc.id,
          head,
          classes: out.classes,
          ids: out.predictions.map((p) => p.id),
          predicted,
          probability: out.predictions.map((p) => p.probability),
          margin: out.predictions.map((p) => p.margin),
          counts: counted,
        };
        ctx.predictions = predictions;
        jc.progress({ stage: 'done', done: 1, total: 1 });
        return {
          head,
          classes: out.classes,
          labelled: out.labelled,
          metrics: out.metrics,
          note: out.note,
          predicted: counted,
          seconds: (performance.now() - t0) / 1000,
          mistakes: out.outOfFold ? confidentMistakes(out.outOfFold) : [],
          confusionIds: out.outOfFold && out.metrics ? confusionIds(out.outOfFold, out.metrics.confusion.labels) : null,
        };
      });
      return reply.code(202).send(job);
    },
  });

  app.route({
    ...API.predictions,
    handler: async () => {
      if (!ctx.predictions) throw notFound('nothing trained yet (POST /api/train)');
      return ctx.predictions;
    },
  });
}
