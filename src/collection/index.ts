export * from './indexer.js';
export * from './store.js';
