import type { Command } from 'commander';
import {
  addRuntimeOptions,
  EXIT_OK,
  EXIT_SOME_FAILED,
  reportError,
  runtimeOptions,
  saveConfusionPlot,
  writeJsonLine,
  type RuntimeFlags,
  out,
  parseIntOption,
} from '../common.js';
import { progressReporter } from '../progress.js';

interface Flags extends RuntimeFlags {
  model: string;
  json?: boolean;
  plot?: string;
  quiet?: boolean;
  mistakes: number;
}

export function register(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('accuracy, per-class precision / recall / F1 and confusion matrix of a trained model on a labelled set')
    .argument('<labelled>', 'a folder of class folders or a TSV of path<TAB>label')
    .requiredOption('--model <dir>', 'model directory')
    .option('--plot <file>', 'save the confusion matrix as .png or .svg')
    .option(
      '--mistakes <n>',
      'list the N wrong predictions the model is most sure of (likely mislabelled images)',
      parseIntOption('--mistakes', 0),
      0,
    )
    .option('--json', 'print the report as one JSON object')
    .option('--quiet', 'no progress output');
  addRuntimeOptions(cmd).action(async (labelled: string, flags: Flags) => {
    const { Classifier } = await import('../../teach/index.js');
    const { formatReport } = await import('../../heads/index.js');
    const classifier = await Classifier.load(flags.model, runtimeOptions(flags));
    const progress = progressReporter('embed', { quiet: flags.quiet || flags.json });
    try {
      const { report, failed, mistakes } = await classifier
        .evaluate(labelled, { cacheDir: flags.cacheDir, onProgress: (p) => progress.update(p) })
        .finally(() => progress.stop());
      if (flags.plot) await saveConfusionPlot(flags.plot, report, `${classifier.model.head.type} head on ${labelled}`);
      const shown = mistakes.slice(0, flags.mistakes);
      if (flags.json)
        writeJsonLine({ model: flags.model, labelled, ...report, failed, ...(flags.mistakes > 0 ? { mistakes: shown } : {}) });
      else {
        for (const f of failed) reportError(f, f.path);
        out(`accuracy ${report.accuracy.toFixed(4)} on ${report.n} images\n\n${formatReport(report)}`);
        if (flags.mistakes > 0) {
          out(`\nmost confident mistakes (${shown.length} of ${mistakes.length}):\n`);
          for (const m of shown)
            out(`  ${(m.probability * 100).toFixed(1).padStart(5)}%  ${m.predicted}, labelled ${m.label}: ${m.path}\n`);
        }
      }
      process.exitCode = failed.length > 0 ? EXIT_SOME_FAILED : EXIT_OK;
    } finally {
      await classifier.dispose();
    }
  });
}
