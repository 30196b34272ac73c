import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_DB, Store } from '../../collection/store.js';
import { ConvlensError } from '../../core/errors.js';
import { expandInputs } from '../../image/files.js';
import { classifyCollection } from '../../teach/index.js';
import { parseIntOption, percent, reportError, writeJsonLine } from '../common.js';

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
      const store = Store.open(flags.db);
      try {
        const pairs: { file: string; label: string | null }[] = [];
        if (flags.from) {
          const base = dirname(resolve(flags.from));
          readFileSync(flags.from, 'utf8')
            .split(/\r?\n/)
            .forEach((line, i) => {
              const [p, l] = line.split('\t');
              if (!line.trim() || (i === 0 && p?.toLowerCase() === 'path')) return;
              if (!p || !l?.trim())
                throw new ConvlensError('E_BAD_INPUT', `line ${i + 1}: expected "path<TAB>label"`, { file: flags.from });
              pairs.push({ file: resolve(base, p), label: l.trim() });
            });
        } else if (paths.length > 0 && (flags.as !== undefined || flags.clear)) {
          if (flags.as !== undefined && !flags.as.trim()) throw new ConvlensError('E_USAGE', '--as needs a non-empty label');
          for (const f of await expandInputs(paths)) pairs.push({ file: f, label: flags.clear ? null : flags.as!.trim() });
        } else if (paths.length > 0 || modes > 0) {
          throw new ConvlensError('E_USAGE', 'give images with --as LABEL or --clear, or a --from file');
        }
        const unknown: string[] = [];
        let changed = 0;
        for (const { file, label } of pairs) {
          const row = store.imageByPath(file);
          if (!row) {
            unknown.push(file);
            continue;
          }
          changed += store.setLabels([row.id], label);
        }
        const counts = store.labelCounts();
        if (flags.json) writeJsonLine({ changed, notIndexed: unknown, labels: counts });
        else {
          for (const f of unknown) reportError({ code: 'E_NOT_FOUND', message: 'not in the collection (index it first)' }, f);
          if (pairs.length > 0)
            process.stdout.write(`${changed} image${changed === 1 ? '' : 's'} ${flags.clear ? 'unlabelled' : 'labelled'}\n`);
          for (const c of counts) process.stdout.write(`${String(c.count).padStart(6)}  ${c.label}\n`);
        }
        process.exitCode = unknown.length > 0 ? 2 : 0;
      } finally {
        store.close();
      }
    });

  program
    .command('knn')
    .description('learn from the labelled images of a collection and classify the rest (k-NN, or a softmax head)')
    .option('--db <file>', 'collection database', DEFAULT_DB)
    .addOption(new Option('--head <type>', 'classifier').choices(['knn', 'softmax', 'svm']).default('knn'))
    .option('--k <n>', 'neighbours (default: chosen by cross-validation)', parseIntOption('--k', 1))
    .addOption(new Option('--metric <m>', 'k-NN distance').choices(['cosine', 'euclidean', 'auto']))
    .option('--all', 'also classify the labelled images')
    .option('--json', 'one JSON object per image per line')
    .action(
      (flags: {
        db: string;
        head: 'knn' | 'softmax' | 'svm';
        k?: number;
        metric?: 'cosine' | 'euclidean' | 'auto';
        all?: boolean;
        json?: boolean;
      }) => {
        const store = Store.open(flags.db, { readonly: true });
        try {
          const r = classifyCollection(store, { head: flags.head, k: flags.k, knnMetric: flags.metric, all: flags.all });
          if (!flags.json)
            process.stderr.write(`${r.head.type} head trained on ${r.labelled} labelled images (${r.head.classes.join(', ')})\n`);
          for (const p of r.predictions) {
            if (flags.json) writeJsonLine({ file: p.path, id: p.id, label: p.label, probability: p.probability });
            else process.stdout.write(`${p.label}\t${percent(p.probability)}\t${p.path}\n`);
          }
        } finally {
          store.close();
        }
      },
    );
}
