import type { Command } from 'commander';
import { expandInputs } from '../../image/files.js';
import { Classifier } from '../../teach/index.js';
import { addRuntimeOptions, errorJson, EXIT_OK, EXIT_SOME_FAILED, parseIntOption, percent, reportError, writeJsonLine } from '../common.js';

interface Flags {
  model: string;
  top: number;
  json?: boolean;
  batch: number;
  threads?: number;
  maxPixels: number;
  cacheDir?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('classify images with a model trained by "convlens train"')
    .argument('<image|dir...>', 'image files or folders')
    .requiredOption('--model <dir>', 'model directory')
    .option('--top <n>', 'classes per image', parseIntOption('--top', 1, 1000), 5)
    .option('--json', 'one JSON object per input per line');
  addRuntimeOptions(cmd).action(async (paths: string[], flags: Flags) => {
    const classifier = await Classifier.load(flags.model, { batchSize: flags.batch, threads: flags.threads, maxPixels: flags.maxPixels, cacheDir: flags.cacheDir });
    let failed = 0;
    try {
      const files = await expandInputs(paths, (e) => (flags.json ? writeJsonLine(errorJson(e.file ?? '', e)) : reportError(e)));
      for await (const { item: file, predictions, error } of classifier.predict(files, flags.top)) {
        if (error) {
          failed++;
          if (flags.json) writeJsonLine(errorJson(file, error));
          else reportError(error, file);
        } else if (flags.json) {
          writeJsonLine({ file, predictions });
        } else {
          process.stdout.write(`${file}\n`);
          const width = Math.max(...predictions!.map((p) => p.label.length));
          for (const p of predictions!) process.stdout.write(`  ${p.label.padEnd(width)}  ${percent(p.probability).padStart(7)}\n`);
        }
      }
    } finally {
      await classifier.dispose();
    }
    process.exitCode = failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  });
}
