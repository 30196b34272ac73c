/**
 * Tools for injecting faults: a small full disk (tmpfs, as root), an unprivileged user (for
 * permissions root ignores), FIFOs, and the CLI run with a deadline (a hang is a failure, not a
 * stuck suite).
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ENTRY, type CliResult } from '../helpers/cli.js';
import { REPO } from '../helpers/paths.js';

export const IS_ROOT = process.getuid?.() === 0;

/** A temp folder everyone may enter (an unprivileged child must reach what is inside). */
export function openTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `convlens-${prefix}-`));
  chmodSync(dir, 0o777);
  return dir;
}

/** Can this process run a command as the unprivileged user "nobody"? (root, with setpriv) */
export function canDropPrivileges(): boolean {
  if (!IS_ROOT) return false;
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** A tmpfs of `kib` KiB mounted at a new folder (root only); returns it and its unmount. */
export function smallDisk(kib: number): { dir: string; unmount: () => void } | null {
  if (!IS_ROOT) return null;
  const dir = mkdtempSync(join(tmpdir(), 'convlens-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]);
  } catch {
    return null;
  }
  return { dir, unmount: () => execFileSync('umount', ['-l', dir]) };
}

/** Fill a folder's file system to the last byte, or all but `leaveKiB`. */
export function fill(dir: string, leaveKiB = 0): void {
  const filler = join(dir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4096'], { stdio: 'ignore' });
  } catch {
    // dd stops with "No space left on device": that is the point
  }
  if (leaveKiB > 0) truncateSync(filler, Math.max(0, statSync(filler).size - leaveKiB * 1024));
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** run as the user nobody */
  nobody?: boolean;
  /** kill it after this long (a hang) */
  timeoutMs?: number;
  /** where stdout goes: captured (default) or a path (e.g. /dev/full) */
  stdoutTo?: string;
  /** signal to send once stderr/stdout shows this text */
  signalWhen?: { text: RegExp; signal: NodeJS.Signals };
  /** signal to send after this long */
  signalAfter?: { ms: number; signal: NodeJS.Signals };
}

export interface FaultResult extends CliResult {
  signal: NodeJS.Signals | null;
  timedOut: boolean;
}

/** Run the CLI (from source) with faults around it; never hangs the suite. */
export function runFault(args: string[], options: RunOptions = {}): Promise<FaultResult> {
  const node = [process.execPath, '--import', 'tsx', CLI_ENTRY, ...args];
  const cmd = options.nobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  return new Promise((resolve, reject) => {
    let out: number | 'pipe' = 'pipe';
    if (options.stdoutTo) out = openSync(options.stdoutTo, 'w');
    const child = spawn(cmd[0]!, cmd.slice(1), {
      cwd: options.cwd ?? REPO,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', out, 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let signalled = false;
    const watch = (text: string): void => {
      if (!signalled && options.signalWhen && options.signalWhen.text.test(text)) {
        signalled = true;
        child.kill(options.signalWhen.signal);
      }
    };
    child.stdout?.on('data', (d) => {
      stdout += d;
      watch(stdout);
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
      watch(stderr);
    });
    const later = options.signalAfter ? setTimeout(() => child.kill(options.signalAfter!.signal), options.signalAfter.ms) : undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(later);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin!.end(options.input ?? '');
  });
}

export function makeDirs(...dirs: string[]): void {
  for (const d of dirs) mkdirSync(d, { recursive: true });
}
