/**
 * Serving one PostgreSQL collection from several servers: each keeps an HNSW index in memory,
 * brought forward from the collection's change watermark, and sees images that others add (or
 * remove) within seconds, without reading the collection again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/core/random.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { syntheticStore } from '../helpers/synthetic-store.js';
import { dropPostgresCollections, postgresCollection, postgresMissing } from '../helpers/services.js';
import { sleep } from '../helpers/processes.js';

const missing = await postgresMissing();
const servers: ConvlensServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await dropPostgresCollections();
});

async function similar(base: string, id: number, k = 5): Promise<{ results: { id: number; score: number }[]; searched: unknown }> {
  const r = await fetch(`${base}/api/similar?id=${id}&k=${k}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as { results: { id: number; score: number }[]; searched: unknown };
}

describe.skipIf(missing !== null)('several servers over one PostgreSQL collection', () => {
  it('see images another process adds or removes within seconds, from an index kept in memory', async () => {
    const db = postgresCollection('serve');
    await syntheticStore(db, '/synthetic', 3000, { dim: 64, thumbnails: false });
    const bases: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await createServer({ db, port: 0, uploadsDir: null });
      servers.push(s);
      bases.push((await s.listen()).replace(/\/$/, ''));
    }
    const writer = await openStore(db);
    try {
      const query = (await writer.images({ limit: 1, offset: 1234 }))[0]!;
      const before = await Promise.all(bases.map((b) => similar(b, query.id)));
      expect(before[0]!.results).toEqual(before[1]!.results);
      expect(before[0]!.results).toHaveLength(5);
      expect(before.map((b) => b.searched)).toEqual(['hnsw', 'hnsw']); // the in-memory index answered

      // another machine indexes a near copy of the query image
      const v = (await writer.embedding(query.id))!;
      const rng = new Random(5);
      const near = Float32Array.from(v, (x) => x + 1e-4 * rng.normal());
      const rootId = await writer.rootId('/elsewhere');
      await writer.writeBatch([
        {
          file: '/elsewhere/copy.jpg',
          rootId,
          path: 'copy.jpg',
          size: 1,
          mtimeMs: 1,
          hash: 'copy',
          embedding: near,
          top5: [{ index: 1, probability: 1 }],
          zeroFraction: 0,
        },
      ]);
      const copy = (await writer.imageByFile('/elsewhere/copy.jpg'))!.id;
      const t0 = Date.now();
      for (const base of bases) {
        while (!(await similar(base, query.id)).results.some((r) => r.id === copy)) {
          expect(Date.now() - t0).toBeLessThan(10_000);
          await sleep(200);
        }
      }
      const seenAfter = Date.now() - t0;
      console.log(`a new image showed on both servers ${seenAfter} ms after its commit`);
      expect((await similar(bases[0]!, query.id)).results[0]!.id).toBe(copy); // the nearest, with its exact score
      expect((await similar(bases[0]!, query.id)).results[0]!.score).toBeGreaterThan(0.9999);

      await writer.deleteImages([copy]);
      const t1 = Date.now();
      for (const base of bases) {
        while ((await similar(base, query.id)).results.some((r) => r.id === copy)) {
          expect(Date.now() - t1).toBeLessThan(10_000);
          await sleep(200);
        }
      }
      expect((await similar(bases[1]!, query.id)).results).toEqual(before[1]!.results);
    } finally {
      await writer.close();
    }
  });
});
