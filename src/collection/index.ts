export * from './collection.js';
export { CollectionSearch, MicroBatcher, hnswPath, type SimilarityHistogram, type SimilarOptions } from './search.js';
export { mapKey, type CollectionMap, type MapRequest } from './maps.js';
export { indexOnThread, type IndexTaskInput, type IndexTaskProgress } from './task.js';
