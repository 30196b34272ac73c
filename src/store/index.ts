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

/**
 * Open the collection at a location: a SQLite file path, or a PostgreSQL URL
 * (`postgres://user@host:5432/db?schema=name`; node-postgres is loaded only then).
 */
export async function openStore(location: string, options: OpenOptions = {}): Promise<CollectionStore> {
  if (isPostgresUrl(location)) return (await import('./postgres.js')).PostgresStore.open(location, options);
  return SqliteStore.open(location, options);
}

/** Is this location a PostgreSQL URL (else a SQLite file path)? */
export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);
