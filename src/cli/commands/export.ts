import type { Command } from 'commander';
import { out, writeJsonLine } from '../common.js';

export function register(program: Command): void {
  program
    .command('export')
    .description('write a trained model as one ONNX file (preprocessing + ResNet50 + new head + softmax) for any ONNX Runtime')
    .requiredOption('--model <dir>', 'model directory (softmax or svm head)')
    .requiredOption('--out <file.onnx>', 'ONNX file to write')
    .option('--json', 'print the result as one JSON object')
    .action(async (flags: { model: string; out: string; json?: boolean }) => {
      const { exportModel } = await import('../../teach/index.js');
      const r = exportModel(flags.model, flags.out);
      if (flags.json)
        writeJsonLine({
          out: flags.out,
          bytes: r.bytes,
          classes: r.classes,
          input: 'image: uint8 [batch, 224, 224, 3] RGB',
          outputs: ['probabilities', 'embedding'],
        });
      else {
        out(
          `wrote ${flags.out} (${(r.bytes / 2 ** 20).toFixed(1)} MiB): input "image" uint8 [batch, 224, 224, 3] RGB; ` +
            `outputs "probabilities" [batch, ${r.classes.length}] (${r.classes.join(', ')}), "embedding"\n`,
        );
      }
    });
}
