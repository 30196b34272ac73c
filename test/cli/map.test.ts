import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Collection } from '../../src/collection/index.js';
import { matrix } from '../../src/core/index.js';
import { knnAccuracy } from '../../src/projection/index.js';
import { runCli } from '../helpers/cli.js';
import { FLOWERS } from '../helpers/flowers.js';
import { EXAMPLES, skipNote } from '../helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'convlens-map-'));

async function indexInto(db: string, folder: string, resize: 'squash' | 'crop'): Promise<void> {
  const c = await Collection.open(db, { create: true, lens: { resize } });
  await c.index([folder]);
  await c.close();
}

describe('convlens map on the example photos', () => {
  const db = join(tmp, 'photos.db');
  beforeAll(() => indexInto(db, EXAMPLES, 'squash'));

  it('computes a t-SNE map once, caches it, and writes scatter PNG, SVG and JSON', async () => {
    const r1 = await runCli(['map', '--db', db, '--out', join(tmp, 'dots.png'), '--json', join(tmp, 'map.json'), '--quiet']);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toMatch(/t-SNE map of 44 images, KL [\d.]+ \([\d.]+s\)/);
    const r2 = await runCli(['map', '--db', db, '--out', join(tmp, 'dots.svg'), '--quiet']);
    expect(r2.stdout).toContain('(cached)');
    const json = JSON.parse(readFileSync(join(tmp, 'map.json'), 'utf8'));
    expect(json.points).toHaveLength(44);
    expect(json.params.method).toBe('tsne');
    expect(Number.isFinite(json.points[0].x)).toBe(true);
    expect((await sharp(join(tmp, 'dots.png')).metadata()).width).toBe(1600);
    expect(readFileSync(join(tmp, 'dots.svg'), 'utf8')).toContain('<svg');
    // other parameters are another map
    const r3 = await runCli(['map', '--db', db, '--perplexity', '5', '--json', join(tmp, 'map5.json'), '--quiet']);
    expect(r3.stdout).not.toContain('(cached)');
    expect(JSON.parse(readFileSync(join(tmp, 'map5.json'), 'utf8')).params.perplexity).toBe(5);
  });

  it('writes a self-contained HTML map (no external resources)', async () => {
    const html = join(tmp, 'map.html');
    const r = await runCli(['map', '--db', db, '--html', html, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(html, 'utf8');
    expect(text).toContain('t-SNE map of 44 images');
    expect(text).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']https?:/i);
    expect(text).toMatch(/data:image\/(webp|png|jpeg);base64,/);
  });

  it('UMAP and PCA maps; bad flags are usage errors', async () => {
    for (const method of ['umap', 'pca']) {
      const r = await runCli(['map', '--db', db, '--method', method, '--json', join(tmp, `${method}.json`), '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(tmp, `${method}.json`), 'utf8')).points).toHaveLength(44);
    }
    const bad = await runCli(['map', '--db', db, '--thumbs', '--out', join(tmp, 'x.svg')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must end in .png');
    const missing = await runCli(['map', '--db', join(tmp, 'none.db')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('[E_DB]');
  });
});

describe.skipIf(!FLOWERS)(FLOWERS ? 'convlens map on the shared flowers' : skipNote('the flower map test'), () => {
  const db = join(tmp, 'flowers.db');
  beforeAll(() => indexInto(db, FLOWERS!, 'crop'), 600_000);

  it('a 4000 px thumbnail map coloured by the flower labels, whose 2-D 5-NN accuracy is high', async () => {
    const labels = join(tmp, 'labels.tsv');
    const lines = readFileSync(join(FLOWERS!, 'labels.tsv'), 'utf8').trim().split('\n').slice(1);
    writeFileSync(labels, lines.map((l) => `${FLOWERS}/${l}`).join('\n'));
    const png = join(tmp, 'flowers-map.png');
    const json = join(tmp, 'flowers-map.json');
    const r = await runCli(['map', '--db', db, '--thumbs', '--out', png, '--labels', labels, '--json', json, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(4000);
    const { points } = JSON.parse(readFileSync(json, 'utf8')) as { points: { x: number; y: number; label: string }[] };
    expect(points.every((p) => ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip'].includes(p.label))).toBe(true);
    const coords = matrix(points.length, 2, Float32Array.from(points.flatMap((p) => [p.x, p.y])));
    const acc = knnAccuracy(
      coords,
      points.map((p) => p.label),
      5,
    );
    console.log(`flowers t-SNE map (crop): 5-NN accuracy in 2-D ${acc.toFixed(3)} (${r.stdout.trim()})`);
    expect(acc).toBeGreaterThanOrEqual(0.75);
  });
});
