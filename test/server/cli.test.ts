/** `convlens serve` and `convlens demo` as a user runs them (from source, through tsx). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Info, MapResult } from '../../src/server/schemas.js';
import { CLI_ENTRY, runCli } from '../helpers/cli.js';
import { REPO } from '../helpers/paths.js';
import { removeTempDirs, tempDir } from './helpers.js';

const children: ChildProcess[] = [];

/** Start a long-running command; resolves with the URL it prints. */
function start(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
    cwd: REPO,
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving .* at (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`exited ${code} before serving: ${err}`)));
  });
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

afterAll(() => removeTempDirs());

describe('convlens serve', () => {
  it('documents its options', async () => {
    const r = await runCli(['serve', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--db', '--host', '--port', '--allow-root', '--max-upload-mb', '--uploads-dir', '--no-store-uploads'])
      expect(r.stdout).toContain(flag);
  });

  it('refuses bad flags with a usage error', async () => {
    for (const args of [
      ['--port', '70000'],
      ['--max-upload-mb', '0'],
      ['--port', 'x'],
    ]) {
      const r = await runCli(['serve', ...args]);
      expect(r.code, args.join(' ')).toBe(1);
    }
  });

  it('serves a collection on 127.0.0.1 and stops cleanly on SIGTERM', async () => {
    const dir = tempDir('serve-cli');
    const s = await start(['serve', '--db', join(dir, 'new.db'), '--port', '0', '--allow-root', dir, '--max-upload-mb', '3']);
    expect(new URL(s.url).hostname).toBe('127.0.0.1');
    const info = (await (await fetch(`${s.url}api/info`)).json()) as Info;
    expect(info.images.images).toBe(0);
    expect(info.allowedRoots).toEqual([{ index: 0, name: basename(dir) }]);
    expect(info.uploads).toEqual({ maxBytes: 3 * 1024 * 1024, store: true, maxStored: 1000, maxStoredBytes: 1024 * 1024 * 1024 });
    expect(info.auth).toBe(false);
    const busy = await runCli(['serve', '--db', join(dir, 'new.db'), '--port', new URL(s.url).port]);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/in use.*\[E_USAGE\]/);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).toContain('stopping');
  });
});

describe('convlens demo', () => {
  it('indexes the example photos into a temporary database, maps them, serves them, and cleans up', async () => {
    const s = await start(['demo', '--no-open', '--port', '0']);
    const info = (await (await fetch(`${s.url}api/info`)).json()) as Info;
    expect(info.images).toEqual({ images: 44, embedded: 44, failed: 0 });
    expect(info.settings?.resize).toBe('crop');
    expect(info.currentMap).not.toBeNull();
    const map = (await (await fetch(`${s.url}api/map`)).json()) as MapResult;
    expect(map.method).toBe('tsne');
    expect(map.count).toBe(44);
    expect((await fetch(`${s.url}api/map/atlas`)).status).toBe(200);
    expect((await fetch(s.url)).status).toBe(200);
    const tmp = /temporary database in (\S+)/.exec(s.stderr())![1]!;
    expect(existsSync(join(tmp, info.db))).toBe(true);
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(existsSync(tmp)).toBe(false);
  });
});
