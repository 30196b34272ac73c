/**
 * convlens demo: the web app on the example photos that ship with convlens, with no data of the
 * user's: listen first (a busy port is said at once), then index them into a temporary database
 * (crop, the default) and compute the t-SNE map and its thumbnails, then open a browser unless
 * told not to.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConvlensError } from '../../core/errors.js';
import { PACKAGE_ROOT } from '../../core/package.js';
import { realRoots } from '../../server/paths.js';
import { addServeOptions, listenOrClose, serveUntilStopped, serverOptions, type ServeFlags } from './serve.js';

export const EXAMPLE_PHOTOS = resolve(PACKAGE_ROOT, 'examples', 'photos');

function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === 'darwin'
      ? ['open', [url]]
      : process.platform === 'win32'
        ? ['cmd', ['/c', 'start', '', url]]
        : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args as string[], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // no browser to open: the URL is printed
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('demo')
    .description('try the web app on the example photos shipped with convlens (temporary database)')
    .option('--no-open', 'do not open a browser')
    .option('--keep', 'keep the temporary database when stopping');
  addServeOptions(cmd).action(async (flags: ServeFlags & { open: boolean; keep?: boolean }) => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-demo-'));
    const cleanup = (): void => {
      if (!flags.keep) rmSync(dir, { recursive: true, force: true });
      else process.stderr.write(`convlens: the demo database stays in ${dir}\n`);
    };
    const { createServer } = await import('../../server/index.js');
    const server = await createServer(serverOptions(flags, join(dir, 'demo.db')));
    const url = await listenOrClose(server, cleanup);
    try {
      const log = (s: string): boolean => process.stderr.write(`convlens demo: ${s}\n`);
      log(`temporary database in ${dir}`);
      log(`indexing the example photos (${EXAMPLE_PHOTOS})`);
      const job = server.context.submitIndex(EXAMPLE_PHOTOS, false, await realRoots([EXAMPLE_PHOTOS]));
      const indexed = await server.context.jobs.wait(job.id);
      if (indexed.state !== 'done')
        throw new ConvlensError('E_INTERNAL', `indexing the examples failed: ${indexed.error?.message ?? indexed.state}`);
      const summary = indexed.result as { indexed: number; seconds: number };
      log(`${summary.indexed} photos indexed in ${summary.seconds.toFixed(1)} s; computing the map`);
      const res = await server.app.inject({
        method: 'POST',
        url: '/api/map',
        payload: { method: 'tsne' },
        ...(server.token ? { headers: { authorization: `Bearer ${server.token}` } } : {}),
      });
      const mapped = await server.context.jobs.wait((res.json() as { id: string }).id);
      if (mapped.state !== 'done') throw new ConvlensError('E_INTERNAL', `the map failed: ${mapped.error?.message ?? mapped.state}`);
    } catch (e) {
      await server.close();
      cleanup();
      throw e;
    }
    // never from tests or CI: only a person at a terminal gets a browser
    const open = flags.open && !process.env['CI'] && process.stdout.isTTY === true;
    await serveUntilStopped(server, url, 'the example photos', { onListening: open ? openBrowser : undefined, onStop: cleanup });
  });
}
