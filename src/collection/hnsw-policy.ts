/** When `index` builds the HNSW index (the rule is Collection.refreshHnsw; here so the CLI can name it without loading the library). */

/** Collections at least this large get an HNSW index by default (exact scans pass ~50 ms around 100k). */
export const HNSW_AUTO_MIN = 50_000;

export type HnswWhen = 'auto' | 'always' | 'never';
