/**
 * The package's public surface: the root entry classifies and indexes without loading the server
 * (fastify) or the web code, and the subpaths hold the building blocks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/paths.js';

function loadedBy(entry: string): Promise<string[]> {
  const script =
    `await import(${JSON.stringify(entry)}); await new Promise((r) => setTimeout(r, 300)); ` +
    'console.log(JSON.stringify(globalThis.convlensLoaded));';
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', join(REPO, 'test', 'helpers', 'trace-imports.mjs'), '--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as string[]) : reject(new Error(err))));
  });
}

describe('public surface', () => {
  it('import "convlens" loads neither fastify nor the server or the web app', async () => {
    const loaded = await loadedBy(join(REPO, 'src', 'index.ts'));
    expect(loaded.some((u) => u.includes('/src/pipeline/lens.ts'))).toBe(true);
    expect(loaded.filter((u) => /node_modules\/(fastify|@fastify)\//.test(u))).toEqual([]);
    expect(loaded.filter((u) => /\/src\/(server|web)\//.test(u) || /\/web\/src\//.test(u))).toEqual([]);
  });

  it('exports the documented subpaths, each with an index', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { exports: Record<string, { default: string } | string> };
    expect(Object.keys(pkg.exports).sort()).toEqual([
      '.',
      './atlas',
      './heads',
      './package.json',
      './plot',
      './projection',
      './search',
      './server',
    ]);
    for (const [name, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      const src = join(REPO, target.default.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
      expect(() => readFileSync(src), `${name} -> ${src}`).not.toThrow();
    }
  });

  it('keeps internals out of the root entry', async () => {
    const root = (await import('../src/index.js')) as Record<string, unknown>;
    for (const internal of ['startWorker', 'int64Tensor', 'looksTruncated', 'hnswPath', 'mapKey', 'createServer', 'Helper', 'TaskThread']) {
      expect(root[internal], internal).toBeUndefined();
    }
    for (const name of ['ConvLens', 'Collection', 'decodePredictions', 'trainModel', 'Classifier', 'ConvlensError', 'openStore']) {
      expect(root[name], name).toBeDefined();
    }
  });
});
