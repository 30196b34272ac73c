import type { Command } from 'commander';
import {
  addRuntimeOptions,
  collectInputs,
  addInputOptions,
  type InputFlags,
  EXIT_OK,
  EXIT_SOME_FAILED,
  parseIntOption,
  printPredictions,
  reportInputError,
  runtimeOptions,
  writeJsonLine,
  type RuntimeFlags,
} from '../common.js';

interface Flags extends RuntimeFlags, InputFlags {
  model: string;
  top: number;
}

export function register(program: Command): void {
  const cmd = addInputOptions(program.command('predict').description('classify images with a model trained by "convlens train"'))
    .requiredOption('--model <dir>', 'model directory')
    .option('--top <n>', 'classes per image', parseIntOption('--top', 1, 1000), 5)
    .option('--json', 'one JSON object per input per line');
  addRuntimeOptions(cmd).action(async (paths: string[], flags: Flags) => {
    const inputs = await collectInputs(paths, flags);
    const files = inputs.files;
    let failed = inputs.failed;
    const { Classifier } = await import('../../teach/index.js');
    const classifier = await Classifier.load(flags.model, runtimeOptions(flags));
    try {
      for await (const { item: file, predictions, error } of classifier.predict(files, flags.top)) {
        if (error) {
          failed++;
          reportInputError(error, file, flags.json);
        } else if (flags.json) {
          writeJsonLine({ file, predictions });
        } else {
          printPredictions(file, predictions!);
        }
      }
    } finally {
      await classifier.dispose();
    }
    process.exitCode = failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  });
}
