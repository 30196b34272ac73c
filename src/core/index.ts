export * from './errors.js';
export * from './matrix.js';
export * from './random.js';
export * from './npy.js';
export * from './worker.js';
