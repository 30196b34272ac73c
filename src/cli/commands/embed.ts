import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ConvlensError } from '../../core/errors.js';
import { matrix } from '../../core/matrix.js';
import { writeNpy } from '../../core/npy.js';
import { ConvLens, zeroFraction } from '../../pipeline/lens.js';
import {
  addLensOptions,
  expandCliInputs,
  EXIT_OK,
  EXIT_SOME_FAILED,
  float32ToJson,
  lensOptions,
  reportInputError,
  writeJsonLine,
  type LensFlags,
} from '../common.js';

interface Flags extends LensFlags {
  json?: boolean;
  out?: string;
}

/** "emb.npy" -> "emb.files.txt": the row order of the matrix. */
export function fileListPath(npyPath: string): string {
  return `${npyPath.replace(/\.npy$/i, '')}.files.txt`;
}

export function register(program: Command): void {
  const cmd = program
    .command('embed')
    .description('representations of images: the output of a layer (default avg_pool, 2048-d) of the headless network')
    .argument('<image|dir...>', 'image files or folders')
    .option('--layer <name>', 'layer whose output is the embedding (e.g. avg_pool, activation_48, fc1000)')
    .option('--json', 'one JSON object per input per line, with the embedding')
    .option('--out <file.npy>', 'write the embeddings as a float32 N×D .npy and the row order as <file>.files.txt');
  addLensOptions(cmd).action(async (paths: string[], flags: Flags) => {
    if (flags.out !== undefined && !/\.npy$/i.test(flags.out))
      throw new ConvlensError('E_USAGE', `--out ${flags.out}: the file name must end in .npy`);
    const files = await expandCliInputs(paths, flags.json);
    const lens = await ConvLens.load(lensOptions(flags));
    const rows: Float32Array[] = [];
    const names: string[] = [];
    let failed = 0;
    try {
      const { layer, dim } = lens.settings;
      for await (const { item, outcome } of lens.process(files)) {
        const file = item as string;
        if (!outcome.ok) {
          failed++;
          reportInputError(outcome.error, file, flags.json);
          continue;
        }
        const zf = zeroFraction(outcome.embedding);
        if (flags.out) {
          rows.push(outcome.embedding);
          names.push(file);
        }
        if (flags.json) {
          writeJsonLine({
            file,
            layer,
            dim,
            zeroFraction: float32ToJson(Math.fround(zf)),
            embedding: Array.from(outcome.embedding, float32ToJson),
          });
        } else if (!flags.out) {
          const head = Array.from(outcome.embedding.subarray(0, 4), (v) => v.toFixed(3)).join(', ');
          process.stdout.write(`${file}: ${layer} ${dim}-d, ${(zf * 100).toFixed(1)}% zeros, [${head}, ...]\n`);
        }
      }
      if (flags.out) {
        const m = matrix(rows.length, dim);
        rows.forEach((r, i) => m.data.set(r, i * dim));
        writeNpy(flags.out, m);
        writeFileSync(fileListPath(flags.out), names.map((n) => `${n}\n`).join(''));
        if (!flags.json) process.stderr.write(`wrote ${rows.length}×${dim} to ${flags.out} (row order: ${fileListPath(flags.out)})\n`);
      }
    } finally {
      await lens.dispose();
    }
    process.exitCode = failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  });
}
