/**
 * Labelled image sets for training heads: a folder of class folders (`<dir>/<class>/*.jpg`) or a
 * TSV of `path<TAB>label` lines (paths relative to the TSV's folder). Their embeddings are cached
 * in a collection store per backbone settings, so each image goes through the network once.
 */
import { readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import { matrix, type Matrix } from '../core/matrix.js';
import type { ImageVariant } from '../image/decode.js';
import { walkImages } from '../image/files.js';
import { indexFiles, variantName, type IndexFailure, type IndexProgress } from '../indexer/index.js';
import { ensureDir, resolveCacheDir } from '../model/cache.js';
import type { ConvLens } from '../pipeline/lens.js';
import { SqliteStore } from '../store/index.js';

export interface LabelledItem {
  path: string;
  label: string;
}

/** Read a labelled set from a folder of class folders or a TSV file. */
export async function readLabelledSet(source: string): Promise<LabelledItem[]> {
  let isDir: boolean;
  try {
    isDir = statSync(source).isDirectory();
  } catch {
    throw new ConvlensError('E_NOT_FOUND', 'no such folder or file', { file: source });
  }
  const items = isDir ? await readClassFolders(source) : readTsv(source);
  if (items.length === 0)
    throw new ConvlensError('E_BAD_INPUT', isDir ? 'no images in class subfolders (expected <dir>/<class>/*.jpg)' : 'no labelled lines', {
      file: source,
    });
  return items;
}

async function readClassFolders(dir: string): Promise<LabelledItem[]> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() || d.isSymbolicLink())
    .map((d) => d.name)
    .sort();
  const items: LabelledItem[] = [];
  for (const label of entries) {
    const classDir = join(dir, label);
    if (!statSync(classDir).isDirectory()) continue;
    for await (const f of walkImages(classDir)) items.push({ path: join(classDir, ...f.path.split('/')), label });
  }
  return items;
}

function readTsv(file: string): LabelledItem[] {
  const base = dirname(resolve(file));
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const items: LabelledItem[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const cols = line.split('\t');
    if (i === 0 && cols[0]?.trim().toLowerCase() === 'path') return; // header
    if (cols.length < 2 || !cols[0]!.trim() || !cols[1]!.trim()) {
      throw new ConvlensError('E_BAD_INPUT', `line ${i + 1}: expected "path<TAB>label"`, { file });
    }
    items.push({ path: resolve(base, cols[0]!.trim()), label: cols[1]!.trim() });
  });
  return items;
}

/** The embedding-cache database for a lens' settings (and augmentation view). */
export function embeddingCachePath(lens: ConvLens, cacheDir?: string, variant?: ImageVariant): string {
  const s = lens.settings;
  const v = variant ? variantName(variant) : '';
  const name = [s.model, s.layer, s.resize, v]
    .filter(Boolean)
    .join('-')
    .replace(/[^A-Za-z0-9_.+-]/g, '_');
  return join(ensureDir(join(resolveCacheDir(cacheDir), 'embeddings')), `${name}.db`);
}

export interface EmbeddedSet {
  /** rows for the items that could be embedded, in input order */
  matrix: Matrix;
  labels: string[];
  paths: string[];
  failed: IndexFailure[];
}

/**
 * Embeddings for labelled items, computed once and cached (`db`, default: the cache folder's
 * store for these settings). Items that fail are listed and left out.
 */
export async function embedLabelled(
  items: LabelledItem[],
  lens: ConvLens,
  options: { db?: string; cacheDir?: string; variant?: ImageVariant; onProgress?: (p: IndexProgress) => void } = {},
): Promise<EmbeddedSet> {
  const dbPath = options.db ?? embeddingCachePath(lens, options.cacheDir, options.variant);
  const store = SqliteStore.open(dbPath, { create: true });
  try {
    const summary = await indexFiles(
      store,
      lens,
      items.map((it) => it.path),
      {
        thumbnailSize: 0,
        command: 'train (embedding cache)',
        lockWaitMs: 60_000,
        ...(options.variant ? { variant: options.variant } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      },
    );
    if (summary.error) throw new ConvlensError(summary.error.code, summary.error.message, { file: dbPath });
    const kept = items.filter((it) => summary.ids.has(it.path));
    const dim = lens.settings.dim;
    const m = matrix(kept.length, dim);
    for (let i = 0; i < kept.length; i++) m.data.set((await store.embedding(summary.ids.get(kept[i]!.path)!))!, i * dim);
    return { matrix: m, labels: kept.map((it) => it.label), paths: kept.map((it) => it.path), failed: summary.failed };
  } finally {
    await store.close();
  }
}

/**
 * Test-time augmentation: each image's embedding is the mean of its own and its mirror's (the
 * 224×224 input flipped left-right). Images that fail in either view are left out.
 */
export async function embedLabelledTta(
  items: LabelledItem[],
  lens: ConvLens,
  options: { cacheDir?: string; onProgress?: (p: IndexProgress) => void } = {},
): Promise<EmbeddedSet> {
  const plain = await embedLabelled(items, lens, options);
  const mirror = await embedLabelled(items, lens, { ...options, variant: { flip: true } });
  return meanOfViews(plain, mirror);
}

/** Row-wise mean of two embedded views of the same items (rows matched by path). */
export function meanOfViews(a: EmbeddedSet, b: EmbeddedSet): EmbeddedSet {
  const rowOf = new Map(b.paths.map((p, i) => [p, i]));
  const keep = a.paths.map((p, i) => [i, rowOf.get(p)] as const).filter((x): x is readonly [number, number] => x[1] !== undefined);
  const d = a.matrix.cols;
  const m = matrix(keep.length, d);
  keep.forEach(([i, j], r) => {
    for (let k = 0; k < d; k++) m.data[r * d + k] = (a.matrix.data[i * d + k]! + b.matrix.data[j * d + k]!) / 2;
  });
  const failed = [...a.failed, ...b.failed.filter((f) => !a.failed.some((g) => g.path === f.path))];
  return { matrix: m, labels: keep.map(([i]) => a.labels[i]!), paths: keep.map(([i]) => a.paths[i]!), failed };
}
