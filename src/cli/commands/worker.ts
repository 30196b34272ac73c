import type { Command } from 'commander';
import { ConvlensError } from '../../core/errors.js';
import {
  addPrecisionOptions,
  addRuntimeOptions,
  EXIT_SIGNAL,
  out,
  parseIntOption,
  runtimeOptions,
  stopOnSignals,
  writeJsonLine,
  type LensFlags,
} from '../common.js';

interface Flags extends LensFlags {
  queue: string;
  db: string;
  pathMap: string[];
  concurrency: number;
  lockSeconds: number;
  json?: boolean;
  quiet?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function register(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take batches of a distributed index (convlens index --queue) and embed them into the shared collection')
    .requiredOption('--queue <redis-url>', 'the Redis the coordinator queues on, e.g. redis://10.0.0.5:6379')
    .requiredOption('--db <url>', 'the PostgreSQL collection, e.g. postgres://convlens@10.0.0.5/photos')
    .option('--path-map <from=to>', 'this machine sees the files under another folder: read FROM/x at TO/x (repeatable)', collect, [])
    .option('--concurrency <n>', 'batches at once (the network already uses every core)', parseIntOption('--concurrency', 1, 64), 1)
    .option(
      '--lock-seconds <s>',
      'a batch not renewed for this long is handed to another worker',
      parseIntOption('--lock-seconds', 1, 3600),
      30,
    )
    .option('--json', 'one JSON line per batch')
    .option('--quiet', 'no line per batch');
  addRuntimeOptions(addPrecisionOptions(cmd)).action(async (flags: Flags) => {
    if (flags.calibration) throw new ConvlensError('E_USAGE', 'a worker takes the calibration of the collection (leave --calibration out)');
    const { runWorker, parsePathMap } = await import('../../distributed/index.js');
    const stop = stopOnSignals();
    if (!flags.quiet && !flags.json)
      process.stderr.write(`convlens: worker ${process.pid}: waiting for batches (Ctrl-C stops after the current one)\n`);
    try {
      await runWorker({
        queue: flags.queue,
        db: flags.db,
        runtime: runtimeOptions(flags),
        ...(flags.precision ? { precision: flags.precision } : {}),
        pathMap: parsePathMap(flags.pathMap),
        concurrency: flags.concurrency,
        lockSeconds: flags.lockSeconds,
        signal: stop.signal,
        onBatch: (b) => {
          if (flags.json) writeJsonLine(b);
          else if (!flags.quiet) {
            out(
              `batch of ${b.files}: ${b.indexed} indexed, ${b.unchanged} unchanged, ${b.failed.length} failed ` +
                `in ${b.seconds.toFixed(1)}s\n`,
            );
          }
        },
      });
    } finally {
      stop.dispose();
    }
    const sig = stop.received();
    if (sig) process.exitCode = EXIT_SIGNAL[sig];
  });
}
