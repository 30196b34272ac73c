import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import type { MapRequest } from '../../collection/index.js';
import { ConvlensError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/files.js';
import type { ProjectionMethod } from '../../projection/index.js';
import { DEFAULT_DB, displayPath, type ImageRow } from '../../store/index.js';
import { out, parseFloatOption, parseIntOption } from '../common.js';
import { progressReporter } from '../progress.js';
import { readLabelTsv } from './label.js';

interface Flags {
  db: string;
  method: ProjectionMethod;
  perplexity?: number;
  seed: number;
  out?: string;
  thumbs?: boolean;
  size?: number;
  color: 'none' | 'prediction' | 'label';
  labels?: string;
  json?: string;
  html?: string;
  recompute?: boolean;
  sample?: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('map')
    .description('a 2-D map of a collection (t-SNE, UMAP or PCA), as dots coloured by class or as thumbnails (seed Figures 3 and 4)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .addOption(new Option('--method <m>', 'projection').choices(['tsne', 'umap', 'pca']).default('tsne'))
    .option('--perplexity <p>', 't-SNE perplexity', parseFloatOption('--perplexity', 1, 1000))
    .option('--seed <n>', 'random seed (maps are deterministic for a seed)', parseIntOption('--seed', 0), 42)
    .option('--out <file>', 'plot to write: .png or .svg (thumbnails: .png)')
    .option('--thumbs', "draw each image's thumbnail at its place instead of a dot")
    .option('--size <px>', 'canvas width in pixels (default 1600 for dots, 4000 for thumbnails)', parseIntOption('--size', 64, 32768))
    .addOption(
      new Option('--color <by>', 'colour points (or thumbnail frames) by').choices(['none', 'prediction', 'label']).default('prediction'),
    )
    .option('--labels <file.tsv>', "labels for --color label (path<TAB>label; default: the collection's labels)")
    .option('--html <file>', 'write one self-contained HTML map (thumbnails; pan, zoom, hover, search) that opens offline')
    .option('--json <file>', 'write the coordinates as JSON')
    .option('--recompute', 'ignore the cached map')
    .option(
      '--sample <n>',
      'lay out a uniform sample of n images, place the others by their nearest sampled ones (default: all; 50,000 past 250,000)',
      parseIntOption('--sample', 10),
    )
    .option('--quiet', 'no progress output')
    .action(async (flags: Flags) => {
      if (flags.thumbs && flags.out && extname(flags.out).toLowerCase() !== '.png')
        throw new ConvlensError('E_USAGE', `--thumbs writes PNG: ${flags.out} must end in .png`);
      if (flags.labels && flags.color !== 'label') flags.color = 'label';
      const { checkProjectOptions } = await import('../../projection/index.js');
      checkProjectOptions({ method: flags.method, perplexity: flags.perplexity });
      const { Collection } = await import('../../collection/index.js');
      const { imagenetClasses } = await import('../../imagenet/classes.js');
      const { savePlot, scatterSvg, thumbnailScatterPng } = await import('../../plot/index.js');
      const collection = await Collection.open(flags.db);
      const store = collection.store;
      try {
        const request: MapRequest = {
          method: flags.method,
          seed: flags.seed,
          ...(flags.perplexity !== undefined ? { perplexity: flags.perplexity } : {}),
        };
        const progress = progressReporter(flags.method, { quiet: flags.quiet, unit: flags.method === 'tsne' ? 'iterations' : 'steps' });
        const t0 = performance.now();
        const map = await collection
          .map(request, {
            recompute: flags.recompute,
            ...(flags.sample !== undefined ? { sample: flags.sample } : {}),
            onProgress: (done, total) => {
              const secs = (performance.now() - t0) / 1000;
              progress.update({
                done,
                total,
                imagesPerSecond: secs > 0 ? done / secs : 0,
                etaSeconds: done > 0 ? (secs * (total - done)) / done : null,
              });
            },
          })
          .finally(() => progress.stop());

        const rows: ImageRow[] = [];
        for (const id of map.ids) rows.push((await store.image(id))!);
        const classes = imagenetClasses();
        const predictions = rows.map((r) => (r.top5?.[0] ? classes[r.top5[0].index]!.label : null));
        const dbLabels = await store.labels();
        const fileLabels = flags.labels ? new Map(readLabelTsv(flags.labels).map((p) => [p.file, p.label])) : null;
        const labels = rows.map((r) =>
          fileLabels ? (fileLabels.get(r.file) ?? fileLabels.get(displayPath(r)) ?? null) : (dbLabels.get(r.id) ?? null),
        );
        const colours = flags.color === 'prediction' ? predictions : flags.color === 'label' ? labels : undefined;
        const title = `${flags.method === 'tsne' ? 't-SNE' : flags.method.toUpperCase()} map of ${rows.length} images`;
        const subtitle = [
          flags.method === 'tsne' ? `perplexity ${+Number(map.params['perplexity']).toPrecision(3)}` : '',
          `seed ${flags.seed}`,
          map.kl !== undefined ? `KL ${map.kl.toFixed(3)}` : '',
          flags.color !== 'none' ? `colour: ${flags.color}` : '',
        ]
          .filter(Boolean)
          .join(', ');

        if (flags.out) {
          if (flags.thumbs) {
            const png = await thumbnailScatterPng(map.coords, (i) => store.thumbnail(map.ids[i]!), {
              width: flags.size ?? 4000,
              title,
              subtitle,
              ...(colours ? { labels: colours } : {}),
            });
            writeFileAtomic(flags.out, png);
          } else {
            await savePlot(
              flags.out,
              scatterSvg(map.coords, { width: flags.size ?? 1600, title, subtitle, ...(colours ? { labels: colours } : {}) }),
            );
          }
        }
        if (flags.json) {
          writeFileAtomic(
            flags.json,
            JSON.stringify({
              method: map.method,
              params: map.params,
              ...(map.kl !== undefined ? { kl: map.kl } : {}),
              points: rows.map((r, i) => ({
                id: r.id,
                path: displayPath(r),
                x: map.coords.data[2 * i],
                y: map.coords.data[2 * i + 1],
                prediction: predictions[i],
                label: labels[i],
              })),
            }),
          );
        }
        if (flags.html) {
          const { buildAtlas, mapHtml } = await import('../../atlas/index.js');
          const atlas = await buildAtlas(map.ids, (id) => store.thumbnail(id));
          const points = rows.map((r, i) => ({
            id: r.id,
            x: map.coords.data[2 * i]!,
            y: map.coords.data[2 * i + 1]!,
            path: displayPath(r),
            prediction: predictions[i] ?? '',
            ...(r.top5?.[0] ? { probability: r.top5[0].probability } : {}),
            label: labels[i] ?? null,
          }));
          writeFileAtomic(flags.html, mapHtml({ title, subtitle, points, atlas, colorBy: flags.color }));
        }
        const written = [flags.out, flags.html, flags.json]
          .filter(Boolean)
          .map((f) => ` → ${f}`)
          .join('');
        out(
          `${title}${map.kl !== undefined ? `, KL ${map.kl.toFixed(4)}` : ''} ` +
            `(${map.cached ? 'cached' : `${map.seconds.toFixed(1)}s`})${written}\n`,
        );
      } finally {
        await collection.close();
      }
    });
}
