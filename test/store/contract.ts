/**
 * What every collection store promises (src/store/types.ts), as one suite run against each
 * implementation: SQLite here, PostgreSQL where a server is there.
 */
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.js';
import type { CollectionStore, ImageRecord } from '../../src/store/index.js';
import { processStart } from '../../src/store/common.js';

export const DIM = 8;

export function vector(seed: number): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: DIM }, () => Math.abs(r.normal()));
}

export function record(rootId: number, file: string, seed: number, extra: Partial<ImageRecord> = {}): ImageRecord {
  return {
    file,
    rootId,
    path: file.split('/').slice(-2).join('/'),
    size: 1000 + seed,
    mtimeMs: 1_700_000_000_000 + seed,
    hash: `hash-${seed}`,
    width: 64,
    height: 48,
    format: 'jpeg',
    top5: [{ index: seed % 1000, probability: 0.5 }],
    embedding: vector(seed),
    zeroFraction: 0,
    thumbnail: Buffer.from([0xff, 0xd8, 0xff, seed & 255]),
    ...extra,
  };
}

const SETTINGS = { model: 'm', layer: 'avg_pool', resize: 'crop' as const, dim: DIM };

export function storeContract(name: string, open: () => Promise<CollectionStore>, skip: string | null = null): void {
  describe.skipIf(skip !== null)(`store contract: ${name}`, () => {
    let store: CollectionStore;
    beforeEach(async () => {
      store = await open();
      await store.lockSettings(SETTINGS);
    });
    afterEach(async () => {
      await store.close();
    });

    it('records settings once, then refuses other ones', async () => {
      expect(await store.settings()).toEqual(SETTINGS);
      await store.lockSettings(SETTINGS);
      await expect(store.lockSettings({ ...SETTINGS, resize: 'squash' })).rejects.toMatchObject({ code: 'E_SETTINGS_MISMATCH' });
    });

    it('upserts by file: a batch written twice leaves the same rows', async () => {
      const root = await store.rootId('/photos');
      const batch = [record(root, '/photos/a/1.jpg', 1), record(root, '/photos/a/2.jpg', 2), record(root, '/photos/b/3.jpg', 3)];
      await store.writeBatch(batch);
      await store.writeBatch(batch);
      expect(await store.count()).toEqual({ images: 3, embedded: 3, failed: 0 });
      const row = await store.imageByFile('/photos/a/2.jpg');
      expect(row).toMatchObject({ file: '/photos/a/2.jpg', root: '/photos', path: 'a/2.jpg', hash: 'hash-2', width: 64 });
      expect(Array.from((await store.embedding(row!.id))!)).toEqual(Array.from(vector(2)));
      expect(await store.thumbnail(row!.id)).toEqual(Buffer.from([0xff, 0xd8, 0xff, 2]));
      const { ids, matrix } = await store.embeddings();
      expect(Array.from(ids)).toHaveLength(3);
      expect(matrix.cols).toBe(DIM);
    });

    it('reads embeddings in pages, by id and as the list of ids, in the same rows as the whole matrix', async () => {
      const root = await store.rootId('/photos');
      await store.writeBatch([1, 2, 3, 4, 5].map((i) => record(root, `/photos/${i}.jpg`, i)));
      const { embedding: _e, top5: _t, ...failed } = record(root, '/photos/failed.jpg', 6);
      await store.writeBatch([{ ...failed, error: { code: 'E_DECODE', message: 'bad' } }]);
      const all = await store.embeddings();
      const ids = Array.from(await store.embeddedIds());
      expect(ids).toEqual(Array.from(all.ids));
      const first = await store.embeddingPage(0, 2);
      const rest = await store.embeddingPage(first.ids[1]!, 10);
      expect([...first.ids, ...rest.ids]).toEqual(ids);
      expect([...first.matrix.data, ...rest.matrix.data]).toEqual([...all.matrix.data]);
      const picked = await store.embeddingsOf([ids[3]!, 999_999, ids[0]!]);
      expect(Array.from(picked.ids)).toEqual([ids[3], ids[0]]);
      expect(Array.from(picked.matrix.data.subarray(0, DIM))).toEqual(Array.from(all.matrix.data.subarray(3 * DIM, 4 * DIM)));
      expect((await store.embeddingPage(ids.at(-1)!, 10)).ids).toHaveLength(0);
    });

    it('refuses a non-finite embedding and stores nothing of that batch', async () => {
      const root = await store.rootId('/photos');
      const bad = record(root, '/photos/nan.jpg', 9, { embedding: Float32Array.from({ length: DIM }, (_, i) => (i === 3 ? NaN : 1)) });
      await expect(store.writeBatch([record(root, '/photos/ok.jpg', 8), bad])).rejects.toBeTruthy();
      expect((await store.count()).images).toBe(0);
    });

    it('scopes file states to a root and the files under a folder (nested roots share rows)', async () => {
      const outer = await store.rootId('/photos');
      await store.writeBatch([
        record(outer, '/photos/a/1.jpg', 1),
        record(outer, '/photos/b/2.jpg', 2),
        record(outer, '/photos-2/3.jpg', 3),
      ]);
      const inner = await store.rootId('/photos/a');
      expect(inner).not.toBe(outer);
      const states = await store.fileStates(inner, '/photos/a');
      expect([...states.keys()]).toEqual(['/photos/a/1.jpg']);
      expect([...(await store.fileStates(outer, '/photos')).keys()].sort()).toEqual([
        '/photos-2/3.jpg',
        '/photos/a/1.jpg',
        '/photos/b/2.jpg',
      ]);
      expect((await store.roots()).map((r) => r.path)).toEqual(['/photos', '/photos/a']);
    });

    it('finds reusable results by content hash, and touches size/mtime', async () => {
      const root = await store.rootId('/photos');
      await store.writeBatch([record(root, '/photos/1.jpg', 1)]);
      const again = await store.reusable('hash-1');
      expect(again).toMatchObject({ width: 64, format: 'jpeg' });
      expect(Array.from(again!.embedding)).toEqual(Array.from(vector(1)));
      expect(await store.reusable('nope')).toBeNull();
      const row = (await store.imageByFile('/photos/1.jpg'))!;
      await store.touch([{ id: row.id, size: 5, mtimeMs: 6 }]);
      expect(await store.image(row.id)).toMatchObject({ size: 5, mtimeMs: 6 });
    });

    it('keeps labels when rows are deleted, moves them to a renamed file, restores them when the content returns', async () => {
      const root = await store.rootId('/photos');
      await store.writeBatch([record(root, '/photos/cat.jpg', 1), record(root, '/photos/dog.jpg', 2)]);
      const cat = (await store.imageByFile('/photos/cat.jpg'))!;
      const dog = (await store.imageByFile('/photos/dog.jpg'))!;
      expect(await store.setLabels([cat.id], 'cat')).toBe(1);
      expect(await store.setLabels([dog.id], 'dog')).toBe(1);
      expect(await store.labelCounts()).toEqual([
        { label: 'cat', count: 1 },
        { label: 'dog', count: 1 },
      ]);

      // renamed: the new name is indexed (copying results), then the old row is pruned
      await store.writeBatch([record(root, '/photos/renamed cat.jpg', 1)]);
      await store.deleteImages([cat.id]);
      const renamed = (await store.imageByFile('/photos/renamed cat.jpg'))!;
      expect((await store.labels()).get(renamed.id)).toBe('cat');

      // pruned, then back under the same name with the same content
      await store.deleteImages([dog.id]);
      expect((await store.labelCounts()).map((c) => c.label)).toEqual(['cat']);
      await store.writeBatch([record(root, '/photos/dog.jpg', 2)]);
      const back = (await store.imageByFile('/photos/dog.jpg'))!;
      expect((await store.labels()).get(back.id)).toBe('dog');

      // a label outlives its row being re-embedded (new content under the same name)
      await store.writeBatch([record(root, '/photos/dog.jpg', 3)]);
      expect((await store.labels()).get(back.id)).toBe('dog');
      expect(await store.setLabels([back.id], null)).toBe(1);
      expect((await store.labels()).has(back.id)).toBe(false);
      await expect(store.setLabels([123_456], 'x')).rejects.toMatchObject({ code: 'E_USAGE' });
    });

    it('changes its embeddings version when embedded rows change, and its change token on any commit', async () => {
      const root = await store.rootId('/photos');
      const v0 = await store.embeddingsVersion();
      const t0 = await store.changeToken();
      await store.writeBatch([record(root, '/photos/1.jpg', 1)]);
      const v1 = await store.embeddingsVersion();
      expect(v1).not.toBe(v0);
      expect(await store.changeToken()).not.toBe(t0);
      const row = (await store.imageByFile('/photos/1.jpg'))!;
      const t1 = await store.changeToken();
      await store.setLabels([row.id], 'x');
      expect(await store.changeToken()).not.toBe(t1);
      expect(await store.embeddingsVersion()).toBe(v1);
      await store.deleteImages([row.id]);
      expect(await store.embeddingsVersion()).not.toBe(v1);
    });

    it('stores failures with their code, and maps by key', async () => {
      const root = await store.rootId('/photos');
      await store.writeBatch([
        record(root, '/photos/bad.jpg', 1, { embedding: undefined, top5: undefined, error: { code: 'E_TRUNCATED', message: 'cut off' } }),
      ]);
      expect(await store.count()).toEqual({ images: 1, embedded: 0, failed: 1 });
      expect((await store.images({ failedOnly: true }))[0]!.error).toEqual({ code: 'E_TRUNCATED', message: 'cut off' });
      await store.saveProjection('tsne-x', {
        method: 'tsne',
        params: { seed: 1 },
        ids: Int32Array.from([5, 6]),
        coords: Float32Array.from([1, 2, 3, 4]),
      });
      const p = await store.projection('tsne-x');
      expect(p).toMatchObject({ method: 'tsne', params: { seed: 1 } });
      expect(Array.from(p!.coords)).toEqual([1, 2, 3, 4]);
      expect((await store.projections()).map((m) => m.key)).toEqual(['tsne-x']);
    });

    it('holds one writer at a time: a live holder is named (E_DB_BUSY), a dead one loses the lock', async () => {
      const me = { pid: process.pid, started: processStart(process.pid), host: hostname(), command: 'test' };
      const release = await store.acquireWriter(me);
      await expect(store.acquireWriter({ ...me, command: 'second' })).rejects.toMatchObject({
        code: 'E_DB_BUSY',
        message: expect.stringContaining(`pid ${process.pid}`),
      });
      await release();
      const again = await store.acquireWriter(me);
      await again();
      // a lock left by a process that no longer exists (SIGKILL) is taken over
      await store.setMeta('writer', JSON.stringify({ pid: 2 ** 22 + 17, host: hostname(), command: 'index', since: 0, token: 'x' }));
      const takeover = await store.acquireWriter(me);
      await takeover();
    });

    it('keeps names that are not UTF-8 as their bytes', async () => {
      const root = await store.rootId('/photos');
      const odd = '/photos/caf\udce9.jpg'; // the byte 0xE9 alone: Latin-1 "é", not UTF-8
      const other = '/photos/caf\udce8.jpg';
      await store.writeBatch([record(root, odd, 1), record(root, other, 2)]);
      expect((await store.count()).images).toBe(2);
      expect((await store.imageByFile(odd))!.file).toBe(odd);
      expect((await store.imageByFile(other))!.hash).toBe('hash-2');
    });
  });
}
