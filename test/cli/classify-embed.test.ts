import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/core/npy.js';
import { hasStackTrace, jsonLines, runCli } from '../helpers/cli.js';
import { CAT, makeImageFixtures, type Fixtures } from '../helpers/image-fixtures.js';

let fx: Fixtures;
beforeAll(async () => {
  fx = await makeImageFixtures();
});

describe('convlens classify', () => {
  it('prints readable top classes, a cat first for chelsea.png', async () => {
    const r = await runCli(['classify', CAT, '--top', '3']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(CAT);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^\s+(Egyptian_cat|tabby|tiger_cat)\s+\d+(\.\d+)?%\s+n\d{8}$/);
  });

  it('--json: one object per input, errors with codes, exit 2, good files still classified', async () => {
    const bad = Object.values(fx.bad);
    const inputs = [fx.cats.jpeg, ...bad.map((b) => b.path), fx.odd.wide];
    const r = await runCli(['classify', ...inputs, '--json', '--top', '2']);
    expect(r.code).toBe(2);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.file)).toEqual(inputs);
    expect(lines[0].predictions).toHaveLength(2);
    expect(Object.keys(lines[0].predictions[0]).sort()).toEqual(['index', 'label', 'probability', 'wnid']);
    bad.forEach((b, i) => {
      expect(lines[i + 1].error.code, b.path).toBe(b.code);
      expect(typeof lines[i + 1].error.message).toBe('string');
    });
    expect(lines.at(-1).predictions).toHaveLength(2);
  });

  it('without --json: one error line on stderr per bad file, naming it', async () => {
    const r = await runCli(['classify', fx.bad.text.path, fx.bad.bomb.path, fx.cats.webp]);
    expect(r.code).toBe(2);
    const errLines = r.stderr.trim().split('\n');
    expect(errLines).toHaveLength(2);
    expect(errLines[0]).toBe(`convlens: ${fx.bad.text.path}: not an image (unrecognised format) [E_NOT_IMAGE]`);
    expect(errLines[1]).toContain(`${fx.bad.bomb.path}: `);
    expect(errLines[1]).toContain('[E_TOO_LARGE]');
    expect(r.stdout).toContain(fx.cats.webp);
  });

  it('expands a folder to its images, sorted, including names with spaces and accents', async () => {
    const r = await runCli(['classify', fx.dir, '--json', '--top', '1']);
    const files = jsonLines(r.stdout).map((l) => l.file);
    expect(files).toEqual([...files].sort());
    expect(files).toContain(join(fx.dir, 'chat tigré à Zürich.jpg'));
    expect(files).toContain(fx.cats.cmyk);
  });

  it('usage errors exit 1 with a one-line message', async () => {
    for (const args of [['classify', CAT, '--top', 'zero'], ['classify', CAT, '--resize', 'stretch'], ['classify'], ['frobnicate']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(hasStackTrace(r.stderr)).toBe(false);
      expect(r.stderr).toMatch(/error|convlens:/i);
    }
  });
});

describe('convlens embed', () => {
  it('--json gives the avg_pool embedding with its zero fraction', async () => {
    const r = await runCli(['embed', CAT, fx.bad.empty.path, '--json']);
    expect(r.code).toBe(2);
    const [ok, bad] = jsonLines(r.stdout);
    expect(ok).toMatchObject({ file: CAT, layer: 'avg_pool', dim: 2048 });
    expect(ok.embedding).toHaveLength(2048);
    const zeros = ok.embedding.filter((v: number) => v === 0).length / 2048;
    expect(ok.zeroFraction).toBeCloseTo(zeros, 6);
    expect(bad).toEqual({ file: fx.bad.empty.path, error: { code: 'E_EMPTY', message: 'empty file (0 bytes)' } });
  });

  it('--out writes float32 N×D .npy and the file list; --layer picks another layer', async () => {
    const out = join(fx.dir, 'emb.npy');
    const r = await runCli(['embed', fx.cats.jpeg, fx.cats.webp, fx.bad.random.path, '--out', out, '--layer', 'fc1000']);
    expect(r.code).toBe(2);
    const m = readNpy(out);
    expect([m.rows, m.cols]).toEqual([2, 1000]);
    expect(readFileSync(join(fx.dir, 'emb.files.jsonl'), 'utf8')).toBe(
      `${JSON.stringify(fx.cats.jpeg)}\n${JSON.stringify(fx.cats.webp)}\n`,
    );
    const sum = m.data.subarray(0, 1000).reduce((a, b) => a + b, 0);
    expect(sum).toBeCloseTo(1, 4); // fc1000 is the softmax output
    const unknown = await runCli(['embed', CAT, '--layer', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no layer named "nope"');
  });
});
