export * from './lens.js';
