/**
 * Projections of N×D embeddings to 2-D maps: t-SNE (our Barnes-Hut implementation), UMAP (umap-js)
 * and PCA, plus measures of how well a map keeps the neighbourhoods. `project` is the one entry
 * point the CLI, the server and the cache use; `projectOnThread` runs it on a worker thread.
 */
export {
  project,
  checkProjectOptions,
  type ProjectionMethod,
  type ProjectOptions,
  type ProjectionResult,
  type ProjectProgress,
} from './project.js';
export { projectOnThread } from './task.js';
export { pca, pcaSteps, type PCAOptions, type PCAResult } from './pca.js';
export { TSNE, tsneParams, type TSNEOptions, type TSNEParams, type TSNEProgress } from './tsne.js';
export { UMAP, umapParams, type UMAPOptions, type UMAPParams, type UMAPProgress } from './umap.js';
export { knnAccuracy, mapQuality, neighbourhoodPreservation, trustworthiness, type MapQuality, type MapQualityOptions } from './metrics.js';
