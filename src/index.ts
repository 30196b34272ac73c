/**
 * convlens library: everything the CLI and the server do, callable from code.
 *
 * The main workflow is exported flat (ConvLens, Store, indexFolders, CollectionSearch, trainModel,
 * ...); the building blocks are namespaces: `search`, `projection`, `heads`, `plot`, `server`.
 */
export * from './core/index.js';
export * from './image/index.js';
export * from './imagenet/index.js';
export * from './model/index.js';
export * from './pipeline/index.js';
export * from './collection/index.js';
export * from './teach/index.js';
export * as search from './search/index.js';
export * as projection from './projection/index.js';
export * as heads from './heads/index.js';
export * as plot from './plot/index.js';
export * as server from './server/index.js';
