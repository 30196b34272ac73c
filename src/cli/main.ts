#!/usr/bin/env node
/**
 * The convlens command line: a thin shell over the library. Each command lives in
 * commands/<name>.ts and only parses flags, calls the library and prints.
 */
import { Command, CommanderError } from 'commander';
import { ConvlensError } from '../core/errors.js';
import { VERSION } from '../core/package.js';
import { recoverRawArgs } from './argv.js';
import { EXIT_USAGE, reportError, writeJsonLine } from './common.js';
import { installOutputHandlers } from './output.js';
import * as classify from './commands/classify.js';
import * as demo from './commands/demo.js';
import * as embed from './commands/embed.js';
import * as evaluate from './commands/evaluate.js';
import * as exportModel from './commands/export.js';
import * as indexFolders from './commands/index-folders.js';
import * as label from './commands/label.js';
import * as map from './commands/map.js';
import * as predict from './commands/predict.js';
import * as quantize from './commands/quantize.js';
import * as search from './commands/search.js';
import * as serve from './commands/serve.js';
import * as stats from './commands/stats.js';
import * as train from './commands/train.js';
import * as worker from './commands/worker.js';

export function buildProgram(): Command {
  const program = new Command('convlens')
    .description('ImageNet-pretrained ResNet50 for your own images: classify, embed, index, search, map, teach new classes')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const command of [
    classify,
    embed,
    indexFolders,
    stats,
    search,
    map,
    train,
    predict,
    evaluate,
    exportModel,
    quantize,
    label,
    serve,
    demo,
    worker,
  ]) {
    command.register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; commander already printed its usage message
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = EXIT_USAGE;
    if (e instanceof ConvlensError && e.code !== 'E_INTERNAL') {
      reportError(e);
      if (json) writeJsonLine({ error: { code: e.code, message: e.message, ...(e.file ? { file: e.file } : {}) } });
      return;
    }
    const err = e as Error;
    process.stderr.write(`convlens: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.CONVLENS_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
    else process.stderr.write('(this is a bug; set CONVLENS_DEBUG=1 for details)\n');
    if (json) writeJsonLine({ error: { code: 'E_INTERNAL', message: err?.message ?? String(e) } });
  }
}

installOutputHandlers();
await main(recoverRawArgs(process.argv));
