/** The HTTP API, typed (shapes from src/server/schemas.ts). */
import type {
  AtlasManifest,
  ClassifyResult,
  FindResult,
  HistogramResult,
  ImageDetail,
  ImageList,
  Info,
  JobInfo,
  LabelsResult,
  MapResult,
  Predictions,
  SimilarResult,
} from '../../src/server/schemas.js';

export type * from '../../src/server/schemas.js';

/** A map as the app holds it: its summary and its points in typed arrays (a million fit). */
export interface MapData extends Omit<MapResult, 'ids' | 'coords' | 'top1'> {
  ids: Int32Array;
  /** x0, y0, x1, y1, ... */
  coords: Float32Array;
  /** ImageNet top-1 class of each point (-1: none) */
  top1: Int16Array;
}

/** The thumbnails of one map cell (GET /api/map/cell). */
export interface MapCell {
  total: number;
  tile: number;
  columns: number;
  ids: Int32Array;
  colors: Uint32Array;
  page: ImageBitmap | null;
}

/** A failed answer as an ApiError: the server's JSON error when it sent one. */
function failure(status: number, data: unknown): ApiError {
  const error = (data as { error?: { code: string; message: string } } | null)?.error;
  return new ApiError(status, error?.code ?? 'E_HTTP', error?.message ?? `HTTP ${status}`);
}

/** A binary answer (map points, map cells); errors still come as JSON. */
async function binary(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw failure(res.status, await res.json().catch(() => null));
  return res.arrayBuffer();
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(url, init);
  const data: unknown = await res.json().catch(() => null);
  if (!res.ok) throw failure(res.status, data);
  return data as T;
}

const qs = (params: Record<string, string | number | boolean | undefined | null>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export interface SearchOptions {
  metric: 'cosine' | 'euclidean';
  k: number;
  minSimilarity?: number;
  maxDistance?: number;
}

const searchQs = (o: SearchOptions): Record<string, string | number | undefined> => ({
  metric: o.metric,
  k: o.k,
  minSimilarity: o.minSimilarity,
  maxDistance: o.maxDistance,
});

export const api = {
  info: () => call<Info>('GET', '/api/info'),
  classes: (q?: string) =>
    call<{ classes: { index: number; wnid: string; label: string; count: number }[] }>('GET', `/api/classes${qs({ q })}`),
  images: (p: { offset?: number; limit?: number; q?: string; label?: string; unlabelled?: boolean; failed?: boolean }) =>
    call<ImageList>('GET', `/api/images${qs(p)}`),
  image: (id: number) => call<ImageDetail>('GET', `/api/images/${id}`),
  thumbUrl: (id: number) => `/api/images/${id}/thumbnail`,
  /** a sharper thumbnail made from the original (about `size` px on its longer side) */
  sizedThumbUrl: (id: number, size: number) => `/api/images/${id}/thumbnail?size=${size}`,
  find: (q: string) => call<FindResult>('GET', `/api/search${qs({ q })}`),
  fileUrl: (id: number) => `/api/images/${id}/file`,
  similar: (id: number, o: SearchOptions) => call<SimilarResult>('GET', `/api/similar${qs({ id, ...searchQs(o) })}`),
  histogram: (id: number, metric: string, bins = 40) => call<HistogramResult>('GET', `/api/histogram${qs({ id, metric, bins })}`),
  classify: (file: Blob, o: SearchOptions & { store?: boolean; top?: number }, name = 'image.jpg') => {
    const form = new FormData();
    form.append('file', file, name);
    return call<ClassifyResult>('POST', `/api/classify${qs({ ...searchQs(o), top: o.top, store: o.store ? 'true' : undefined })}`, form);
  },
  /** a map with its points read in binary (14 MB a million rather than ~40 MB of JSON) */
  mapData: async (key: string): Promise<MapData> => {
    const [summary, buf] = await Promise.all([
      call<MapResult>('GET', `/api/map${qs({ key, points: false })}`),
      binary(`/api/map/points${qs({ key })}`),
    ]);
    const n = new DataView(buf).getUint32(0, true);
    return {
      ...summary,
      count: n,
      ids: new Int32Array(buf, 8, n),
      coords: new Float32Array(buf, 8 + 4 * n, 2 * n),
      top1: new Int16Array(buf, 8 + 12 * n, n),
    };
  },
  mapCell: async (key: string, z: number, x: number, y: number): Promise<MapCell> => {
    const buf = await binary(`/api/map/cell${qs({ key, z, x, y })}`);
    const head = new DataView(buf);
    const count = head.getUint32(0, true);
    const page = count > 0 ? await createImageBitmap(new Blob([buf.slice(16 + 8 * count)], { type: 'image/webp' })) : null;
    return {
      total: head.getUint32(4, true),
      tile: head.getUint32(8, true),
      columns: head.getUint32(12, true),
      ids: new Int32Array(buf, 16, count),
      colors: new Uint32Array(buf, 16 + 4 * count, count),
      page,
    };
  },
  computeMap: (p: Record<string, unknown>) => call<JobInfo>('POST', '/api/map', p),
  /** the atlas of the current images, or null until it is built */
  atlas: () =>
    call<AtlasManifest>('GET', '/api/map/atlas').catch((e: unknown) =>
      e instanceof ApiError && e.status === 404 ? null : Promise.reject(e),
    ),
  buildAtlas: () => call<JobInfo>('POST', '/api/map/atlas', {}),
  labels: () => call<LabelsResult>('GET', '/api/labels'),
  setLabel: (ids: number[], label: string) => call<{ changed: number }>('POST', '/api/labels', { ids, label }),
  clearLabels: (ids: number[]) => call<{ changed: number }>('DELETE', '/api/labels', { ids }),
  train: (head: string, k?: number) => call<JobInfo>('POST', '/api/train', { head, ...(k ? { k } : {}) }),
  predictions: () => call<Predictions>('GET', '/api/predictions'),
  jobs: () => call<{ jobs: JobInfo[] }>('GET', '/api/jobs'),
  job: (id: string) => call<JobInfo>('GET', `/api/jobs/${id}`),
  cancelJob: (id: string) => call<JobInfo>('DELETE', `/api/jobs/${id}`),
  index: (folder: string, root: number) => call<JobInfo>('POST', '/api/jobs', { kind: 'index', folder, root }),
};

/** Poll a job until it ends, reporting each state. */
/** A failure as one line for people: the server's message and its code. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  if (e instanceof TypeError) return 'The server cannot be reached (is convlens serve still running?)';
  return e instanceof Error ? e.message : String(e);
}

export async function followJob(id: string, onUpdate: (j: JobInfo) => void, everyMs = 500): Promise<JobInfo> {
  for (;;) {
    const j = await api.job(id);
    onUpdate(j);
    if (j.state === 'done' || j.state === 'failed' || j.state === 'cancelled') return j;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
