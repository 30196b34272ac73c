import { Option, type Command } from 'commander';
import { DEFAULT_DB, displayPath } from '../../store/index.js';
import {
  addLensOptions,
  EXIT_OK,
  EXIT_SIGNAL,
  EXIT_SOME_FAILED,
  EXIT_USAGE,
  lensChoice,
  out,
  parseIntOption,
  reportError,
  runtimeOptions,
  stopOnSignals,
  writeJsonLine,
  type LensFlags,
} from '../common.js';
import { progressReporter } from '../progress.js';
import { HNSW_AUTO_MIN, type HnswWhen } from '../../collection/hnsw-policy.js';
import type { QueuedIndexSummary } from '../../distributed/index.js';
import type { IndexSummary } from '../../indexer/index.js';

interface Flags extends LensFlags {
  hnsw: HnswWhen;
  db: string;
  prune?: boolean;
  json?: boolean;
  quiet?: boolean;
  thumbSize: number;
  wait?: number;
  queue?: string;
  batchFiles: number;
  reportDuplicates?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('index')
    .description('embed every image under folders into a collection database (incremental, resumable)')
    .argument('<dir...>', 'folders to index (recursively)')
    .option('--db <file|url>', 'collection: a SQLite file, or postgres://user@host/db[?schema=name] (shared)', DEFAULT_DB)
    .option('--prune', 'drop rows of files that no longer exist (never under a folder that could not be read)')
    .option('--thumb-size <px>', 'longer side of stored thumbnails (0: none)', parseIntOption('--thumb-size', 0, 1024), 128)
    .addOption(
      new Option(
        '--hnsw <when>',
        `build the approximate (HNSW) search index: auto = for collections of ${HNSW_AUTO_MIN} images or more, or that had one`,
      )
        .choices(['auto', 'always', 'never'])
        .default('auto'),
    )
    .option('--wait <seconds>', 'wait this long for another index run on the same database to finish', parseIntOption('--wait', 0))
    .option('--queue <redis-url>', 'spread the work over `convlens worker`s through this Redis (BullMQ); needs a postgres:// --db')
    .option('--batch-files <n>', 'with --queue: files per queued batch', parseIntOption('--batch-files', 1, 100_000), 64)
    .option('--report-duplicates', 'list the new images that are copies of images already in the collection (see duplicates)')
    .option('--json', 'print the summary as one JSON object')
    .option('--quiet', 'no progress output');
  // no --resize default: a database keeps the mode it was created with (crop for a new one)
  addLensOptions(cmd).action(async (dirs: string[], flags: Flags) => {
    const collection = await (
      await import('../../collection/index.js')
    ).Collection.open(flags.db, {
      create: true,
      runtime: runtimeOptions(flags),
      lens: lensChoice(flags),
    });
    const stop = stopOnSignals();
    const progress = progressReporter('index', { quiet: flags.quiet });
    const started = Date.now();
    try {
      const summary: IndexSummary & Partial<QueuedIndexSummary> = await (
        flags.queue
          ? (await import('../../distributed/index.js')).indexWithQueue(collection, dirs, {
              queue: flags.queue,
              prune: flags.prune ?? false,
              batchFiles: flags.batchFiles,
              thumbnailSize: flags.thumbSize,
              signal: stop.signal,
              onProgress: (p) => progress.update(p),
            })
          : collection.index(dirs, {
              prune: flags.prune,
              thumbnailSize: flags.thumbSize,
              signal: stop.signal,
              lockWaitMs: (flags.wait ?? 0) * 1000,
              onProgress: (p) => progress.update(p),
            })
      ).finally(() => progress.stop());
      let hnsw: string | null = null;
      if (!summary.interrupted) {
        const bar = progressReporter('hnsw', { quiet: flags.quiet, unit: 'vectors' });
        const t0 = performance.now();
        hnsw = await collection
          .refreshHnsw(flags.hnsw, (done, total) =>
            bar.update({ done, total, imagesPerSecond: done / ((performance.now() - t0) / 1000), etaSeconds: null }),
          )
          .finally(() => bar.stop());
      }
      let duplicates: { path: string; of: string[] }[] | null = null;
      if (flags.reportDuplicates && !summary.interrupted && summary.indexed > 0) {
        const pathOf = async (id: number): Promise<string> => {
          const r = await collection.store.image(id);
          return r ? displayPath(r) : String(id);
        };
        duplicates = await Promise.all(
          (await collection.duplicatesSince(started)).map(async (d) => ({
            path: await pathOf(d.id),
            of: await Promise.all(d.of.map(pathOf)),
          })),
        );
      }
      const { indexed, unchanged, failed, pruned, seconds } = summary;
      const signal = stop.received();
      if (flags.json) {
        writeJsonLine({
          indexed,
          unchanged,
          failed,
          pruned,
          missing: summary.missing,
          reused: summary.reused,
          interrupted: summary.interrupted,
          ...(signal ? { signal } : {}),
          seconds: +seconds.toFixed(3),
          ...(hnsw ? { hnsw } : {}),
          ...(summary.batches !== undefined ? { batches: summary.batches, workers: summary.workers, requeued: summary.requeued } : {}),
          ...(summary.error ? { error: summary.error } : {}),
          ...(duplicates ? { duplicates } : {}),
        });
      } else {
        for (const f of failed) reportError(f, f.path);
        if (summary.error) reportError({ ...summary.error, file: flags.db });
        const parts = [`${indexed} indexed`, `${unchanged} unchanged`, `${failed.length} failed`];
        if (pruned) parts.push(`${pruned} pruned`);
        if (summary.missing) parts.push(`${summary.missing} missing on disk (use --prune to drop them)`);
        if (summary.reused) parts.push(`${summary.reused} copied from identical files`);
        if (hnsw) parts.push(`HNSW index → ${hnsw}`);
        if (summary.batches !== undefined) parts.push(`${summary.batches} batches by ${summary.workers!.length} worker(s)`);
        if (duplicates) {
          parts.push(`${duplicates.length} new image${duplicates.length === 1 ? ' is a copy' : 's are copies'} of earlier ones`);
          for (const d of duplicates) out(`copy: ${d.path} (of ${d.of.join(', ')})\n`);
        }
        const why = summary.error ? 'stopped: ' : summary.interrupted ? `interrupted${signal ? ` (${signal})` : ''}: ` : '';
        out(`${why}${parts.join(', ')} in ${seconds.toFixed(1)}s → ${collection.location}\n`);
      }
      process.exitCode = summary.error ? EXIT_USAGE : signal ? EXIT_SIGNAL[signal] : failed.length > 0 ? EXIT_SOME_FAILED : EXIT_OK;
    } finally {
      stop.dispose();
      await collection.close();
    }
  });
}
