/**
 * The HTTP API, declared once: every route's parameters, body and answer as JSON Schema (TypeBox).
 * The same declarations validate requests (fastify + ajv: a bad parameter is a 400 before any
 * handler runs), shape answers (fast-json-stringify), type the web client (web/src/api.ts imports
 * the types below) and write the API reference in src/server/README.md (api-doc.ts).
 */
import Type from 'typebox';

// ---------- shapes shared by the answers ----------

const Nullable = <T extends Type.TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const ApiError = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { description: 'every failure' },
);
export const CodedError = Type.Object({ code: Type.String(), message: Type.String() });

export const ClassScore = Type.Object({ index: Type.Integer(), wnid: Type.String(), label: Type.String(), probability: Type.Number() });
export const Top1 = Type.Object({ index: Type.Integer(), label: Type.String(), probability: Type.Number() });

export const ImageSummary = Type.Object({
  id: Type.Integer(),
  /** relative to its root folder, / separated */
  path: Type.String({ description: 'relative to its root folder' }),
  /** the root folder's name (never an absolute path) */
  root: Type.String({ description: "the root folder's name" }),
  embedded: Type.Boolean(),
  top1: Nullable(Top1),
  label: Nullable(Type.String()),
  error: Nullable(CodedError),
});

export const ImageDetail = Type.Object({
  ...ImageSummary.properties,
  size: Type.Number(),
  width: Nullable(Type.Integer()),
  height: Nullable(Type.Integer()),
  format: Nullable(Type.String()),
  hash: Nullable(Type.String()),
  indexedAt: Type.Number(),
  top5: Type.Array(ClassScore),
  prediction: Nullable(Type.Object({ label: Type.String(), probability: Type.Number() })),
  displayable: Type.Boolean(),
});

export const ImageList = Type.Object({
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
  items: Type.Array(ImageSummary),
});

export const Settings = Type.Object({
  model: Type.String(),
  layer: Type.String(),
  resize: Type.String(),
  dim: Type.Integer(),
});

export const MapSummary = Type.Object({
  key: Type.String(),
  method: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.Number(),
  count: Type.Integer(),
});

export const Info = Type.Object({
  version: Type.String(),
  /** the database file's name */
  db: Type.String(),
  images: Type.Object({ images: Type.Integer(), embedded: Type.Integer(), failed: Type.Integer() }),
  settings: Nullable(Settings),
  roots: Type.Array(Type.Object({ id: Type.Integer(), name: Type.String() })),
  /** folders clients may index: name and index (POST /api/jobs takes the index) */
  allowedRoots: Type.Array(Type.Object({ index: Type.Integer(), name: Type.String() })),
  labels: Type.Array(Type.Object({ label: Type.String(), count: Type.Integer() })),
  maps: Type.Array(MapSummary),
  currentMap: Nullable(Type.String()),
  predictions: Type.Boolean(),
  uploads: Type.Object({ maxBytes: Type.Integer(), store: Type.Boolean(), maxStored: Type.Integer(), maxStoredBytes: Type.Number() }),
  jobs: Type.Object({ running: Type.Integer(), queued: Type.Integer() }),
  memory: Type.Object({ rss: Type.Number(), heapUsed: Type.Number() }),
  /** true when API requests need the server's token */
  auth: Type.Boolean(),
});

export const NeighbourImage = Type.Object({ id: Type.Integer(), score: Type.Number(), path: Type.String(), top1: Nullable(Type.String()) });
export const Searched = Type.Union([Type.Literal('exact'), Type.Literal('hnsw')], { description: 'which index answered' });
export const Upload = Type.Object({ bytes: Type.Integer(), width: Type.Integer(), height: Type.Integer(), format: Type.String() });

export const SimilarResult = Type.Object({
  query: Type.Union([Type.Object({ id: Type.Integer() }), Type.Object({ upload: Upload })]),
  metric: Type.String(),
  k: Type.Integer(),
  searched: Searched,
  results: Type.Array(NeighbourImage),
});

export const HistogramResult = Type.Object({
  id: Type.Integer(),
  metric: Type.String(),
  count: Type.Integer(),
  mean: Type.Number(),
  min: Type.Number(),
  max: Type.Number(),
  edges: Type.Array(Type.Number()),
  counts: Type.Array(Type.Number()),
  threshold: Type.Optional(Type.Number()),
  matches: Type.Optional(Type.Integer()),
  sample: Type.Optional(
    Type.Object(
      { size: Type.Integer(), of: Type.Integer(), margin: Type.Integer() },
      { description: 'a large collection: the histogram of a uniform sample, counts scaled, each bar ± margin images (95%)' },
    ),
  ),
});

export const JobProgress = Type.Object({
  stage: Type.String(),
  done: Type.Number(),
  total: Type.Number(),
  imagesPerSecond: Type.Optional(Type.Number()),
  etaSeconds: Type.Optional(Nullable(Type.Number())),
  failed: Type.Optional(Type.Integer()),
  kl: Type.Optional(Type.Number()),
});

export const JobKind = Type.Union([Type.Literal('index'), Type.Literal('map'), Type.Literal('atlas'), Type.Literal('train')]);
export const JobState = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('done'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);

export const JobInfo = Type.Object({
  id: Type.String(),
  kind: JobKind,
  state: JobState,
  params: Type.Record(Type.String(), Type.Unknown()),
  progress: Nullable(JobProgress),
  result: Type.Unknown(),
  error: Nullable(CodedError),
  createdAt: Type.Number(),
  startedAt: Nullable(Type.Number()),
  finishedAt: Nullable(Type.Number()),
});

export const ClassifyResult = Type.Object({
  upload: Upload,
  predictions: Type.Array(ClassScore),
  metric: Type.String(),
  searched: Searched,
  neighbours: Type.Array(NeighbourImage),
  stored: Type.Optional(Type.Object({ name: Type.String(), job: JobInfo })),
});

export const MapResult = Type.Object({
  key: Type.String(),
  method: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  kl: Nullable(Type.Number()),
  seconds: Type.Number(),
  count: Type.Integer(),
  ids: Type.Array(Type.Integer()),
  /** x0, y0, x1, y1, ... */
  coords: Type.Array(Type.Number()),
  top1: Type.Array(Type.Integer()),
  classes: Type.Record(Type.String(), Type.String()),
});

export const AtlasManifest = Type.Object({
  version: Type.String(),
  tile: Type.Integer(),
  columns: Type.Integer(),
  perPage: Type.Integer(),
  pages: Type.Array(Type.Object({ url: Type.String(), width: Type.Integer(), height: Type.Integer(), count: Type.Integer() })),
  ids: Type.Array(Type.Integer()),
  colors: Type.Array(Type.Integer()),
});

export const LabelCounts = Type.Array(Type.Object({ label: Type.String(), count: Type.Integer() }));
export const LabelsResult = Type.Object({ counts: LabelCounts, ids: Type.Array(Type.Integer()), labels: Type.Array(Type.String()) });
export const LabelsChanged = Type.Object({ changed: Type.Integer(), counts: LabelCounts });

const Averages = Type.Object({ precision: Type.Number(), recall: Type.Number(), f1: Type.Number() });
export const TrainMetrics = Type.Object({
  folds: Type.Integer(),
  accuracy: Type.Number(),
  n: Type.Integer(),
  classes: Type.Array(
    Type.Object({ label: Type.String(), precision: Type.Number(), recall: Type.Number(), f1: Type.Number(), support: Type.Integer() }),
  ),
  macro: Averages,
  weighted: Averages,
  confusion: Type.Object({ labels: Type.Array(Type.String()), matrix: Type.Array(Type.Array(Type.Integer())) }),
});

export const Mistake = Type.Object({
  id: Type.Integer(),
  /** the image's label */
  label: Type.String(),
  /** what the cross-validation head that never saw it predicted */
  predicted: Type.String(),
  probability: Type.Number(),
});

export const TrainResult = Type.Object({
  head: Type.String(),
  classes: Type.Array(Type.String()),
  labelled: LabelCounts,
  metrics: Nullable(TrainMetrics),
  note: Nullable(Type.String()),
  predicted: LabelCounts,
  seconds: Type.Number(),
  /** labelled images predicted wrongly in cross-validation, most confident first (likely mislabelled); [] without metrics */
  mistakes: Type.Array(Mistake),
  /** the image ids of each cell of metrics.confusion.matrix (null without metrics) */
  confusionIds: Nullable(Type.Array(Type.Array(Type.Array(Type.Integer())))),
});

export const Predictions = Type.Object({
  job: Type.String(),
  head: Type.String(),
  classes: Type.Array(Type.String()),
  ids: Type.Array(Type.Integer()),
  /** index into classes, per id */
  predicted: Type.Array(Type.Integer()),
  probability: Type.Array(Type.Number()),
  /** best minus second-best class probability, per id (low: uncertain, worth labelling next) */
  margin: Type.Array(Type.Number()),
  counts: LabelCounts,
});

export const ClassList = Type.Object({
  classes: Type.Array(Type.Object({ index: Type.Integer(), wnid: Type.String(), label: Type.String(), count: Type.Integer() })),
});

export const FindKind = Type.Union([Type.Literal('label'), Type.Literal('prediction'), Type.Literal('class'), Type.Literal('path')]);
export const FindResult = Type.Object({
  q: Type.String(),
  /** images matched by any group */
  total: Type.Integer(),
  matches: Type.Array(
    Type.Object({
      /** what matched: a label, the trained head's prediction, the ImageNet top-1 class, the file path */
      kind: FindKind,
      name: Type.String(),
      index: Type.Optional(Type.Integer()),
      count: Type.Integer(),
      ids: Type.Array(Type.Integer()),
    }),
  ),
});

// ---------- request parts ----------

/** Ids arrive as text: only plain decimal digits are an id ("0x1", "1e3", "1.0" are not). */
const Id = Type.String({ pattern: '^[0-9]{1,15}$', description: 'an image id' });
const IdNumber = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'an image id' });
const Metric = Type.Union([Type.Literal('cosine'), Type.Literal('euclidean')], { default: 'cosine', description: 'cosine | euclidean' });
const Text = (maxLength: number, description: string) => Type.String({ maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description });
export const MAX_K = 1000;

const SearchQuery = {
  metric: Type.Optional(Metric),
  k: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_K, default: 10, description: 'how many' })),
  minSimilarity: Type.Optional(Type.Number({ minimum: -1, maximum: 1, description: 'cosine: keep scores ≥ this' })),
  maxDistance: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12, description: 'euclidean: keep distances ≤ this' })),
};

const IdParams = Type.Object({ id: Id });
const JobIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,12}$', description: 'a job id' }) });
const MapMethod = Type.Union([Type.Literal('tsne'), Type.Literal('umap'), Type.Literal('pca')], { description: 'tsne | umap | pca' });
const MapParams = {
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 })),
  perplexity: Type.Optional(Type.Number({ minimum: 1, maximum: 100, description: 'tsne only' })),
  nNeighbors: Type.Optional(Type.Integer({ minimum: 2, maximum: 200, description: 'umap only' })),
  minDist: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'umap only' })),
};
const MapKey = (description: string) => Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9-]+$', description });
const Tile = Type.Optional(Type.Integer({ minimum: 8, maximum: 256, description: 'atlas tile side in px' }));
const IdList = Type.Array(IdNumber, { minItems: 1, maxItems: 100_000, description: 'image ids' });
const Label = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: '^[^\\u0000-\\u001f\\u007f]*$',
  description: '1-100 printable characters',
});

// ---------- the routes ----------

export interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  summary: string;
  /** a multipart image upload (any field name), besides the schema */
  upload?: boolean;
  /** answered with a status other than 200 */
  status?: number;
  /** the answer is not JSON (a file, an event stream): what it is */
  produces?: string;
  schema: {
    params?: Type.TObject;
    querystring?: Type.TObject;
    body?: Type.TObject;
    response?: Record<number, Type.TSchema>;
  };
}

const ok = (t: Type.TSchema, status = 200): Record<number, Type.TSchema> => ({ [status]: t });

export const API = {
  info: {
    method: 'GET',
    url: '/api/info',
    summary: 'the collection, its settings, maps, labels and this server',
    schema: { response: ok(Info) },
  },
  classes: {
    method: 'GET',
    url: '/api/classes',
    summary: 'ImageNet classes matching a text, or those in the collection, most frequent first',
    schema: { querystring: Type.Object({ q: Type.Optional(Text(100, 'class name text')) }), response: ok(ClassList) },
  },
  images: {
    method: 'GET',
    url: '/api/images',
    summary: 'images in id order, filtered',
    schema: {
      querystring: Type.Object({
        offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9, default: 0 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
        class: Type.Optional(Type.Integer({ minimum: 0, maximum: 999, description: 'ImageNet index of the top-1 class' })),
        q: Type.Optional(Text(100, 'text: top-1 class name')),
        label: Type.Optional(Text(100, 'a label')),
        unlabelled: Type.Optional(Type.Boolean()),
        failed: Type.Optional(Type.Boolean()),
      }),
      response: ok(ImageList),
    },
  },
  image: {
    method: 'GET',
    url: '/api/images/:id',
    summary: 'one image: classes, label, prediction',
    schema: { params: IdParams, response: ok(ImageDetail) },
  },
  thumbnail: {
    method: 'GET',
    url: '/api/images/:id/thumbnail',
    summary:
      'the thumbnail stored at index time; with size, a sharper one made from the original file (cached; the stored one when the ' +
      'file is gone or refused, said by x-convlens-thumbnail)',
    produces: 'image/jpeg (stored) or image/webp (size)',
    schema: {
      params: IdParams,
      querystring: Type.Object({
        size: Type.Optional(
          Type.Integer({
            minimum: 16,
            maximum: 1024,
            description: 'longer side in px, rounded up to 128, 256, 512 or 1024; never enlarged',
          }),
        ),
      }),
    },
  },
  file: {
    method: 'GET',
    url: '/api/images/:id/file',
    summary: "the original file's bytes, while its real path stays inside its root (sandboxed)",
    produces: 'the image file',
    schema: { params: IdParams },
  },
  similar: {
    method: 'GET',
    url: '/api/similar',
    summary: 'the images most similar to an image of the collection, best first, itself excluded',
    schema: { querystring: Type.Object({ id: Id, ...SearchQuery }), response: ok(SimilarResult) },
  },
  similarUpload: {
    method: 'POST',
    url: '/api/similar',
    summary: 'the images most similar to an uploaded image (not stored)',
    upload: true,
    schema: { querystring: Type.Object(SearchQuery), response: ok(SimilarResult) },
  },
  find: {
    method: 'GET',
    url: '/api/search',
    summary: "images by name: labels, the trained head's predictions, ImageNet classes and file paths, each match with its kind",
    schema: {
      querystring: Type.Object({
        q: Text(100, 'text (case, spaces, _ and - ignored)'),
        max: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'groups of one kind at most' })),
      }),
      response: ok(FindResult),
    },
  },
  histogram: {
    method: 'GET',
    url: '/api/histogram',
    summary: 'similarities (or distances) of an image to all the others; min/max are the scores similar reports',
    schema: {
      querystring: Type.Object({
        id: Id,
        metric: Type.Optional(Metric),
        bins: Type.Optional(Type.Integer({ minimum: 2, maximum: 500, default: 50 })),
        threshold: Type.Optional(Type.Number({ minimum: -1, maximum: 1e12, description: 'count the images passing it' })),
      }),
      response: ok(HistogramResult),
    },
  },
  classify: {
    method: 'POST',
    url: '/api/classify',
    summary: 'ImageNet classes and nearest neighbours of an uploaded image; store=true adds it to the collection',
    upload: true,
    schema: {
      querystring: Type.Object({
        ...SearchQuery,
        top: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, default: 5 })),
        store: Type.Optional(Type.Boolean({ description: 'save it in the uploads folder and index it' })),
      }),
      response: ok(ClassifyResult),
    },
  },
  map: {
    method: 'GET',
    url: '/api/map',
    summary: 'a computed map: by key, by its parameters, or (none given) the newest of the current images; 404 when not computed',
    schema: {
      querystring: Type.Object({
        key: Type.Optional(Text(100, 'a map key')),
        method: Type.Optional(MapMethod),
        ...MapParams,
        points: Type.Optional(Type.Boolean({ description: 'false: ids, coords and top1 left empty (a large map: read /api/map/points)' })),
      }),
      response: ok(MapResult),
    },
  },
  mapPoints: {
    method: 'GET',
    url: '/api/map/points',
    summary:
      "a map's points, binary and little-endian: count (uint32), 0 (uint32), ids (int32 × count), x, y (float32 × 2 count), " +
      'top-1 class (int16 × count, -1: none)',
    produces: 'application/octet-stream',
    schema: { querystring: Type.Object({ key: Text(100, 'a map key') }) },
  },
  mapCell: {
    method: 'GET',
    url: '/api/map/cell',
    summary:
      "the thumbnails of one cell of a map (cell x, y of 2^z × 2^z over the map's square), binary and little-endian: " +
      'count, total, tile, columns (uint32), ids (int32 × count), mean colours (uint32 × count), ' +
      'then a WebP page of count tiles (≤ 256, spread evenly over the cell)',
    produces: 'application/octet-stream',
    schema: {
      querystring: Type.Object({
        key: Text(100, 'a map key'),
        z: Type.Integer({ minimum: 0, maximum: 10, description: 'level' }),
        x: Type.Integer({ minimum: 0, maximum: 1023 }),
        y: Type.Integer({ minimum: 0, maximum: 1023 }),
      }),
    },
  },
  computeMap: {
    method: 'POST',
    url: '/api/map',
    summary: "compute a map (cached in the database) and its atlas, as a job; alignTo / placeOn keep a previous map's places",
    status: 202,
    schema: {
      body: Type.Object({
        method: Type.Optional(MapMethod),
        ...MapParams,
        tile: Tile,
        alignTo: Type.Optional(MapKey('a previous map: the new layout is turned and scaled to match it')),
        placeOn: Type.Optional(MapKey('a previous map: updated in place (its images keep their places, new ones join their neighbours)')),
      }),
      response: ok(JobInfo, 202),
    },
  },
  atlas: {
    method: 'GET',
    url: '/api/map/atlas',
    summary: 'the thumbnail atlas of the current images; 404 until built',
    schema: { querystring: Type.Object({ tile: Tile }), response: ok(AtlasManifest) },
  },
  atlasPage: {
    method: 'GET',
    url: '/api/map/atlas/:page',
    summary: 'one atlas page (WebP, ≤ 4096 px a side); a stale version is 404',
    produces: 'image/webp',
    schema: {
      params: Type.Object({ page: Type.Integer({ minimum: 0, maximum: 9999 }) }),
      querystring: Type.Object({ tile: Tile, v: Type.Optional(Text(200, 'the atlas version')) }),
    },
  },
  buildAtlas: {
    method: 'POST',
    url: '/api/map/atlas',
    summary: 'build the atlas, as a job; when built already, the job that built it (a map or an atlas job)',
    status: 202,
    schema: { body: Type.Object({ tile: Tile }), response: ok(JobInfo, 202) },
  },
  labels: { method: 'GET', url: '/api/labels', summary: 'every label and its images', schema: { response: ok(LabelsResult) } },
  setLabels: {
    method: 'POST',
    url: '/api/labels',
    summary: 'label images',
    schema: { body: Type.Object({ ids: IdList, label: Label }), response: ok(LabelsChanged) },
  },
  clearLabels: {
    method: 'DELETE',
    url: '/api/labels',
    summary: 'remove the labels of images',
    schema: { body: Type.Object({ ids: IdList }), response: ok(LabelsChanged) },
  },
  train: {
    method: 'POST',
    url: '/api/train',
    summary: 'train a head on the labels (cross-validated metrics), then predict every image; a job whose result is a TrainResult',
    status: 202,
    schema: {
      body: Type.Object({
        head: Type.Optional(
          Type.Union([Type.Literal('knn'), Type.Literal('softmax'), Type.Literal('svm')], {
            default: 'knn',
            description: 'knn | softmax | svm',
          }),
        ),
        k: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'knn neighbours (default: chosen by cross-validation)' })),
      }),
      response: ok(JobInfo, 202),
    },
  },
  predictions: {
    method: 'GET',
    url: '/api/predictions',
    summary: "the last trained head's prediction for every image",
    schema: { response: ok(Predictions) },
  },
  jobs: {
    method: 'GET',
    url: '/api/jobs',
    summary: 'jobs, newest first (results left out)',
    schema: { response: ok(Type.Object({ jobs: Type.Array(JobInfo) })) },
  },
  job: {
    method: 'GET',
    url: '/api/jobs/:id',
    summary: 'one job with its progress and result',
    schema: { params: JobIdParams, response: ok(JobInfo) },
  },
  jobEvents: {
    method: 'GET',
    url: '/api/jobs/:id/events',
    summary: 'the job as server-sent events (≤ 5 a second) until it ends',
    produces: 'text/event-stream',
    schema: { params: JobIdParams },
  },
  cancelJob: {
    method: 'DELETE',
    url: '/api/jobs/:id',
    summary: 'cancel a queued or running job',
    schema: { params: JobIdParams, response: ok(JobInfo) },
  },
  indexJob: {
    method: 'POST',
    url: '/api/jobs',
    summary: 'index a folder inside an allowed root (every file must resolve inside it), as a job',
    status: 202,
    schema: {
      body: Type.Object({
        kind: Type.Literal('index'),
        folder: Type.String({ minLength: 1, maxLength: 4096, description: 'relative to the root' }),
        root: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 0, description: 'index into allowedRoots' })),
        prune: Type.Optional(Type.Boolean({ default: false })),
      }),
      response: ok(JobInfo, 202),
    },
  },
} satisfies Record<string, RouteSpec>;

// ---------- types for the server and the web client ----------

export type Info = Type.Static<typeof Info>;
export type ClassScore = Type.Static<typeof ClassScore>;
export type ImageSummary = Type.Static<typeof ImageSummary>;
export type ImageDetail = Type.Static<typeof ImageDetail>;
export type ImageList = Type.Static<typeof ImageList>;
export type NeighbourImage = Type.Static<typeof NeighbourImage>;
export type SimilarResult = Type.Static<typeof SimilarResult>;
export type HistogramResult = Type.Static<typeof HistogramResult>;
export type FindResult = Type.Static<typeof FindResult>;
export type FindKind = Type.Static<typeof FindKind>;
export type ClassifyResult = Type.Static<typeof ClassifyResult>;
export type UploadInfo = Type.Static<typeof Upload>;
export type MapResult = Type.Static<typeof MapResult>;
export type AtlasManifest = Type.Static<typeof AtlasManifest>;
export type LabelsResult = Type.Static<typeof LabelsResult>;
export type TrainMetrics = Type.Static<typeof TrainMetrics>;
export type TrainResult = Type.Static<typeof TrainResult>;
export type Mistake = Type.Static<typeof Mistake>;
export type Predictions = Type.Static<typeof Predictions>;
export type JobInfo = Type.Static<typeof JobInfo>;
export type JobKind = Type.Static<typeof JobKind>;
export type JobState = Type.Static<typeof JobState>;
export type JobProgress = Type.Static<typeof JobProgress>;
