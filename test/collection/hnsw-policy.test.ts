/**
 * One HNSW rule for `convlens index` and the server's index jobs (Collection.refreshHnsw): a
 * collection that had an index gets it rebuilt after new images, from either.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Collection, indexOnThread } from '../../src/collection/index.js';
import { EXAMPLES } from '../helpers/paths.js';

describe('the HNSW rule after indexing', () => {
  it('auto: small collections get none until they had one; a server index job then keeps it fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-hnsw-policy-'));
    const folder = join(dir, 'photos');
    mkdirSync(folder);
    for (const f of ['astronaut.png', 'coffee.png', 'chelsea.png']) copyFileSync(join(EXAMPLES, 'skimage', f), join(folder, f));
    const db = join(dir, 'c.db');
    const c = await Collection.open(db, { create: true, runtime: { threads: 2 } });
    await c.index([folder]);
    expect(await c.refreshHnsw('auto')).toBeNull(); // 3 images, never had one
    expect(await c.refreshHnsw('never')).toBeNull();
    expect(await c.refreshHnsw('always')).toMatch(/\.cosine\.hnsw$/);
    expect(await c.needsHnsw()).toBe(false);
    await c.close();

    copyFileSync(join(EXAMPLES, 'skimage', 'rocket.jpg'), join(folder, 'rocket.jpg'));
    const summary = await indexOnThread({
      location: db,
      folders: [folder],
      prune: false,
      thumbnailSize: 64,
      runtime: { threads: 2 },
      lens: {},
      confine: [folder],
    });
    expect(summary.indexed).toBe(1);
    const after = await Collection.open(db, { readonly: true });
    expect(await after.needsHnsw()).toBe(false); // rebuilt by the job, not left stale
    expect((await after.similar({ file: join(folder, 'rocket.jpg') }, { k: 3 })).results).toHaveLength(3);
    await after.close();
  });
});
