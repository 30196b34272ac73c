/** convlens serve: the HTTP API and the web app over a collection database. */
import type { Command } from 'commander';
import { DEFAULT_DB } from '../../collection/store.js';
import { createServer, DEFAULT_HOST, DEFAULT_PORT, type ConvlensServer } from '../../server/index.js';
import { addRuntimeOptions, parseIntOption, runtimeOptions, type RuntimeFlags } from '../common.js';

export interface ServeFlags extends RuntimeFlags {
  db: string;
  host: string;
  port: number;
  allowRoot: string[];
  maxUploadMb: number;
  uploadsDir?: string;
  storeUploads: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Options shared by serve and demo. */
export function addServeOptions(cmd: Command): Command {
  return addRuntimeOptions(
    cmd
      .option('--host <host>', 'address to listen on (anything but loopback exposes your images to the network)', DEFAULT_HOST)
      .option('--port <n>', 'port (0: any free port)', parseIntOption('--port', 0, 65535), DEFAULT_PORT)
      .option('--allow-root <dir>', 'a folder under which the web app may start index jobs (repeatable)', collect, [])
      .option('--max-upload-mb <n>', 'largest image upload in MB', parseIntOption('--max-upload-mb', 1, 1024), 20)
      .option('--uploads-dir <dir>', 'where uploads sent with "add to collection" are saved and indexed (default: <db>.uploads)')
      .option('--no-store-uploads', 'never store uploads'),
  );
}

export function serverOptions(flags: ServeFlags, db: string): Parameters<typeof createServer>[0] {
  return {
    db,
    host: flags.host,
    port: flags.port,
    allowedRoots: flags.allowRoot,
    maxUploadBytes: flags.maxUploadMb * 1024 * 1024,
    ...(flags.storeUploads ? (flags.uploadsDir ? { uploadsDir: flags.uploadsDir } : {}) : { uploadsDir: null }),
    lens: runtimeOptions(flags),
  };
}

/** Listen, print the URL, and close cleanly on Ctrl-C / SIGTERM. */
export async function runUntilStopped(
  server: ConvlensServer,
  what: string,
  hooks: { onListening?: (url: string) => void; onStop?: () => void } = {},
): Promise<string> {
  let url: string;
  try {
    url = await server.listen();
  } catch (e) {
    await server.close();
    hooks.onStop?.();
    throw e;
  }
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    process.stderr.write(`convlens: warning: listening on ${host}: anyone who can reach this machine can browse the collection\n`);
  }
  process.stdout.write(`convlens: serving ${what} at ${url}\n`);
  hooks.onListening?.(url);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.stderr.write('convlens: stopping\n');
      void server.close().finally(() => {
        hooks.onStop?.();
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return url;
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('the web app and JSON API over a collection (map, similar images, query by image, label and train, index jobs)')
    .option('--db <file>', 'collection database (created when missing)', DEFAULT_DB);
  addServeOptions(cmd).action(async (flags: ServeFlags) => {
    const server = await createServer(serverOptions(flags, flags.db));
    await runUntilStopped(server, flags.db);
  });
}
