export * from './decode.js';
export * from './preprocess.js';
export * from './files.js';
