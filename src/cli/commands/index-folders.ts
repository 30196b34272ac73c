import { Option, type Command } from 'commander';
import { CollectionSearch } from '../../collection/query.js';
import { indexFolders } from '../../collection/indexer.js';
import { DEFAULT_DB, Store } from '../../collection/store.js';
import type { ResizeMode } from '../../image/decode.js';
import { ConvLens } from '../../pipeline/lens.js';
import {
  addLensOptions,
  EXIT_OK,
  EXIT_SOME_FAILED,
  lensOptions,
  parseIntOption,
  reportError,
  writeJsonLine,
  type LensFlags,
} from '../common.js';
import { progressReporter } from '../progress.js';

/** Collections at least this large get an HNSW index by default (exact scans pass ~50 ms around 100k). */
const HNSW_AUTO_MIN = 50_000;

interface Flags extends Omit<LensFlags, 'resize'> {
  hnsw: 'auto' | 'always' | 'never';
  db: string;
  resize?: ResizeMode;
  prune?: boolean;
  json?: boolean;
  quiet?: boolean;
  thumbSize: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('index')
    .description('embed every image under folders into a collection database (incremental, resumable)')
    .argument('<dir...>', 'folders to index (recursively)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('--prune', 'drop rows of files that no longer exist')
    .option('--thumb-size <px>', 'longer side of stored thumbnails (0: none)', parseIntOption('--thumb-size', 0, 1024), 128)
    .addOption(
      new Option('--hnsw <when>', `build the approximate (HNSW) search index: auto = for collections of ${HNSW_AUTO_MIN} images or more`)
        .choices(['auto', 'always', 'never'])
        .default('auto'),
    )
    .option('--json', 'print the summary as one JSON object')
    .option('--quiet', 'no progress output');
  // no --resize default: a database keeps the mode it was created with
  addLensOptions(cmd, { resize: undefined }).action(async (dirs: string[], flags: Flags) => {
    const store = Store.open(flags.db, { create: true });
    const controller = new AbortController();
    const onSigint = (): void => controller.abort();
    process.once('SIGINT', onSigint);
    const progress = progressReporter('index', { quiet: flags.quiet });
    try {
      // a new collection defaults to crop: better neighbours and top-5 than squash (README)
      const resize = flags.resize ?? (store.settings?.resize as ResizeMode | undefined) ?? 'crop';
      const lens = await ConvLens.load(lensOptions({ ...flags, resize }));
      let summary;
      try {
        summary = await indexFolders(store, lens, dirs, {
          prune: flags.prune,
          thumbnailSize: flags.thumbSize,
          signal: controller.signal,
          onProgress: (p) => progress.update(p),
        });
      } finally {
        progress.stop();
        await lens.dispose();
      }
      let hnsw: string | null = null;
      const embedded = store.count().embedded;
      if (!summary.interrupted && (flags.hnsw === 'always' || (flags.hnsw === 'auto' && embedded >= HNSW_AUTO_MIN))) {
        const search = CollectionSearch.open(store);
        if (search.stale || store.getMeta('hnsw.cosine') !== store.embeddingsVersion() || flags.hnsw === 'always') {
          const bar = progressReporter('hnsw', { quiet: flags.quiet, unit: 'vectors' });
          const t0 = performance.now();
          hnsw = await search
            .buildHnsw('cosine', (done, total) =>
              bar.update({ done, total, imagesPerSecond: done / ((performance.now() - t0) / 1000), etaSeconds: null }),
            )
            .finally(() => bar.stop());
        }
      }
      const { indexed, unchanged, failed, pruned, seconds } = summary;
      if (flags.json) {
        writeJsonLine({
          indexed,
          unchanged,
          failed,
          pruned,
          missing: summary.missing,
          reused: summary.reused,
          interrupted: summary.interrupted,
          seconds: +seconds.toFixed(3),
          ...(hnsw ? { hnsw } : {}),
        });
      } else {
        for (const f of failed) reportError(f, f.path);
        const parts = [`${indexed} indexed`, `${unchanged} unchanged`, `${failed.length} failed`];
        if (pruned) parts.push(`${pruned} pruned`);
        if (summary.missing) parts.push(`${summary.missing} missing on disk (use --prune to drop them)`);
        if (summary.reused) parts.push(`${summary.reused} copied from identical files`);
        if (hnsw) parts.push(`HNSW index → ${hnsw}`);
        process.stdout.write(`${summary.interrupted ? 'interrupted: ' : ''}${parts.join(', ')} in ${seconds.toFixed(1)}s → ${flags.db}\n`);
      }
      process.exitCode = failed.length > 0 ? EXIT_SOME_FAILED : summary.interrupted ? 130 : EXIT_OK;
    } finally {
      process.off('SIGINT', onSigint);
      store.close();
    }
  });
}
