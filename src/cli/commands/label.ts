import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { ConvlensError, fsError } from '../../core/errors.js';
import { expandInputs } from '../../image/files.js';
import { DEFAULT_DB, displayPath } from '../../store/index.js';
import { out, parseIntOption, percent, reportError, writeJsonLine } from '../common.js';

/** path -> label pairs from a TSV (paths relative to the TSV's folder). */
export function readLabelTsv(file: string): { file: string; label: string }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fsError(e, file, 'cannot read the labels file');
  }
  const base = dirname(resolve(file));
  const pairs: { file: string; label: string }[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const [p, l] = line.split('\t');
    if (!line.trim() || (i === 0 && p?.toLowerCase() === 'path')) return;
    if (!p || !l?.trim()) throw new ConvlensError('E_BAD_INPUT', `line ${i + 1}: expected "path<TAB>label"`, { file });
    pairs.push({ file: resolve(base, p), label: l.trim() });
  });
  return pairs;
}

export function register(program: Command): void {
  program
    .command('label')
    .description('attach a label to indexed images (to train on the collection with "convlens knn")')
    .argument('[image|dir...]', 'indexed images or folders')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .option('--as <label>', 'the label to give')
    .option('--from <file.tsv>', 'labels from a TSV of path<TAB>label (paths relative to the TSV)')
    .option('--clear', 'remove the labels of the given images')
    .option('--json', 'print the result as one JSON object')
    .action(async (paths: string[], flags: { db: string; as?: string; from?: string; clear?: boolean; json?: boolean }) => {
      const modes = [flags.as !== undefined, flags.from !== undefined, flags.clear === true].filter(Boolean).length;
      if (modes > 1) throw new ConvlensError('E_USAGE', 'use one of --as, --from, --clear');
      const pairs: { file: string; label: string | null }[] = [];
      if (flags.from) pairs.push(...readLabelTsv(flags.from));
      else if (paths.length > 0 && (flags.as !== undefined || flags.clear)) {
        if (flags.as !== undefined && !flags.as.trim()) throw new ConvlensError('E_USAGE', '--as needs a non-empty label');
        for (const f of await expandInputs(paths)) pairs.push({ file: f, label: flags.clear ? null : flags.as!.trim() });
      } else if (paths.length > 0 || modes > 0) {
        throw new ConvlensError('E_USAGE', 'give images with --as LABEL or --clear, or a --from file');
      }
      const collection = await (await import('../../collection/index.js')).Collection.open(flags.db);
      try {
        const unknown: string[] = [];
        let changed = 0;
        for (const { file, label } of pairs) {
          const row = await collection.imageByFile(file);
          if (!row) {
            unknown.push(file);
            continue;
          }
          changed += await collection.setLabels([row.id], label);
        }
        const counts = await collection.labelCounts();
        if (flags.json) writeJsonLine({ changed, notIndexed: unknown, labels: counts });
        else {
          for (const f of unknown) reportError({ code: 'E_NOT_FOUND', message: 'not in the collection (index it first)' }, f);
          if (pairs.length > 0) out(`${changed} image${changed === 1 ? '' : 's'} ${flags.clear ? 'unlabelled' : 'labelled'}\n`);
          for (const c of counts) out(`${String(c.count).padStart(6)}  ${c.label}\n`);
        }
        process.exitCode = unknown.length > 0 ? 2 : 0;
      } finally {
        await collection.close();
      }
    });

  program
    .command('knn')
    .description('learn from the labelled images of a collection (cross-validated) and classify the rest (k-NN, or a softmax / SVM head)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .addOption(new Option('--head <type>', 'classifier').choices(['knn', 'softmax', 'svm']).default('knn'))
    .option('--k <n>', 'neighbours (default: chosen by cross-validation)', parseIntOption('--k', 1))
    .addOption(new Option('--metric <m>', 'k-NN distance').choices(['cosine', 'euclidean', 'auto']))
    .option('--seed <n>', 'seed of the cross-validation folds', parseIntOption('--seed', 0), 0)
    .option('--all', 'also classify the labelled images')
    .option('--json', 'print the metrics and the predictions as one JSON object')
    .action(
      async (flags: {
        db: string;
        head: 'knn' | 'softmax' | 'svm';
        k?: number;
        metric?: 'cosine' | 'euclidean' | 'auto';
        seed: number;
        all?: boolean;
        json?: boolean;
      }) => {
        const collection = await (await import('../../collection/index.js')).Collection.open(flags.db, { readonly: true });
        try {
          const r = await collection.train({ head: flags.head, k: flags.k, knnMetric: flags.metric, seed: flags.seed, all: flags.all });
          const rows = await Promise.all(
            r.predictions.map(async (p) => {
              const row = await collection.store.image(p.id);
              return { file: row ? displayPath(row) : `#${p.id}`, id: p.id, label: p.label, probability: p.probability };
            }),
          );
          const n = r.labelled.reduce((a, c) => a + c.count, 0);
          if (flags.json) {
            writeJsonLine({
              head: r.head.type,
              classes: r.head.classes,
              labelled: r.labelled,
              metrics: r.metrics,
              note: r.note,
              predictions: rows,
            });
            return;
          }
          process.stderr.write(`${r.head.type} head trained on ${n} labelled images (${r.head.classes.join(', ')})\n`);
          if (r.metrics) {
            const m = r.metrics;
            process.stderr.write(`cross-validated (${m.folds} folds) accuracy ${m.accuracy.toFixed(4)} on ${m.n} labelled images\n`);
            const { formatReport } = await import('../../heads/index.js');
            process.stderr.write(formatReport(m));
          } else if (r.note) process.stderr.write(`${r.note}\n`);
          for (const p of rows) out(`${p.label}\t${percent(p.probability)}\t${p.file}\n`);
        } finally {
          await collection.close();
        }
      },
    );
}
