/**
 * Collection stores: the interface every command and the server use, and its implementations.
 * `openStore` picks one from the location: a file path is SQLite (embedded, the default).
 */
import { SqliteStore } from './sqlite.js';
import type { CollectionStore, OpenOptions } from './types.js';

export * from './types.js';
export { SqliteStore } from './sqlite.js';

/** The default collection file. */
export const DEFAULT_DB = 'convlens.db';

/** Open the collection at a location (a SQLite file path). */
export async function openStore(location: string, options: OpenOptions = {}): Promise<CollectionStore> {
  return SqliteStore.open(location, options);
}
