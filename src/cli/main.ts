#!/usr/bin/env node
/**
 * The convlens command line: a thin shell over the library. Each command lives in
 * commands/<name>.ts and only parses flags, calls the library and prints.
 */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { ConvlensError } from '../core/errors.js';
import { EXIT_USAGE, reportError } from './common.js';
import * as classify from './commands/classify.js';
import * as embed from './commands/embed.js';
import * as indexFolders from './commands/index-folders.js';
import * as stats from './commands/stats.js';
import * as train from './commands/train.js';
import * as predict from './commands/predict.js';
import * as evaluate from './commands/evaluate.js';
import * as exportModel from './commands/export.js';
import * as label from './commands/label.js';
import * as search from './commands/search.js';
import * as serve from './commands/serve.js';
import * as demo from './commands/demo.js';
import * as map from './commands/map.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('convlens')
    .description('ImageNet-pretrained ResNet50 for your own images: classify, embed, index, search, map, teach new classes')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const command of [classify, embed, indexFolders, stats, search, map, train, predict, evaluate, exportModel, label, serve, demo])
    command.register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander already printed its usage message
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
    } else if (e instanceof ConvlensError) {
      reportError(e);
      process.exitCode = EXIT_USAGE;
    } else {
      const err = e as Error;
      process.stderr.write(`convlens: internal error: ${err?.message ?? String(e)}\n`);
      if (process.env.CONVLENS_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
      else process.stderr.write('(this is a bug; set CONVLENS_DEBUG=1 for details)\n');
      process.exitCode = EXIT_USAGE;
    }
  }
}

// `convlens ... | head`: a closed pipe ends the output quietly, not with a stack trace
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

await main(process.argv);
