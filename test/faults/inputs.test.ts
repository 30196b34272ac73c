/**
 * Faults in what users give the CLI: a command line past 16 KB, lists of files, FIFOs and other
 * non-files among the inputs, names that are not UTF-8 or hold a newline, a folder named like an
 * image, a bad query image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePath } from '../../src/core/fspath.js';
import { CLI_ENTRY, hasStackTrace, jsonLines } from '../helpers/cli.js';
import { CAT } from '../helpers/image-fixtures.js';
import { EXAMPLES, REPO } from '../helpers/paths.js';
import { openTempDir, runFault } from './helpers.js';

const dir = openTempDir('faults-inputs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file name with the byte 0xE9 alone (Latin-1 "é"): not UTF-8. */
const LATIN1 = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from(' au lait.png')]);

beforeAll(() => {
  copyFile(CAT, join(dir, 'cat.png'));
  execFileSync('mkfifo', [join(dir, 'pipe.jpg')]);
  copyFile(CAT, LATIN1);
  copyFile(CAT, join(dir, 'two\nlines.png'));
  mkdirSync(join(dir, 'folder.jpg'));
});

function copyFile(from: string, to: string | Buffer): void {
  writeFileSync(to, readFileSync(from));
}

describe('the command line', () => {
  it('classifies 400 absolute paths (a command line over 16 KB) instead of crashing', async () => {
    const args = Array.from({ length: 400 }, () => join(dir, 'cat.png'));
    expect(args.join(' ').length).toBeGreaterThan(16_000);
    const r = await runFault(['classify', '--json', '--top', '1', ...args], { timeoutMs: 120_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines).toHaveLength(400);
    expect(lines.every((l) => l.predictions[0].label === 'Egyptian_cat')).toBe(true);
  });

  it('takes --files-from FILE, "-" (standard input) and NUL-separated lists (-0)', async () => {
    const list = join(dir, 'list.txt');
    writeFileSync(list, `${join(dir, 'cat.png')}\n${CAT}\n`);
    const a = await runFault(['classify', '--json', '--top', '1', '--files-from', list]);
    expect(a.code, a.stderr).toBe(0);
    expect(jsonLines(a.stdout).map((l) => l.file)).toEqual([join(dir, 'cat.png'), CAT]);
    const nul = Buffer.concat([LATIN1, Buffer.from([0]), Buffer.from(join(dir, 'two\nlines.png')), Buffer.from([0])]);
    const b = await runFault(['classify', '--json', '--top', '1', '--files-from', '-', '-0'], { input: nul });
    expect(b.code, b.stderr).toBe(0);
    const files = jsonLines(b.stdout).map((l) => l.file);
    expect(files).toEqual([decodePath(LATIN1), join(dir, 'two\nlines.png')]);
    const missing = await runFault(['classify', '--files-from', join(dir, 'nope.txt')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.txt: cannot read the list of files.*\[E_NOT_FOUND\]/);
    const none = await runFault(['classify']);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('[E_USAGE]');
  });
});

describe('files that are not regular files', () => {
  it.each(['classify', 'embed'])('%s refuses a FIFO at once (E_NOT_FILE) and still prints the good files', async (command) => {
    const r = await runFault([command, '--json', join(dir, 'pipe.jpg'), join(dir, 'cat.png')], { timeoutMs: 60_000 });
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(2);
    const lines = jsonLines(r.stdout);
    expect(lines[0]).toMatchObject({ file: join(dir, 'pipe.jpg'), error: { code: 'E_NOT_FILE' } });
    expect(lines[1].file).toBe(join(dir, 'cat.png'));
    expect(lines[1].error).toBeUndefined();
  });

  it('a folder named like an image, given explicitly, is reported (not silently skipped)', async () => {
    const r = await runFault(['classify', join(dir, 'folder.jpg'), CAT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/folder\.jpg: a folder with no image files in it.*\[E_NOT_FOUND\]/);
    expect(r.stdout).toContain('Egyptian_cat');
    expect(hasStackTrace(r.stderr)).toBe(false);
  });
});

describe('names', () => {
  it('a file whose name is not UTF-8 is classified (named on the command line, and inside a folder)', async () => {
    // through a shell, as a user types it: the argument carries the raw byte 0xE9
    const name = `"${dir}/caf$(printf '\\351') au lait.png"`;
    const script = `exec "${process.execPath}" --import tsx "${CLI_ENTRY}" classify --json --top 1 ${name}`;
    const r = spawnSync('/bin/sh', ['-c', script], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const [named] = jsonLines(r.stdout);
    expect(named.file).toBe(decodePath(LATIN1));
    expect(named.predictions[0].label).toBe('Egyptian_cat');
    const sub = join(dir, 'latin');
    mkdirSync(sub);
    copyFile(CAT, Buffer.concat([Buffer.from(`${sub}/`), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('.png')]));
    const f = await runFault(['classify', '--json', '--top', '1', sub]);
    expect(f.code, f.stderr).toBe(0);
    const [line] = jsonLines(f.stdout);
    expect(line.predictions[0].label).toBe('Egyptian_cat');
    expect(line.file).toBe(`${sub}/\udce9t\udce9.png`);
  });

  it('embed --out writes the row order as JSON lines, whole whatever the names hold', async () => {
    const out = join(dir, 'emb.npy');
    const r = await runFault(['embed', '--out', out, join(dir, 'two\nlines.png'), join(dir, 'cat.png')]);
    expect(r.code, r.stderr).toBe(0);
    const rows = readFileSync(join(dir, 'emb.files.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string);
    expect(rows).toEqual([join(dir, 'two\nlines.png'), join(dir, 'cat.png')]);
  });
});

describe('similar', () => {
  it('takes the network options, and a bad query image is a failed input (exit 2, a JSON error)', async () => {
    const db = join(dir, 'c.db');
    expect((await runFault(['index', join(EXAMPLES, 'skimage'), '--db', db, '--quiet'], { timeoutMs: 120_000 })).code).toBe(0);
    const ok = await runFault([
      'similar',
      CAT,
      '--db',
      db,
      '--threads',
      '1',
      '--max-pixels',
      '1000000',
      '--cache-dir',
      join(dir, 'cache'),
      '-k',
      '2',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    const text = join(dir, 'notes.png');
    writeFileSync(text, 'not an image');
    const bad = await runFault(['similar', text, '--db', db, '--json']);
    expect(bad.code).toBe(2);
    expect(jsonLines(bad.stdout)).toEqual([{ query: text, error: { code: 'E_NOT_IMAGE', message: expect.any(String) } }]);
    const fifo = await runFault(['similar', join(dir, 'pipe.jpg'), '--db', db], { timeoutMs: 60_000 });
    expect(fifo.timedOut).toBe(false);
    expect(fifo.code).toBe(2);
    expect(fifo.stderr).toContain('[E_NOT_FILE]');
  });
});
