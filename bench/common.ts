/** Shared benchmark plumbing: machine facts, timing, memory, and recording results. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export function machine(): Record<string, unknown> {
  return {
    cpu: cpus()[0]?.model,
    ...cpuDetails(),
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1m: loadavg()[0],
    date: new Date().toISOString(),
  };
}

/**
 * CPU family and vector width from /proc/cpuinfo: hosts sold under the same model name differ
 * (two hosts both named "AMD EPYC" ran the bare model at 28 and 44 images/s).
 */
function cpuDetails(): Record<string, unknown> {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1];
    const flags = new Set((field('flags') ?? '').split(' '));
    return {
      cpuFamily: Number(field('cpu family')),
      cpuModel: Number(field('model')),
      avx512: flags.has('avx512f'),
      mhz: Math.round(Number(field('cpu MHz'))),
    };
  } catch {
    return {};
  }
}

/** Peak resident memory of this process so far, in MiB. */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export function writeResult(name: string, result: unknown): string {
  const path = join(BENCH_DIR, 'results', `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}

/** True when this module is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(metaUrl) === process.argv[1];
}

/** A server started in a child process: resolves with its URL once it prints one; rejects if it exits first. */
export function serverUrl(child: ChildProcess): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.on('exit', (code) => reject(new Error(`the server exited (${code}): ${err.slice(-1000)}`)));
  });
}

/** A process's resident memory (VmRSS) or its peak (VmHWM) in MiB (Linux /proc), or null elsewhere. */
export function processMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}
