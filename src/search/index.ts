/**
 * Search over embedding matrices: exact and HNSW nearest neighbours (cosine / Euclidean, k,
 * thresholds, exclusions), all-row similarity scores and near-duplicate groups.
 */
export { checkSearchOptions, type Metric, type Neighbour, type SearchOptions } from './types.js';
export { ExactIndex, exactScore, similarities, type ExactIndexOptions, type ExactStorage } from './exact.js';
export { HnswIndex, type HnswBuildOptions, type HnswLoadOptions, type HnswOptions, type HnswQuantization } from './hnsw.js';
export {
  duplicateGroups,
  similarPairs,
  UnionFind,
  AUTO_EXACT_ROWS,
  type DuplicateMethod,
  type DuplicateOptions,
  type SimilarPair,
} from './duplicates.js';
export { perceptualHash, cropHashes, hashDistance, type PerceptualHash } from './phash.js';
