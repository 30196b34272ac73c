/**
 * Embeddings of the shared 5-class flower set (750 photos), computed through the real pipeline
 * once per resize mode and cached in the embedding-cache store, so every test file that needs
 * them pays for the network once.
 */
import { join } from 'node:path';
import { embedLabelled, readLabelledSet, type EmbeddedSet } from '../../src/teach/index.js';
import { ConvLens } from '../../src/pipeline/index.js';
import { sharedDataPath } from './paths.js';

export const FLOWERS = sharedDataPath('flowers');

const cache = new Map<string, Promise<EmbeddedSet>>();

export function flowerEmbeddings(resize: 'squash' | 'crop'): Promise<EmbeddedSet> {
  if (!FLOWERS) throw new Error('shared flowers are absent');
  let p = cache.get(resize);
  if (!p) {
    p = (async () => {
      const items = await readLabelledSet(join(FLOWERS, 'labels.tsv'));
      const lens = await ConvLens.load({ resize, batchSize: 16 });
      try {
        return await embedLabelled(items, lens);
      } finally {
        await lens.dispose();
      }
    })();
    cache.set(resize, p);
  }
  return p;
}
