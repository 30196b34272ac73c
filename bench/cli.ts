/**
 * The CLI as a user times it (whole processes of the built package, dist/cli/main.js): `index` of
 * a folder of real JPEGs, the re-run over the unchanged folder (which never loads the network),
 * and the read-only commands by an indexed image — wall time min / median / max of several runs,
 * and peak memory.
 *
 *   npm run build && npm run bench -- cli [--folder DIR] [--images 500] [--runs 5]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasImageExtension } from '../src/image/files.js';
import { BENCH_DIR, machine, writeResult } from './common.js';

const CLI = join(BENCH_DIR, '..', 'dist', 'cli', 'main.js');

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** One process: wall seconds and peak RSS (from GNU time). */
function timed(args: string[]): { seconds: number; rssMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`convlens ${args.join(' ')} failed: ${r.stderr.slice(-500)}`);
  const [seconds, kib] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: seconds!, rssMiB: Math.round(kib! / 1024) };
}

function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! };
}

export async function run(args: string[] = []): Promise<void> {
  if (!existsSync(CLI)) {
    console.log('cli bench: dist/cli/main.js is missing (npm run build first)');
    return;
  }
  const source = resolve(arg(args, '--folder', join(BENCH_DIR, '..', '..', 'shared', 'data', 'flowers')));
  const count = Number(arg(args, '--images', '500'));
  const runs = Number(arg(args, '--runs', '5'));
  if (!existsSync(source)) {
    console.log(`cli bench: skipped, ${source} is absent (pass --folder DIR of JPEGs)`);
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'convlens-bench-cli-'));
  const folder = join(work, 'photos');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (hasImageExtension(e.name)) files.push(join(d, e.name));
    }
  };
  walk(source);
  mkdirSync(folder);
  files.slice(0, count).forEach((f, i) => symlinkSync(f, join(folder, `${String(i).padStart(5, '0')}.jpg`)));
  const db = join(work, 'c.db');
  const query = join(folder, '00000.jpg');

  const first = timed(['index', folder, '--db', db, '--quiet']);
  console.log(`index ${Math.min(count, files.length)} images: ${first.seconds} s (${first.rssMiB} MiB)`);
  const commands: Record<string, string[]> = {
    'index (unchanged)': ['index', folder, '--db', db, '--quiet'],
    stats: ['stats', '--db', db],
    'similar (indexed image)': ['similar', query, '--db', db],
    histogram: ['histogram', query, '--db', db, '--out', join(work, 'h.svg')],
    duplicates: ['duplicates', '--db', db],
  };
  const rows: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(commands)) {
    const t = Array.from({ length: runs }, () => timed(a));
    const s = stats(t.map((x) => x.seconds));
    rows[name] = { seconds: s, rssMiB: Math.max(...t.map((x) => x.rssMiB)) };
    const ratio = name.startsWith('index') ? ` = ${((s.median / first.seconds) * 100).toFixed(1)}% of the first run` : '';
    console.log(`${name}: ${s.min}–${s.max} s (median ${s.median})${ratio}, ${Math.max(...t.map((x) => x.rssMiB))} MiB`);
  }
  rmSync(work, { recursive: true, force: true });
  const path = writeResult('cli', {
    machine: machine(),
    command: `npm run bench -- cli ${args.join(' ')}`.trim(),
    images: Math.min(count, files.length),
    runs,
    first: { seconds: first.seconds, rssMiB: first.rssMiB },
    commands: rows,
  });
  console.log(`recorded in ${path}`);
}
