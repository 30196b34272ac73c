/**
 * ONNX as bytes: a minimal protobuf writer for the graphs convlens makes (the converted backbone,
 * exported classifiers, the search kernels), and the environment ONNX Runtime needs set first.
 */
import './ort-env.js';
export * from './proto.js';
export * from './inspect.js';
