/** convlens serve: the HTTP API and the web app over a collection database. */
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT, isLoopback } from '../../server/address.js';
import type { ConvlensServer, ServerOptions } from '../../server/index.js';
import { DEFAULT_DB } from '../../store/index.js';
import {
  addPrecisionOptions,
  addRuntimeOptions,
  lensChoice,
  out,
  parseIntOption,
  runtimeOptions,
  type LensFlags,
  type RuntimeFlags,
} from '../common.js';

export interface ServeFlags extends RuntimeFlags, Pick<LensFlags, 'precision' | 'calibration'> {
  db: string;
  host: string;
  port: number;
  allowRoot: string[];
  maxUploadMb: number;
  uploadsDir?: string;
  storeUploads: boolean;
  maxStoredUploads: number;
  maxStoredUploadsMb: number;
  token?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Options shared by serve and demo. */
export function addServeOptions(cmd: Command): Command {
  return addRuntimeOptions(
    addPrecisionOptions(cmd)
      .option(
        '--host <host>',
        'address to listen on (anything but loopback needs the token and exposes the app to the network)',
        DEFAULT_HOST,
      )
      .option('--port <n>', 'port (0: any free port)', parseIntOption('--port', 0, 65535), DEFAULT_PORT)
      .option('--allow-root <dir>', 'a folder under which the web app may start index jobs (repeatable)', collect, [])
      .option('--max-upload-mb <n>', 'largest image upload in MB', parseIntOption('--max-upload-mb', 1, 1024), 20)
      .option('--uploads-dir <dir>', 'where uploads sent with "add to collection" are saved and indexed (default: <db>.uploads)')
      .option('--no-store-uploads', 'never store uploads')
      .option('--max-stored-uploads <n>', 'stored uploads at most', parseIntOption('--max-stored-uploads', 0), 1000)
      .option('--max-stored-uploads-mb <n>', 'bytes of stored uploads at most, in MB', parseIntOption('--max-stored-uploads-mb', 0), 1024)
      .option('--token <token>', 'the token API requests must carry (default: $CONVLENS_TOKEN, or a random one when not on loopback)'),
  );
}

export function serverOptions(flags: ServeFlags, db: string): ServerOptions {
  const token = flags.token ?? (isLoopback(flags.host) ? undefined : process.env['CONVLENS_TOKEN']);
  return {
    db,
    host: flags.host,
    port: flags.port,
    allowedRoots: flags.allowRoot,
    maxUploadBytes: flags.maxUploadMb * 1024 * 1024,
    ...(flags.storeUploads ? (flags.uploadsDir ? { uploadsDir: flags.uploadsDir } : {}) : { uploadsDir: null }),
    maxStoredUploads: flags.maxStoredUploads,
    maxStoredUploadBytes: flags.maxStoredUploadsMb * 1024 * 1024,
    ...(token ? { token } : {}),
    lens: { ...runtimeOptions(flags), ...lensChoice(flags) },
  };
}

/** Listen, or close and say why not (a busy port is found before any other work). */
export async function listenOrClose(server: ConvlensServer, onStop?: () => void): Promise<string> {
  try {
    return await server.listen();
  } catch (e) {
    await server.close();
    onStop?.();
    throw e;
  }
}

/** Print the URL (with the token when one is needed) and serve until Ctrl-C / SIGTERM / SIGHUP. */
export async function serveUntilStopped(
  server: ConvlensServer,
  url: string,
  what: string,
  hooks: { onListening?: (url: string) => void; onStop?: () => void } = {},
): Promise<void> {
  const host = new URL(url).hostname;
  const open = server.token ? `${url}?token=${encodeURIComponent(server.token)}` : url;
  if (!isLoopback(host)) {
    process.stderr.write(`convlens: listening on ${host}: anyone who can reach this machine and has the token can use the app\n`);
  }
  out(`convlens: serving ${what} at ${open}\n`);
  hooks.onListening?.(open);
  await new Promise<void>((resolve) => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const stop = (): void => {
      for (const s of signals) process.off(s, stop);
      process.stderr.write('convlens: stopping\n');
      void server.close().finally(() => {
        hooks.onStop?.();
        resolve();
      });
    };
    for (const s of signals) process.on(s, stop);
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('the web app and JSON API over a collection (map, similar images, query by image, label and train, index jobs)')
    .option('--db <file>', 'collection database (created when missing)', DEFAULT_DB);
  addServeOptions(cmd).action(async (flags: ServeFlags) => {
    const { createServer } = await import('../../server/index.js');
    const server = await createServer(serverOptions(flags, flags.db));
    await serveUntilStopped(server, await listenOrClose(server), flags.db);
  });
}
