/**
 * convlens: ImageNet-pretrained ResNet50 for your own images, as a library.
 *
 * The main workflow comes from here: `ConvLens` (classify and embed images), `Collection` (index
 * folders, search, histograms, duplicates, maps, labels, training on a collection), the teaching
 * functions (`trainModel`, `Classifier`, `exportModel`) and the errors. The building blocks are
 * subpaths of their own: `convlens/search`, `convlens/projection`, `convlens/heads`,
 * `convlens/plot`, `convlens/atlas` and `convlens/server` (the only one that loads fastify).
 */
export { ConvlensError, isConvlensError, type ErrorCode } from './core/errors.js';
export { matrix, type Matrix } from './core/matrix.js';
export { readNpy, writeNpy, encodeNpy, decodeNpy } from './core/npy.js';
export { onWarning } from './core/warn.js';
export { VERSION } from './core/package.js';

export {
  ConvLens,
  zeroFraction,
  type LensOptions,
  type ProcessOptions,
  type ImageOutcome,
  type ImageOk,
  type ImageFailed,
} from './pipeline/index.js';
export {
  loadImage,
  caffePreprocess,
  RESIZE_MODES,
  DEFAULT_RESIZE,
  type ResizeMode,
  type ImageInput,
  type RawImage,
} from './image/index.js';
export { imagenetClasses, decodePredictions, findClasses, type ImagenetClass, type Prediction } from './imagenet/index.js';
export { Backbone, RESNET50, getBackbone, resolveCacheDir, type BackboneOptions, type BackboneSpec } from './model/index.js';

export {
  Collection,
  type CollectionOptions,
  type LensChoice,
  type RuntimeOptions,
  type Query,
  type QueryVector,
  type SimilarOptions,
  type SimilarityHistogram,
  type CollectionMap,
  type MapRequest,
} from './collection/index.js';
export type { IndexOptions, IndexSummary, IndexProgress, IndexFailure } from './indexer/index.js';
export {
  openStore,
  SqliteStore,
  DEFAULT_DB,
  SCHEMA_VERSION,
  displayPath,
  type CollectionStore,
  type EmbeddingSettings,
  type ImageRow,
} from './store/index.js';

export {
  trainModel,
  trainOnLabelled,
  trainOnCollection,
  Classifier,
  exportModel,
  readLabelledSet,
  AUGMENTATIONS,
  type Augmentation,
  type TrainOptions,
  type TrainResult,
  type CollectionTrainOptions,
  type CollectionTrainResult,
  type CrossValidatedMetrics,
} from './teach/index.js';
