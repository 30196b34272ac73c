export * from './augment.js';
export * from './teach.js';
export * from './collection.js';
export { trainOnThread, type TrainTaskInput, type TrainTaskResult } from './task.js';
export * from './labelled.js';
