/** Routes about the images themselves: info, listings, one image, its thumbnail and file, labels. */
import { imageMimeType } from '../image/decode.js';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { findClasses, imagenetClasses } from '../imagenet/classes.js';
import type { ImageDetail, ImageList, ImageSummary, Info, LabelsResult } from './api-types.js';
import type { Snapshot } from './collection.js';
import type { ServerContext } from './context.js';
import { boolParam, idList, idParam, intParam, labelValue, notFound, objectBody, stringParam } from './http.js';
import { openCollectionFile } from './paths.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const MIME: Record<string, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tiff: 'image/tiff',
  heif: 'image/heif',
  jxl: 'image/jxl',
  svg: 'image/svg+xml',
};

function summary(snap: Snapshot, id: number, labels: Map<number, string>): ImageSummary | null {
  const e = snap.rows.get(id);
  if (!e) return null;
  return {
    id,
    path: e.path,
    root: snap.rootOf(e),
    embedded: e.embedded,
    top1: snap.top1Of(e),
    label: labels.get(id) ?? null,
    error: e.error,
  };
}

export function registerImageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/api/info', async (): Promise<Info> => {
    const store = ctx.store;
    const snap = ctx.live.current;
    return {
      version,
      db: store.path,
      images: store.count(),
      settings: store.settings,
      roots: [...snap.roots.values()],
      allowedRoots: ctx.options.allowedRoots,
      labels: store.labelCounts(),
      maps: store.projections(),
      currentMap: ctx.currentMapKey(snap),
      predictions: ctx.predictions !== null,
      uploads: { maxBytes: ctx.options.maxUploadBytes, storeDir: ctx.options.uploadsDir },
      jobs: ctx.jobs.counts(),
      memory: { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed },
    };
  });

  // ImageNet classes: those matching a text (search box), or those present in the collection with counts
  app.get('/api/classes', async (req) => {
    const q = req.query as Record<string, unknown>;
    const text = stringParam(q, 'q', 100);
    const counts = new Map<number, number>();
    for (const e of ctx.live.current.rows.values()) if (e.top1 >= 0) counts.set(e.top1, (counts.get(e.top1) ?? 0) + 1);
    const classes = text !== undefined ? findClasses(text) : [...counts.keys()].map((i) => imagenetClasses()[i]!);
    return {
      classes: classes
        .map((c) => ({ index: c.index, wnid: c.wnid, label: c.label, count: counts.get(c.index) ?? 0 }))
        .sort((a, b) => b.count - a.count || a.index - b.index),
    };
  });

  app.get('/api/images', async (req): Promise<ImageList> => {
    const q = req.query as Record<string, unknown>;
    const offset = intParam(q, 'offset', { min: 0, max: 1e9, fallback: 0 })!;
    const limit = intParam(q, 'limit', { min: 1, max: 500, fallback: 100 })!;
    const cls = intParam(q, 'class', { min: 0, max: imagenetClasses().length - 1 });
    const label = stringParam(q, 'label', 100);
    const text = stringParam(q, 'q', 100);
    const unlabelled = boolParam(q, 'unlabelled');
    const failed = boolParam(q, 'failed');
    const snap = ctx.live.current;
    const labels = ctx.live.labels();
    const matching = text !== undefined ? new Set(findClasses(text).map((c) => c.index)) : null;
    const ids = snap.ids.filter((id) => {
      const e = snap.rows.get(id)!;
      if (cls !== undefined && e.top1 !== cls) return false;
      if (matching && !matching.has(e.top1)) return false;
      if (label !== undefined && labels.get(id) !== label) return false;
      if (unlabelled && labels.has(id)) return false;
      if (failed && !e.error) return false;
      return true;
    });
    return { total: ids.length, offset, limit, items: ids.slice(offset, offset + limit).map((id) => summary(snap, id, labels)!) };
  });

  app.get('/api/images/:id', async (req): Promise<ImageDetail> => {
    const id = idParam(req.params);
    const row = ctx.store.image(id);
    if (!row) throw notFound(`no image ${id} in the collection`);
    const snap = ctx.live.current;
    const label = ctx.live.labels().get(id) ?? null;
    const classes = imagenetClasses();
    const top5 = (row.top5 ?? []).map((p) => ({ ...classes[p.index]!, probability: p.probability }));
    return {
      id,
      path: row.path,
      root: row.root,
      embedded: snap.search.has(id) || ctx.store.embedding(id) !== null,
      top1: top5[0] ? { index: top5[0].index, label: top5[0].label, probability: top5[0].probability } : null,
      label,
      error: row.error,
      size: row.size,
      width: row.width,
      height: row.height,
      format: row.format,
      hash: row.hash,
      indexedAt: row.indexedAt,
      top5,
      prediction: ctx.predictionOf(id),
      displayable: ctx.isDisplayable(row.format),
    };
  });

  app.get('/api/images/:id/thumbnail', async (req, reply) => {
    const id = idParam(req.params);
    const thumb = ctx.store.thumbnail(id);
    if (!thumb) throw notFound(`no thumbnail for image ${id}`);
    return reply
      .type(imageMimeType(thumb) ?? 'application/octet-stream')
      .header('cache-control', 'private, max-age=60')
      .send(thumb);
  });

  // the original file: only rows of the collection, by the path the database holds
  app.get('/api/images/:id/file', async (req, reply) => {
    const id = idParam(req.params);
    const row = ctx.store.image(id);
    if (!row) throw notFound(`no image ${id} in the collection`);
    const { handle, size } = await openCollectionFile(row.absPath, row.root);
    return reply
      .type(MIME[row.format ?? ''] ?? 'application/octet-stream')
      .header('content-length', size)
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
      .header('cache-control', 'private, max-age=60')
      .send(handle.createReadStream({ autoClose: true }));
  });

  app.get('/api/labels', async (): Promise<LabelsResult> => {
    const labels = ctx.live.labels();
    return { counts: ctx.store.labelCounts(), ids: [...labels.keys()], labels: [...labels.values()] };
  });

  app.post('/api/labels', async (req) => {
    const body = objectBody(req.body);
    const ids = idList(body);
    const label = labelValue(body['label']);
    const changed = ctx.store.setLabels(ids, label);
    ctx.live.labelsChanged();
    return { changed, counts: ctx.store.labelCounts() };
  });

  app.delete('/api/labels', async (req) => {
    const ids = idList(objectBody(req.body));
    const changed = ctx.store.setLabels(ids, null);
    ctx.live.labelsChanged();
    return { changed, counts: ctx.store.labelCounts() };
  });
}
