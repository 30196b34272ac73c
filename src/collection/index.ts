export * from './indexer.js';
export * from './store.js';
export * from './labelled.js';
export * from './query.js';
export * from './maps.js';
