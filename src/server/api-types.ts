/**
 * Shapes of the HTTP API's JSON answers, shared by the server and the browser app (web/ imports
 * this file for types only, so it must not import anything).
 */

export interface ApiError {
  error: { code: string; message: string };
}

export interface ClassScore {
  index: number;
  wnid: string;
  label: string;
  probability: number;
}

export interface Info {
  version: string;
  db: string;
  images: { images: number; embedded: number; failed: number };
  settings: { model: string; layer: string; resize: string; dim: number } | null;
  roots: string[];
  allowedRoots: string[];
  labels: { label: string; count: number }[];
  maps: { key: string; method: string; params: Record<string, unknown>; createdAt: number; count: number }[];
  /** key of the newest map of exactly the current images (null: none yet) */
  currentMap: string | null;
  /** whether a head was trained (GET /api/predictions) */
  predictions: boolean;
  uploads: { maxBytes: number; storeDir: string | null };
  jobs: { running: number; queued: number };
  memory: { rss: number; heapUsed: number };
}

export interface ImageSummary {
  id: number;
  /** path relative to its root, / separated */
  path: string;
  root: string;
  embedded: boolean;
  top1: { index: number; label: string; probability: number } | null;
  label: string | null;
  error: { code: string; message: string } | null;
}

export interface ImageList {
  total: number;
  offset: number;
  limit: number;
  items: ImageSummary[];
}

export interface ImageDetail extends ImageSummary {
  size: number;
  width: number | null;
  height: number | null;
  format: string | null;
  hash: string | null;
  indexedAt: number;
  top5: ClassScore[];
  /** the last trained head's prediction for this image, if any */
  prediction: { label: string; probability: number } | null;
  /** whether browsers can show the original file (else use the thumbnail) */
  displayable: boolean;
}

export interface Neighbour {
  id: number;
  /** cosine similarity or Euclidean distance */
  score: number;
  path: string;
  top1: string | null;
}

export interface SimilarResult {
  query: { id: number } | { upload: UploadInfo };
  metric: 'cosine' | 'euclidean';
  k: number;
  results: Neighbour[];
}

export interface UploadInfo {
  bytes: number;
  width: number;
  height: number;
  format: string;
}

export interface ClassifyResult {
  upload: UploadInfo;
  predictions: ClassScore[];
  metric: 'cosine' | 'euclidean';
  neighbours: Neighbour[];
  /** present when store=true: where the upload was saved and the index job that adds it */
  stored?: { path: string; job: JobInfo };
}

export interface HistogramResult {
  id: number;
  metric: 'cosine' | 'euclidean';
  count: number;
  mean: number;
  min: number;
  max: number;
  edges: number[];
  counts: number[];
}

export interface MapResult {
  key: string;
  method: string;
  params: Record<string, unknown>;
  kl: number | null;
  seconds: number;
  count: number;
  ids: number[];
  /** x0, y0, x1, y1, ... */
  coords: number[];
  /** ImageNet top-1 class index per point (-1: none) */
  top1: number[];
  /** class index -> label, for the classes in top1 */
  classes: Record<string, string>;
}

export interface AtlasManifest {
  /** changes whenever the collection does (cache key for the page images) */
  version: string;
  tile: number;
  columns: number;
  pages: { url: string; width: number; height: number; count: number }[];
  /** image id of each tile, in tile order (tile i is on page floor(i / perPage)) */
  ids: number[];
  perPage: number;
  /** mean colour of each tile as 0xRRGGBB */
  colors: number[];
}

export interface LabelsResult {
  counts: { label: string; count: number }[];
  ids: number[];
  labels: string[];
}

export interface TrainMetrics {
  folds: number;
  accuracy: number;
  n: number;
  classes: { label: string; precision: number; recall: number; f1: number; support: number }[];
  macro: { precision: number; recall: number; f1: number };
  confusion: { labels: string[]; matrix: number[][] };
}

export interface Predictions {
  job: string;
  head: string;
  classes: string[];
  ids: number[];
  /** index into classes per id */
  predicted: number[];
  probability: number[];
  counts: { label: string; count: number }[];
}

export interface TrainResult {
  head: string;
  classes: string[];
  labelled: { label: string; count: number }[];
  /** cross-validated on the labelled images; null when a class has a single image */
  metrics: TrainMetrics | null;
  note: string | null;
  predicted: { label: string; count: number }[];
  seconds: number;
}

export type JobKind = 'index' | 'map' | 'atlas' | 'train';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobProgress {
  stage: string;
  done: number;
  total: number;
  imagesPerSecond?: number;
  etaSeconds?: number | null;
  failed?: number;
  kl?: number;
}

export interface JobInfo {
  id: string;
  kind: JobKind;
  state: JobState;
  params: Record<string, unknown>;
  progress: JobProgress | null;
  result: unknown;
  error: { code: string; message: string } | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** The data block the viewer reads (web/src/viewer/standalone.ts). */
export interface StandaloneMapData {
  title: string;
  subtitle: string;
  colorBy: 'prediction' | 'label' | 'none';
  ids: number[];
  x: number[];
  y: number[];
  paths: string[];
  /** index into `predictionNames` per point */
  predictions: number[];
  predictionNames: string[];
  /** probability of each point's prediction, -1 when not known */
  probabilities: number[];
  /** index into `labelNames` per point, -1 when unlabelled */
  labels: number[];
  labelNames: string[];
  atlas: {
    tile: number;
    columns: number;
    perPage: number;
    ids: number[];
    colors: number[];
    pages: { width: number; height: number; count: number; src: string }[];
  };
}
