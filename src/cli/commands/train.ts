import { Option, type Command } from 'commander';
import { AUGMENTATIONS, type Augmentation } from '../../teach/augment.js';
import {
  addLensOptions,
  lensOptions,
  parseFloatOption,
  parseIntOption,
  reportError,
  saveConfusionPlot,
  writeJsonLine,
  type LensFlags,
  out,
} from '../common.js';
import { progressReporter } from '../progress.js';

interface Flags extends LensFlags {
  out: string;
  head: 'softmax' | 'knn' | 'svm';
  val: number;
  seed: number;
  epochs?: number;
  augment?: string;
  k?: number;
  metric?: 'cosine' | 'euclidean' | 'auto';
  l2?: number;
  refit: boolean;
  json?: boolean;
  plot?: string;
  quiet?: boolean;
  tta?: boolean;
}

function parseAugment(v: string): Augmentation[] {
  const parts = v
    .split(/[,+]/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of parts)
    if (!AUGMENTATIONS.includes(p as Augmentation))
      throw new Error(`--augment: unknown "${p}" (use ${AUGMENTATIONS.join(', ')}, or flip,crops)`);
  return parts as Augmentation[];
}

export function register(program: Command): void {
  const cmd = program
    .command('train')
    .description("train a classifier for your own classes on the frozen embeddings (the seed's retrained last layer, k-NN or SVM)")
    .argument('<labelled>', 'a folder of class folders (<dir>/<class>/*.jpg) or a TSV of path<TAB>label')
    .requiredOption('--out <dir>', 'model directory to write')
    .addOption(
      new Option('--head <type>', 'softmax: Dense + softmax (L-BFGS, L2 by cross-validation); knn; svm: linear one-vs-rest')
        .choices(['softmax', 'knn', 'svm'])
        .default('softmax'),
    )
    .option('--val <fraction>', 'stratified validation split for the printed metrics (0: none)', parseFloatOption('--val', 0, 0.9), 0.2)
    .option('--seed <n>', 'seed for the split and the optimiser', parseIntOption('--seed', 0), 0)
    .option('--epochs <n>', 'linear heads: optimiser iterations at most', parseIntOption('--epochs', 1))
    .option('--augment <views>', 'add embeddings of transformed training images: flip, crops (four corners) or flip,crops')
    .option('--k <n>', 'knn: neighbours (default: chosen by cross-validation)', parseIntOption('--k', 1))
    .addOption(new Option('--metric <m>', 'knn: distance').choices(['cosine', 'euclidean', 'auto']))
    .option(
      '--l2 <lambda>',
      'linear heads: L2 strength, pulling the weights towards a shrinkage-LDA solution (default: chosen by cross-validation)',
      parseFloatOption('--l2', 0),
    )
    .option('--tta', 'test-time augmentation: embed each image and its mirror and use their mean, in training and every prediction')
    .option('--no-refit', 'keep the model trained on the training split (default: refit on all rows after validating)')
    .option('--plot <file>', 'save the validation confusion matrix as .png or .svg')
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'no progress output');
  addLensOptions(cmd).action(async (labelled: string, flags: Flags) => {
    const augment = flags.augment ? parseAugment(flags.augment) : [];
    const progress = progressReporter('embed', { quiet: flags.quiet || flags.json });
    const { trainModel } = await import('../../teach/index.js');
    const { formatReport } = await import('../../heads/index.js');
    const r = await trainModel(labelled, flags.out, {
      lens: lensOptions(flags),
      head: flags.head,
      val: flags.val,
      seed: flags.seed,
      epochs: flags.epochs,
      augment,
      k: flags.k,
      knnMetric: flags.metric,
      l2: flags.l2,
      refit: flags.refit,
      tta: flags.tta ?? false,
      cacheDir: flags.cacheDir,
      onProgress: (_stage, p) => progress.update(p),
    }).finally(() => progress.stop());
    if (flags.plot && r.report) await saveConfusionPlot(flags.plot, r.report, `${flags.head} head, validation split`);
    if (flags.json) {
      writeJsonLine({
        model: flags.out,
        head: r.head.type,
        classes: r.classes,
        counts: r.counts,
        metrics: r.report,
        failed: r.failed,
        seconds: { embed: +r.seconds.embed.toFixed(2), train: +r.seconds.train.toFixed(2) },
      });
    } else {
      for (const f of r.failed) reportError(f, f.path);
      const c = r.counts;
      out(`${r.head.type} head, ${r.classes.length} classes (${r.classes.join(', ')})\n`);
      out(
        `${c.embedded}/${c.labelled} images embedded; ` +
          `train ${c.train}${c.augmented ? ` (+${c.augmented} augmented views)` : ''}, validation ${c.val}\n`,
      );
      if (r.report) out(`\nvalidation accuracy ${r.report.accuracy.toFixed(4)}\n\n${formatReport(r.report)}\n`);
      out(`embedding ${r.seconds.embed.toFixed(1)}s, training ${r.seconds.train.toFixed(1)}s → ${flags.out}\n`);
    }
    process.exitCode = r.failed.length > 0 ? 2 : 0;
  });
}
