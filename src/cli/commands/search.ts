/** similar, histogram, duplicates: questions asked of an indexed collection. */
import { Option, type Command } from 'commander';
import { CollectionSearch, queryVector } from '../../collection/query.js';
import { DEFAULT_DB, Store } from '../../collection/store.js';
import { ConvlensError } from '../../core/errors.js';
import { computeHistogram, histogramSvg, savePlot } from '../../plot/index.js';
import type { Metric } from '../../search/index.js';
import { parseFloatOption, parseIntOption, writeJsonLine } from '../common.js';

const metricOption = (): Option =>
  new Option('--metric <metric>', 'cosine (similarity, higher is closer) or euclidean (distance, lower is closer)')
    .choices(['cosine', 'euclidean'])
    .default('cosine');

function pathOf(store: Store, id: number): string {
  return store.image(id)?.absPath ?? `#${id}`;
}

export function register(program: Command): void {
  program
    .command('similar')
    .description('the images of a collection most similar to an image (indexed or not)')
    .argument('<image>', 'an indexed image, or any image file (embedded on the fly, not stored)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('-k, --k <n>', 'how many (default 5; with a threshold and no -k: every match)', parseIntOption('-k', 1))
    .addOption(metricOption())
    .option('--min-similarity <s>', 'cosine: keep results with similarity ≥ s', parseFloatOption('--min-similarity', -1, 1))
    .option('--max-distance <d>', 'euclidean: keep results with distance ≤ d', parseFloatOption('--max-distance', 0))
    .option('--exact', 'never use the approximate (HNSW) index')
    .option('--json', 'print one JSON object')
    .action(
      async (
        image: string,
        flags: { db: string; k?: number; metric: Metric; minSimilarity?: number; maxDistance?: number; exact?: boolean; json?: boolean },
      ) => {
        if (flags.minSimilarity !== undefined && flags.metric !== 'cosine')
          throw new ConvlensError('E_USAGE', '--min-similarity goes with --metric cosine (use --max-distance for euclidean)');
        if (flags.maxDistance !== undefined && flags.metric !== 'euclidean')
          throw new ConvlensError('E_USAGE', '--max-distance goes with --metric euclidean (use --min-similarity for cosine)');
        const store = Store.open(flags.db, { readonly: true });
        try {
          const { vector, id } = await queryVector(store, image);
          const search = CollectionSearch.open(store);
          const threshold = flags.minSimilarity !== undefined || flags.maxDistance !== undefined;
          const results = await search.similarToVector(vector, {
            metric: flags.metric,
            approximate: !flags.exact,
            ...(flags.k !== undefined ? { k: flags.k } : threshold ? {} : { k: 5 }),
            ...(flags.minSimilarity !== undefined ? { minSimilarity: flags.minSimilarity } : {}),
            ...(flags.maxDistance !== undefined ? { maxDistance: flags.maxDistance } : {}),
            ...(id !== undefined ? { exclude: [id] } : {}),
          });
          const rows = results.map((r) => ({ path: pathOf(store, r.id), score: r.score }));
          if (flags.json) writeJsonLine({ query: image, metric: flags.metric, results: rows });
          else {
            const label = flags.metric === 'cosine' ? 'cosine' : 'distance';
            process.stdout.write(
              `${image}${id === undefined ? ' (not in the collection)' : ''}: ${rows.length} result${rows.length === 1 ? '' : 's'} by ${flags.metric}\n`,
            );
            rows.forEach((r, i) => process.stdout.write(`${String(i + 1).padStart(4)}. ${label} ${r.score.toFixed(4)}  ${r.path}\n`));
          }
        } finally {
          store.close();
        }
      },
    );

  program
    .command('histogram')
    .description('the distribution of similarities from one image to all the others (seed Figure 6)')
    .argument('<image>', 'an indexed image, or any image file')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .addOption(metricOption())
    .requiredOption('--out <file>', 'plot to write (.png or .svg)')
    .option('--bins <n>', 'histogram bins', parseIntOption('--bins', 2, 1000), 50)
    .option('--threshold <t>', 'draw a threshold line (default 0.5 for cosine, as the seed)', parseFloatOption('--threshold'))
    .option('--json', 'print one JSON object')
    .action(async (image: string, flags: { db: string; metric: Metric; out: string; bins: number; threshold?: number; json?: boolean }) => {
      const store = Store.open(flags.db, { readonly: true });
      try {
        const { vector, id } = await queryVector(store, image);
        const search = CollectionSearch.open(store);
        const { scores } = await search.scores(vector, flags.metric, id);
        if (scores.length === 0) throw new ConvlensError('E_DB', 'no other images in the collection', { file: flags.db });
        let sum = 0,
          min = Infinity,
          max = -Infinity;
        for (const s of scores) {
          sum += s;
          min = Math.min(min, s);
          max = Math.max(max, s);
        }
        const mean = sum / scores.length;
        const threshold = flags.threshold ?? (flags.metric === 'cosine' ? 0.5 : undefined);
        const above =
          threshold === undefined ? undefined : scores.filter((s) => (flags.metric === 'cosine' ? s >= threshold : s <= threshold)).length;
        const svg = histogramSvg(scores, {
          bins: flags.bins,
          title: `${flags.metric === 'cosine' ? 'Cosine similarity' : 'Euclidean distance'} to all other images`,
          subtitle: `${image} vs ${scores.length} images`,
          xLabel: flags.metric === 'cosine' ? 'cosine similarity' : 'euclidean distance',
          yLabel: 'images',
          markers: [
            { value: mean, label: `mean ${mean.toFixed(3)}` },
            ...(threshold !== undefined ? [{ value: threshold, label: `threshold ${threshold} (${above} images)`, dashed: true }] : []),
          ],
        });
        await savePlot(flags.out, svg);
        if (flags.json) {
          const h = computeHistogram(scores, { bins: flags.bins });
          writeJsonLine({
            query: image,
            metric: flags.metric,
            count: scores.length,
            mean,
            min,
            max,
            ...(threshold !== undefined ? { threshold, matches: above } : {}),
            histogram: { edges: Array.from(h.edges), counts: Array.from(h.counts) },
            out: flags.out,
          });
        } else {
          process.stdout.write(
            `${scores.length} images: mean ${mean.toFixed(4)}, min ${min.toFixed(4)}, max ${max.toFixed(4)}${threshold !== undefined ? `; ${above} ${flags.metric === 'cosine' ? '≥' : '≤'} ${threshold}` : ''} → ${flags.out}\n`,
          );
        }
      } finally {
        store.close();
      }
    });

  program
    .command('duplicates')
    .description('groups of near-identical images in a collection')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('--min-similarity <s>', 'cosine similarity that makes two images duplicates', parseFloatOption('--min-similarity', -1, 1), 0.95)
    .option('--json', 'print one JSON object')
    .action(async (flags: { db: string; minSimilarity: number; json?: boolean }) => {
      const store = Store.open(flags.db, { readonly: true });
      try {
        const groups = await CollectionSearch.open(store).duplicates(flags.minSimilarity);
        const paths = groups.map((g) => g.map((id) => pathOf(store, id)));
        if (flags.json) writeJsonLine({ minSimilarity: flags.minSimilarity, groups: paths });
        else {
          process.stdout.write(
            `${groups.length} group${groups.length === 1 ? '' : 's'} of near-duplicates (cosine ≥ ${flags.minSimilarity})\n`,
          );
          paths.forEach((g, i) => {
            process.stdout.write(`group ${i + 1} (${g.length}):\n`);
            for (const p of g) process.stdout.write(`  ${p}\n`);
          });
        }
      } finally {
        store.close();
      }
    });
}
