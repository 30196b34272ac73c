import { Option, type Command } from 'commander';
import { ConvlensError } from '../../core/errors.js';
import { EXIT_SIGNAL, out, parseIntOption, stopOnSignals, writeJsonLine } from '../common.js';
import { progressReporter } from '../progress.js';

interface Flags {
  calibrate?: string;
  method: string;
  threads?: number;
  cacheDir?: string;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('quantize')
    .description(
      'make the int8 network (--precision int8): calibrate it on the shipped images (the default) or on your own (--calibrate DIR)',
    )
    .option('--calibrate <dir>', 'measure activation ranges on the images in this folder (a few dozen like yours are enough)')
    .addOption(
      new Option('--method <m>', 'range per tensor: minmax (default, measured best here), or a percentile such as p99.999').default(
        'minmax',
      ),
    )
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', parseIntOption('--threads', 1, 1024))
    .option('--cache-dir <dir>', 'where converted models live (default $CONVLENS_CACHE_DIR or ~/.cache/convlens)')
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'no progress output')
    .action(async (flags: Flags) => {
      const [{ calibrationSet, defaultCalibrationFolder }, { ensureQuantized }, { parseRangeMethod }, { RESNET50 }] = await Promise.all([
        import('../../model/calibration.js'),
        import('../../model/int8.js'),
        import('../../model/range-observer.js'),
        import('../../model/registry.js'),
      ]);
      const method = parseRangeMethod(flags.method);
      if (!method)
        throw new ConvlensError('E_USAGE', `--method must be minmax or pNN.NNN, a percentile from 90 to 100 (got ${flags.method})`);
      const set = await calibrationSet(flags.calibrate ?? defaultCalibrationFolder(), method);
      const stop = stopOnSignals();
      const progress = progressReporter('calibrate', { quiet: flags.quiet ?? false });
      const t0 = performance.now();
      let model;
      try {
        model = await ensureQuantized(RESNET50, [RESNET50.probabilitiesLayer, RESNET50.embeddingLayer], {
          calibration: set,
          ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
          ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
          signal: stop.signal,
          onProgress: (p) => {
            if (p.stage !== 'calibrating') return;
            const s = (performance.now() - t0) / 1000;
            const rate = p.done / Math.max(s, 1e-3);
            progress.update({ done: p.done, total: p.total, imagesPerSecond: rate, etaSeconds: (p.total - p.done) / rate });
          },
        });
      } catch (e) {
        const sig = stop.received();
        if (sig) {
          process.stderr.write(`convlens: quantize: stopped by ${sig}; nothing was written\n`);
          process.exitCode = EXIT_SIGNAL[sig];
          return;
        }
        throw e;
      } finally {
        progress.stop();
        stop.dispose();
      }
      const isDefault = flags.calibrate === undefined && flags.method === 'minmax';
      const use = isDefault ? '--precision int8' : `--precision int8 --calibration ${model.calibration}`;
      const result = {
        calibration: model.calibration,
        method: flags.method,
        source: set.source,
        images: model.measured?.images ?? set.files.length,
        views: model.measured?.views ?? null,
        skipped: model.measured?.skipped ?? [],
        measuredSeconds: model.measured ? +model.measured.seconds.toFixed(1) : null,
        convolutions: model.convolutions,
        model: model.path,
        use,
      };
      if (flags.json) {
        writeJsonLine(result);
        return;
      }
      for (const s of result.skipped) process.stderr.write(`convlens: quantize: ${s.file}: skipped (${s.reason})\n`);
      const c = model.convolutions;
      const m = model.measured;
      const what = m ? `measured on ${m.views} views of ${m.images} images in ${set.source}` : `as measured earlier on ${set.source}`;
      out(
        `calibration ${model.calibration} (${flags.method}): ${what}\n` +
          (c ? `${c.integer} of ${c.integer + c.float} convolutions run as integer kernels (QLinearConv)\n` : '') +
          `int8 model: ${model.path}\nuse it with: ${use}\n`,
      );
    });
}
