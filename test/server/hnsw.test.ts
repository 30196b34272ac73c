/**
 * One search policy under the CLI and the server: on a collection past the size where `index`
 * builds an HNSW index, the server answers /api/similar from that index, with exactly the
 * results the library (and so `convlens similar`) gives.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HNSW_AUTO_MIN } from '../../src/collection/index.js';
import { Collection } from '../../src/collection/index.js';
import { createServer, type ConvlensServer } from '../../src/server/index.js';
import type { SimilarResult } from '../../src/server/schemas.js';
import { removeTempDirs, syntheticStore, tempDir } from './helpers.js';

const N = HNSW_AUTO_MIN + 1;
const dir = tempDir('hnsw-server');
const db = join(dir, 'big.db');
let server: ConvlensServer;

beforeAll(async () => {
  await syntheticStore(db, join(dir, 'photos'), N, { dim: 32, thumbnails: false });
  const c = await Collection.open(db);
  expect(await c.needsHnsw()).toBe(true);
  await c.buildHnsw();
  expect(await c.needsHnsw()).toBe(false);
  await c.close();
  server = await createServer({ db, webDir: null, port: 0 });
}, 300_000);

afterAll(async () => {
  await server?.close();
  removeTempDirs();
});

describe('a collection past the HNSW threshold', () => {
  it('is searched through its HNSW index by the server, with the same answers as the library', async () => {
    const lib = await Collection.open(db, { readonly: true });
    for (const id of [1, 777, 25_000, N]) {
      const r = await server.app.inject({ method: 'GET', url: `/api/similar?id=${id}&k=10` });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json() as SimilarResult;
      expect(body.searched).toBe('hnsw');
      const { results } = await lib.similar({ id }, { k: 10 });
      expect(body.results.map((n) => [n.id, n.score])).toEqual(results.map((n) => [n.id, n.score]));
      expect(body.results.map((n) => n.id)).not.toContain(id);
    }
    await lib.close();
  });
});
