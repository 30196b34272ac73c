/** similar, histogram, duplicates: questions asked of an indexed collection. */
import { Option, type Command } from 'commander';
import type { Collection, Query, QueryVector } from '../../collection/index.js';
import { toConvlensError } from '../../core/errors.js';
import type { Metric } from '../../search/index.js';
import { DEFAULT_DB, displayPath, type CollectionStore } from '../../store/index.js';
import {
  addRuntimeOptions,
  EXIT_OK,
  EXIT_SOME_FAILED,
  out,
  parseFloatOption,
  parseIntOption,
  reportError,
  runtimeOptions,
  writeJsonLine,
  type RuntimeFlags,
} from '../common.js';

const metricOption = (): Option =>
  new Option('--metric <metric>', 'cosine (similarity, higher is closer) or euclidean (distance, lower is closer)')
    .choices(['cosine', 'euclidean'])
    .default('cosine');

async function pathOf(store: CollectionStore, id: number): Promise<string> {
  const row = await store.image(id);
  return row ? displayPath(row) : `#${id}`;
}

/** The threshold flags, checked against the metric by the library's one rule. */
async function thresholdOf(
  metric: Metric,
  minSimilarity: number | undefined,
  maxDistance: number | undefined,
): Promise<{ minSimilarity?: number; maxDistance?: number }> {
  const t = { ...(minSimilarity !== undefined ? { minSimilarity } : {}), ...(maxDistance !== undefined ? { maxDistance } : {}) };
  (await import('../../search/index.js')).checkSearchOptions(metric, t);
  return t;
}

/**
 * Open the collection for reading and run `fn` on the query image's vector; a query that cannot be
 * read is reported like a failed input (exit 2; with --json a JSON object with the error), since
 * the query image is this command's input.
 */
async function withQuery(
  flags: RuntimeFlags & { db: string; json?: boolean },
  image: string,
  fn: (collection: Collection, query: QueryVector) => Promise<void>,
): Promise<void> {
  const { Collection } = await import('../../collection/index.js');
  const collection = await Collection.open(flags.db, { readonly: true, runtime: runtimeOptions(flags) });
  try {
    const query = await queryOrReport(collection, image, flags.json);
    if (query) await fn(collection, query);
  } finally {
    await collection.close();
  }
}

async function queryOrReport(collection: Collection, image: string, json: boolean | undefined): Promise<QueryVector | null> {
  try {
    return await collection.query({ file: image } satisfies Query);
  } catch (e) {
    const ce = toConvlensError(e, image);
    if (
      ![
        'E_NOT_FOUND',
        'E_PERMISSION',
        'E_IS_DIRECTORY',
        'E_NOT_FILE',
        'E_EMPTY',
        'E_NOT_IMAGE',
        'E_TRUNCATED',
        'E_CORRUPT',
        'E_TOO_LARGE',
      ].includes(ce.code)
    )
      throw ce;
    if (json) writeJsonLine({ query: image, error: { code: ce.code, message: ce.message } });
    else reportError(ce, image);
    process.exitCode = EXIT_SOME_FAILED;
    return null;
  }
}

interface SimilarFlags extends RuntimeFlags {
  db: string;
  k?: number;
  metric: Metric;
  minSimilarity?: number;
  maxDistance?: number;
  exact?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  const similar = program
    .command('similar')
    .description('the images of a collection most similar to an image (indexed or not)')
    .argument('<image>', 'an indexed image, or any image file (embedded on the fly, not stored)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('-k, --k <n>', 'how many (default 5; with a threshold and no -k: every match)', parseIntOption('-k', 1))
    .addOption(metricOption())
    .option('--min-similarity <s>', 'cosine: keep results with similarity ≥ s', parseFloatOption('--min-similarity', -1, 1))
    .option('--max-distance <d>', 'euclidean: keep results with distance ≤ d', parseFloatOption('--max-distance', 0))
    .option('--exact', 'never use the approximate (HNSW) index')
    .option('--json', 'print one JSON object');
  addRuntimeOptions(similar).action(async (image: string, flags: SimilarFlags) => {
    const threshold = await thresholdOf(flags.metric, flags.minSimilarity, flags.maxDistance);
    await withQuery(flags, image, async (collection, query) => {
      const hasThreshold = Object.keys(threshold).length > 0;
      const { results } = await collection.similar(query, {
        metric: flags.metric,
        approximate: !flags.exact,
        ...(flags.k !== undefined ? { k: flags.k } : hasThreshold ? {} : { k: 5 }),
        ...threshold,
      });
      const rows = await Promise.all(results.map(async (r) => ({ path: await pathOf(collection.store, r.id), score: r.score })));
      if (flags.json) writeJsonLine({ query: image, metric: flags.metric, results: rows });
      else {
        const label = flags.metric === 'cosine' ? 'cosine' : 'distance';
        const where = query.id === undefined ? ' (not in the collection)' : '';
        out(`${image}${where}: ${rows.length} result${rows.length === 1 ? '' : 's'} by ${flags.metric}\n`);
        rows.forEach((r, i) => out(`${String(i + 1).padStart(4)}. ${label} ${r.score.toFixed(4)}  ${r.path}\n`));
      }
      process.exitCode ??= EXIT_OK;
    });
  });

  const histogram = program
    .command('histogram')
    .description('the distribution of similarities from one image to all the others (seed Figure 6)')
    .argument('<image>', 'an indexed image, or any image file')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .addOption(metricOption())
    .requiredOption('--out <file>', 'plot to write (.png or .svg)')
    .option('--bins <n>', 'histogram bins', parseIntOption('--bins', 2, 1000), 50)
    .option('--threshold <t>', 'draw a threshold line (default 0.5 for cosine, as the seed)', parseFloatOption('--threshold'))
    .option('--json', 'print one JSON object');
  addRuntimeOptions(histogram).action(
    async (
      image: string,
      flags: RuntimeFlags & { db: string; metric: Metric; out: string; bins: number; threshold?: number; json?: boolean },
    ) => {
      await withQuery(flags, image, async (collection, query) => {
        const threshold = flags.threshold ?? (flags.metric === 'cosine' ? 0.5 : undefined);
        const { histogram: h } = await collection.histogram(query, {
          metric: flags.metric,
          bins: flags.bins,
          ...(threshold !== undefined ? { threshold } : {}),
        });
        const { histogramDataSvg, savePlot } = await import('../../plot/index.js');
        const cmp = flags.metric === 'cosine' ? '≥' : '≤';
        const svg = histogramDataSvg(
          { edges: Float64Array.from(h.edges), counts: Float64Array.from(h.counts), total: h.count, ignored: 0 },
          {
            title: `${flags.metric === 'cosine' ? 'Cosine similarity' : 'Euclidean distance'} to all other images`,
            subtitle: h.sample
              ? `${image} vs ${h.count} images (a uniform sample of ${h.sample.size}, each bar ±${h.sample.margin})`
              : `${image} vs ${h.count} images`,
            xLabel: flags.metric === 'cosine' ? 'cosine similarity' : 'euclidean distance',
            yLabel: 'images',
            markers: [
              { value: h.mean, label: `mean ${h.mean.toFixed(3)}` },
              ...(threshold !== undefined
                ? [{ value: threshold, label: `threshold ${threshold} (${h.matches} images)`, dashed: true }]
                : []),
            ],
          },
        );
        await savePlot(flags.out, svg);
        if (flags.json) {
          writeJsonLine({
            query: image,
            metric: flags.metric,
            count: h.count,
            mean: h.mean,
            min: h.min,
            max: h.max,
            ...(threshold !== undefined ? { threshold, matches: h.matches } : {}),
            histogram: { edges: h.edges, counts: h.counts },
            ...(h.sample ? { sample: h.sample } : {}),
            out: flags.out,
          });
        } else {
          const passing = threshold !== undefined ? `; ${h.matches} ${cmp} ${threshold}` : '';
          const sampled = h.sample ? ` (from a uniform sample of ${h.sample.size}: each bar ±${h.sample.margin} images)` : '';
          out(
            `${h.count} images${sampled}: mean ${h.mean.toFixed(4)}, ` +
              `min ${h.min.toFixed(4)}, max ${h.max.toFixed(4)}${passing} → ${flags.out}\n`,
          );
        }
        process.exitCode ??= EXIT_OK;
      });
    },
  );

  const duplicates = program
    .command('duplicates')
    .description('copies of the same photo in a collection (resized, re-encoded, cropped, mirrored), each group with the one to keep')
    .option('--db <file|url>', 'collection database', DEFAULT_DB)
    .option('--of <image>', 'only the copies of this image (in the collection or not): is it already there?')
    .option('--exact', 'only files with identical bytes (by content hash; instant)')
    .option(
      '--min-similarity <s>',
      'embeddings alone: pairs at or above this cosine (default: embeddings and perceptual hashes, see README)',
      parseFloatOption('--min-similarity', 0, 1),
    )
    .option('--json', 'print one JSON object');
  addRuntimeOptions(duplicates).action(
    async (flags: RuntimeFlags & { db: string; of?: string; exact?: boolean; minSimilarity?: number; json?: boolean }) => {
      const collection = await (
        await import('../../collection/index.js')
      ).Collection.open(flags.db, {
        readonly: true,
        runtime: runtimeOptions(flags),
      });
      try {
        if (flags.of !== undefined) {
          const found = await collection.duplicatesOf({ file: flags.of }).catch((e: unknown) => {
            throw toConvlensError(e, flags.of);
          });
          const copies = await Promise.all(
            found.map(async (n) => ({ path: await pathOf(collection.store, n.id), cosine: +n.score.toFixed(4) })),
          );
          if (flags.json) writeJsonLine({ of: flags.of, duplicates: copies });
          else {
            out(
              copies.length === 0
                ? `${flags.of}: no copy in the collection\n`
                : `${flags.of}: ${copies.length} cop${copies.length === 1 ? 'y' : 'ies'}\n`,
            );
            for (const c of copies) out(`  ${c.path} (cosine ${c.cosine.toFixed(4)})\n`);
          }
          return;
        }
        const method = flags.exact ? 'identical' : flags.minSimilarity !== undefined ? 'embedding' : 'visual';
        const groups = flags.exact
          ? await collection.identicalFiles()
          : await collection.duplicates(flags.minSimilarity !== undefined ? { minSimilarity: flags.minSimilarity } : {});
        const named = await Promise.all(
          groups.map(async (g) => ({
            keep: await pathOf(collection.store, g.keep),
            duplicates: await Promise.all(g.duplicates.map((id) => pathOf(collection.store, id))),
          })),
        );
        if (flags.json) {
          writeJsonLine({ method, ...(flags.minSimilarity !== undefined ? { minSimilarity: flags.minSimilarity } : {}), groups: named });
        } else {
          const what =
            method === 'identical' ? 'identical files' : method === 'embedding' ? `cosine ≥ ${flags.minSimilarity}` : 'copies of one photo';
          const extra = named.reduce((s, g) => s + g.duplicates.length, 0);
          out(`${named.length} group${named.length === 1 ? '' : 's'} (${what}); ${extra} image${extra === 1 ? '' : 's'} could go\n`);
          named.forEach((g, i) => {
            out(`group ${i + 1}: keep ${g.keep}\n`);
            for (const p of g.duplicates) out(`  copy ${p}\n`);
          });
        }
      } finally {
        await collection.close();
      }
    },
  );
}
