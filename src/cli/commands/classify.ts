import type { Command } from 'commander';
import {
  addInputOptions,
  addLensOptions,
  collectInputs,
  EXIT_OK,
  EXIT_SOME_FAILED,
  lensOptions,
  parseIntOption,
  printPredictions,
  reportInputError,
  writeJsonLine,
  type InputFlags,
  type LensFlags,
} from '../common.js';

interface Flags extends LensFlags, InputFlags {
  top: number;
}

export function register(program: Command): void {
  const cmd = addInputOptions(program.command('classify').description('top ImageNet classes of images'))
    .option('--top <n>', 'classes per image', parseIntOption('--top', 1, 1000), 5)
    .option('--json', 'one JSON object per input per line');
  addLensOptions(cmd).action(async (paths: string[], flags: Flags) => {
    const inputs = await collectInputs(paths, flags);
    const files = inputs.files;
    let failed = inputs.failed;
    if (files.length > 0) {
      const { ConvLens } = await import('../../pipeline/lens.js');
      const { decodePredictions } = await import('../../imagenet/classes.js');
      const lens = await ConvLens.load(lensOptions(flags));
      try {
        for await (const { item, outcome } of lens.process(files)) {
          const file = item as string;
          if (!outcome.ok) {
            failed++;
            reportInputError(outcome.error, file, flags.json);
            continue;
          }
          const predictions = decodePredictions(outcome.probabilities, flags.top);
          if (flags.json) writeJsonLine({ file, predictions });
          else printPredictions(file, predictions);
        }
      } finally {
        await lens.dispose();
      }
    }
    process.exitCode = failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  });
}
