export { Backbone, buildBackboneGraph, ensureConverted, CONVERTER_VERSION, ONNX_OPSET, type BackboneOptions } from './backbone.js';
export { resolveCacheDir } from './cache.js';
export { GRAPH_INPUT, kerasToOnnx, type ConvertedGraph, type ConvertOptions } from './keras-to-onnx.js';

export { getBackbone, RESNET50, type BackboneSpec } from './registry.js';
export { readLayersModel, layersModelFiles, type LayersModel, type KerasLayer, type Weight } from './tfjs-layers.js';
export { exportClassifierOnnx, EXPORT_INPUT, type ExportOptions, type LinearHeadGraph } from './export.js';
