export * from './queue.js';
export { indexWithQueue, type QueuedIndexOptions, type QueuedIndexSummary } from './coordinator.js';
export { runWorker, mapPath, parsePathMap, type WorkerOptions } from './worker.js';
