export { Backbone, type BackboneOptions } from './backbone.js';
export { buildBackboneGraph, ensureConverted, CONVERTER_VERSION, ONNX_OPSET } from './convert.js';
export { ensureQuantized, type QuantizedModel } from './int8.js';
export { PRECISIONS, type Precision } from './calibration.js';
export { resolveCacheDir } from './cache.js';
export { GRAPH_INPUT, kerasToOnnx, type ConvertedGraph, type ConvertOptions } from './keras-to-onnx.js';

export { getBackbone, RESNET50, type BackboneSpec } from './registry.js';
export { readLayersModel, layersModelFiles, type LayersModel, type KerasLayer, type Weight } from './tfjs-layers.js';
export { exportClassifierOnnx, EXPORT_INPUT, type ExportOptions, type LinearHeadGraph } from './export.js';
