/** Routes about the images themselves: info, listings, one image, its thumbnail and file, labels. */
import { basename } from 'node:path';
import { VERSION } from '../../core/package.js';
import { imageMimeType } from '../../image/decode.js';
import { findClasses, imagenetClasses } from '../../imagenet/classes.js';
import type { Snapshot } from '../catalogue.js';
import type { ServerContext } from '../context.js';
import { badRequest, notFound } from '../http.js';
import { openCollectionFile } from '../paths.js';
import { API, type ImageSummary } from '../schemas.js';
import type { App } from './app-type.js';

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
    root: snap.rootName(e),
    embedded: e.embedded,
    top1: snap.top1Of(e),
    label: labels.get(id) ?? null,
    error: e.error,
  };
}

/** A label as given: trimmed, and not empty once trimmed. */
function labelValue(s: string): string {
  const t = s.trim();
  if (t.length === 0) throw badRequest('label must have a printable character');
  return t;
}

export function registerImageRoutes(app: App, ctx: ServerContext): void {
  app.route({
    ...API.info,
    handler: async () => {
      const store = ctx.store;
      const snap = await ctx.live.current();
      return {
        version: VERSION,
        db: basename(ctx.collection.location),
        images: snap.counts,
        settings: await store.settings(),
        roots: [...snap.roots.entries()].map(([id, path]) => ({ id, name: path === '/' ? '/' : basename(path) })),
        allowedRoots: ctx.allowedRootNames(),
        labels: await store.labelCounts(),
        maps: await store.projections(),
        currentMap: await ctx.currentMapKey(snap),
        predictions: ctx.predictions !== null,
        uploads: {
          maxBytes: ctx.options.maxUploadBytes,
          store: ctx.options.uploadsDir !== null,
          maxStored: ctx.options.maxStoredUploads,
          maxStoredBytes: ctx.options.maxStoredUploadBytes,
        },
        jobs: ctx.jobs.counts(),
        memory: { rss: process.memoryUsage.rss(), heapUsed: process.memoryUsage().heapUsed },
        auth: ctx.authRequired,
      };
    },
  });

  // ImageNet classes: those matching a text (search box), or those present in the collection with counts
  app.route({
    ...API.classes,
    handler: async (req) => {
      const text = req.query.q;
      const counts = new Map<number, number>();
      for (const e of (await ctx.live.current()).rows.values()) if (e.top1 >= 0) counts.set(e.top1, (counts.get(e.top1) ?? 0) + 1);
      const classes = text !== undefined ? findClasses(text) : [...counts.keys()].map((i) => imagenetClasses()[i]!);
      return {
        classes: classes
          .map((c) => ({ index: c.index, wnid: c.wnid, label: c.label, count: counts.get(c.index) ?? 0 }))
          .sort((a, b) => b.count - a.count || a.index - b.index),
      };
    },
  });

  app.route({
    ...API.images,
    handler: async (req) => {
      const { offset = 0, limit = 100, class: cls, label, q: text, unlabelled, failed } = req.query;
      const snap = await ctx.live.current();
      const labels = await ctx.live.labels();
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
    },
  });

  app.route({
    ...API.image,
    handler: async (req) => {
      const id = Number(req.params.id);
      const row = await ctx.store.image(id);
      if (!row) throw notFound(`no image ${id} in the collection`);
      const snap = await ctx.live.current();
      const label = (await ctx.live.labels()).get(id) ?? null;
      const classes = imagenetClasses();
      const top5 = (row.top5 ?? []).map((p) => ({ ...classes[p.index]!, probability: p.probability }));
      const entry = snap.rows.get(id);
      return {
        id,
        path: row.path,
        root: entry ? snap.rootName(entry) : basename(row.root),
        embedded: row.error === null,
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
    },
  });

  app.route({
    ...API.thumbnail,
    handler: async (req, reply) => {
      const id = Number(req.params.id);
      if (req.query.size !== undefined) {
        // only rows of the collection, by the path the database holds (as the file route)
        const row = await ctx.store.image(id);
        if (!row) throw notFound(`no image ${id} in the collection`);
        const t = await ctx.sizedThumbnail(row, req.query.size);
        if (!t) throw notFound(`no thumbnail for image ${id}`);
        return reply
          .type(t.mime)
          .header('x-convlens-thumbnail', t.source)
          .header('cache-control', t.source === 'original' ? 'private, max-age=300' : 'private, max-age=60')
          .send(t.data);
      }
      const thumb = await ctx.store.thumbnail(id);
      if (!thumb) throw notFound(`no thumbnail for image ${id}`);
      return reply
        .type(imageMimeType(thumb) ?? 'application/octet-stream')
        .header('cache-control', 'private, max-age=60')
        .send(thumb);
    },
  });

  // the original file: only rows of the collection, by the path the database holds
  app.route({
    ...API.file,
    handler: async (req, reply) => {
      const id = Number(req.params.id);
      const row = await ctx.store.image(id);
      if (!row) throw notFound(`no image ${id} in the collection`);
      const { handle, size } = await openCollectionFile(row.file, row.root);
      return reply
        .type(MIME[row.format ?? ''] ?? 'application/octet-stream')
        .header('content-length', size)
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        .header('cache-control', 'private, max-age=60')
        .send(handle.createReadStream({ autoClose: true }));
    },
  });

  app.route({
    ...API.labels,
    handler: async () => {
      const labels = await ctx.live.labels();
      return { counts: await ctx.store.labelCounts(), ids: [...labels.keys()], labels: [...labels.values()] };
    },
  });

  app.route({
    ...API.setLabels,
    handler: async (req) => {
      const changed = await ctx.collection.setLabels([...new Set(req.body.ids)], labelValue(req.body.label));
      ctx.live.labelsChanged();
      return { changed, counts: await ctx.store.labelCounts() };
    },
  });

  app.route({
    ...API.clearLabels,
    handler: async (req) => {
      const changed = await ctx.collection.setLabels([...new Set(req.body.ids)], null);
      ctx.live.labelsChanged();
      return { changed, counts: await ctx.store.labelCounts() };
    },
  });
}
