import { afterAll, describe, expect, it } from 'vitest';
import { openStore, type CollectionStore } from '../../src/store/index.js';
import { parsePostgresUrl } from '../../src/store/postgres.js';
import { dropPostgresCollections, postgresCollection, postgresMissing, POSTGRES_BASE } from '../helpers/services.js';
import { record, storeContract } from './contract.js';

const missing = await postgresMissing();
afterAll(() => dropPostgresCollections());

storeContract('PostgreSQL', async () => openStore(postgresCollection('contract'), { create: true }), missing);

describe.skipIf(missing !== null)('PostgreSQL store: what many writers need', () => {
  it('URLs: the schema parameter names the collection, the password never shows', () => {
    const p = parsePostgresUrl('postgres://me:secret@db.example:5433/photos?schema=holidays');
    expect(p.schema).toBe('holidays');
    expect(p.connectionString).toBe('postgres://me:secret@db.example:5433/photos');
    expect(p.shown).toBe('postgres://me:***@db.example:5433/photos?schema=holidays');
    expect(parsePostgresUrl('postgres://me@h/db').schema).toBe('convlens');
    expect(() => parsePostgresUrl('postgres://h/db?schema=Robert%27;DROP')).toThrow(/schema must be/);
  });

  it('a missing collection, an unreachable server and a missing database are one coded line each', async () => {
    await expect(openStore(postgresCollection('absent'))).rejects.toMatchObject({ code: 'E_DB', message: /no collection in this/ });
    await expect(openStore('postgres://postgres@127.0.0.1:1/test')).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
    await expect(openStore(`${POSTGRES_BASE}_does_not_exist`, { create: true })).rejects.toMatchObject({ code: 'E_DB' });
  });

  it('many processes opening a new collection at once create it once', async () => {
    const url = postgresCollection('race');
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore(url, { create: true })));
    expect((await Promise.all(stores.map((s) => s.count()))).every((c) => c.images === 0)).toBe(true);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('a late write of an older read never replaces a newer result; a repeated batch adds nothing', async () => {
    const s = await openStore(postgresCollection('late'), { create: true });
    try {
      const root = await s.rootId('/photos');
      await s.writeBatch([record(root, '/photos/a.jpg', 2, { readAt: 2000 })]);
      await s.writeBatch([record(root, '/photos/a.jpg', 1, { readAt: 1000 })]); // the stopped worker's old batch
      const row = await s.imageByFile('/photos/a.jpg');
      expect(row!.hash).toBe('hash-2');
      await s.writeBatch([record(root, '/photos/a.jpg', 2, { readAt: 2000 }), record(root, '/photos/b.jpg', 3, { readAt: 2000 })]);
      await s.writeBatch([record(root, '/photos/a.jpg', 2, { readAt: 2000 }), record(root, '/photos/b.jpg', 3, { readAt: 2000 })]);
      expect((await s.count()).images).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('follows changes from a watermark: additions, replacements and removals, none missed', async () => {
    const s: CollectionStore = await openStore(postgresCollection('changes'), { create: true });
    try {
      await s.lockSettings({ model: 'm', layer: 'avg_pool', resize: 'crop', dim: 8 });
      const root = await s.rootId('/p');
      await s.writeBatch([record(root, '/p/1.jpg', 1), record(root, '/p/2.jpg', 2)]);
      const first = await s.changesSince!(null);
      expect([...first.ids].sort()).toHaveLength(2);
      expect(first.matrix.rows).toBe(2);
      await s.writeBatch([record(root, '/p/3.jpg', 3)]);
      const two = (await s.imageByFile('/p/2.jpg'))!.id;
      await s.deleteImages([two]);
      const next = await s.changesSince!(first.watermark);
      expect([...next.ids]).toContain((await s.imageByFile('/p/3.jpg'))!.id);
      expect([...next.removed]).toContain(two);
      const quiet = await s.changesSince!((await s.changesSince!(next.watermark)).watermark);
      expect(quiet.ids.length + quiet.removed.length).toBe(0);
    } finally {
      await s.close();
    }
  });
});
