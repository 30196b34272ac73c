export type { Head, HeadJSON, HeadState, HeadType, Prediction } from './types.js';
export { trainHead, type TrainHeadOptions } from './train.js';
export { trainSoftmax, softmaxObjective, DEFAULT_SOFTMAX_SCALING, type SoftmaxOptions } from './softmax.js';
export { DEFAULT_L2_GRID, type LinearOptions } from './linear-train.js';
export { trainSvm, svmObjective, DEFAULT_SVM_SCALING, type SvmOptions } from './svm.js';
export { trainKnn, KnnHead, DEFAULT_K_GRID, DEFAULT_KNN_SCALING, KNN_METRICS, type KnnMetric, type KnnOptions } from './knn.js';
export { LinearHead, type LinearExport } from './linear.js';
export { SCALING_KINDS, type ScalingKind } from './scaling.js';
export type { CvOptions } from './cv.js';
export { encodeLabels } from './data.js';
export { stratifiedSplit, stratifiedKFold, selectRows, complement, type SplitOptions, type TrainValSplit } from './split.js';
export { evaluate, evaluateHead, formatReport, type ClassMetrics, type AverageMetrics, type EvaluationReport } from './metrics.js';
export {
  saveModelDir,
  loadModelDir,
  loadHead,
  headFromState,
  MODEL_FILE,
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  type BackboneInfo,
  type ModelMeta,
  type LoadedModel,
} from './persist.js';
