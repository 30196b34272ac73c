import { rmSync } from 'node:fs';
import type { Command } from 'commander';
import { ConvlensError } from '../../core/errors.js';
import { commitTempFile, tempPathFor, writeFileAtomic } from '../../core/files.js';
import { encodeNpy } from '../../core/npy.js';
import { matrix, zeroFraction } from '../../core/matrix.js';
import {
  addInputOptions,
  addLensOptions,
  collectInputs,
  EXIT_OK,
  EXIT_SOME_FAILED,
  float32ToJson,
  lensOptions,
  out,
  reportInputError,
  writeJsonLine,
  type InputFlags,
  type LensFlags,
} from '../common.js';

interface Flags extends LensFlags, InputFlags {
  out?: string;
}

/**
 * "emb.npy" -> "emb.files.jsonl": the row order of the matrix, one JSON string per line. JSON
 * keeps any file name whole (a newline in a name, bytes that are not UTF-8 as \udcXX escapes), so
 * row i is always line i; Python reads it with `[json.loads(l) for l in open(f)]`.
 */
export function fileListPath(npyPath: string): string {
  return `${npyPath.replace(/\.npy$/i, '')}.files.jsonl`;
}

export function register(program: Command): void {
  const cmd = addInputOptions(
    program
      .command('embed')
      .description('representations of images: the output of a layer (default avg_pool, 2048-d) of the headless network'),
  )
    .option('--layer <name>', 'layer whose output is the embedding (e.g. avg_pool, activation_48, fc1000)')
    .option('--json', 'one JSON object per input per line, with the embedding')
    .option('--out <file.npy>', 'write the embeddings as a float32 N×D .npy, and the row order as <file>.files.jsonl (JSON lines)');
  addLensOptions(cmd).action(async (paths: string[], flags: Flags) => {
    if (flags.out !== undefined && !/\.npy$/i.test(flags.out))
      throw new ConvlensError('E_USAGE', `--out ${flags.out}: the file name must end in .npy`);
    const inputs = await collectInputs(paths, flags);
    const files = inputs.files;
    let failed = inputs.failed;
    const rows: Float32Array[] = [];
    const names: string[] = [];
    let dim = 0;
    if (files.length > 0) {
      const { ConvLens } = await import('../../pipeline/lens.js');
      const lens = await ConvLens.load(lensOptions(flags));
      try {
        const layer = lens.settings.layer;
        dim = lens.settings.dim;
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
            out(`${file}: ${layer} ${dim}-d, ${(zf * 100).toFixed(1)}% zeros, [${head}, ...]\n`);
          }
        }
      } finally {
        await lens.dispose();
      }
    }
    if (flags.out) {
      const m = matrix(rows.length, dim);
      rows.forEach((r, i) => m.data.set(r, i * dim));
      // both files appear together or not at all: the list is written first, the matrix renamed last
      const listPath = fileListPath(flags.out);
      const tmp = tempPathFor(flags.out);
      try {
        writeFileAtomic(tmp, encodeNpy(m));
        writeFileAtomic(listPath, names.map((n) => `${JSON.stringify(n)}\n`).join(''));
        commitTempFile(tmp, flags.out);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw e;
      }
      if (!flags.json) process.stderr.write(`wrote ${rows.length}×${dim} to ${flags.out} (row order: ${listPath})\n`);
    }
    process.exitCode = failed > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  });
}
