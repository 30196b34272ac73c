/**
 * Real processes for the scale-out tests: convlens workers and coordinators from source, and
 * private Redis and PostgreSQL servers that a test may kill and restart without touching the
 * machine's own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ENTRY } from './cli.js';
import { REPO } from './paths.js';

/** A process whose output lines can be waited for. */
export class Proc {
  readonly child: ChildProcess;
  out = '';
  err = '';
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.out += d));
    this.child.stderr!.on('data', (d) => (this.err += d));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolve when stdout or stderr matches, fail after timeoutMs. */
  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<void> {
    const t0 = Date.now();
    while (!re.test(this.out) && !re.test(this.err)) {
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`timed out waiting for ${re} (stdout: ${this.out.slice(-500)} stderr: ${this.err.slice(-500)})`);
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before ${re}: ${this.err.slice(-500)}`);
      await sleep(100);
    }
  }

  count(re: RegExp): number {
    return (this.out.match(new RegExp(re.source, 'g')) ?? []).length;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null) this.child.kill(sig);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGCONT');
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(t);
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** convlens from source, as a user runs it. */
export function convlens(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  return new Proc(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], env);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** A Redis of the test's own (nothing kept on disk, as the machine's). */
export class PrivateRedis {
  private proc: Proc | null = null;
  constructor(readonly port: number) {}

  static available(): boolean {
    return spawnSync('redis-server', ['--version']).status === 0;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = new Proc('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
    await this.proc.waitFor(/Ready to accept connections/, 15_000);
  }

  /** Gone at once, with everything it held. */
  async kill(): Promise<void> {
    this.proc?.signal('SIGKILL');
    await this.proc?.exited;
    this.proc = null;
  }
}

/**
 * A PostgreSQL cluster of the test's own, run as the postgres user (it refuses root), with trust
 * authentication on 127.0.0.1.
 */
export class PrivatePostgres {
  private readonly dir: string;
  constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'convlens-pg-'));
  }

  private static bin(): string | null {
    const base = '/usr/lib/postgresql';
    if (!existsSync(base)) return null;
    const v = readdirSync(base).sort().at(-1);
    return v ? join(base, v, 'bin') : null;
  }

  /** null when a private cluster can be run here, else why not. */
  static missing(): string | null {
    if (!PrivatePostgres.bin()) return 'no PostgreSQL server binaries under /usr/lib/postgresql';
    if (process.getuid?.() !== 0) return 'running a private PostgreSQL as the postgres user needs root';
    if (spawnSync('id', ['postgres']).status !== 0) return 'no postgres user';
    return null;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(tool: string, args: string[]): void {
    const r = spawnSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', join(PrivatePostgres.bin()!, tool), ...args], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${tool} failed: ${r.stderr || r.stdout}`);
  }

  async init(): Promise<void> {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout);
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout);
    chownSync(this.dir, uid, gid);
    this.run('initdb', ['-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await this.start();
  }

  async start(): Promise<void> {
    this.run('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
    ]);
  }

  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', mode, '-w', 'stop']);
  }
}
