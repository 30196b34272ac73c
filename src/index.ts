/**
 * convlens library: everything the CLI and the server do, callable from code.
 */
export * from './core/index.js';
export * from './image/index.js';
export * from './imagenet/index.js';
export * from './model/index.js';
export * from './pipeline/index.js';
export * from './collection/index.js';
export * from './server/index.js';
