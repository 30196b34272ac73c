export * from './collection.js';
export { HNSW_AUTO_MIN, type HnswWhen } from './hnsw-policy.js';
export { CollectionSearch, MicroBatcher, hnswPath, type SimilarityHistogram, type SimilarOptions } from './search.js';
export { alignMap, mapKey, placedMap, type CollectionMap, type MapCoordinates, type MapRequest, type PreviousMap } from './maps.js';
export { placeImages, type NeighbourSearch, type PlaceOptions } from './place.js';
export { indexOnThread, type IndexTaskInput, type IndexTaskProgress } from './task.js';
export { findImages, normaliseName, type FindGroup, type FindKind, type FindOptions, type FindSource } from './find.js';
