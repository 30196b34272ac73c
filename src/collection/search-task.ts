/**
 * Exact search on a worker thread (core/tasks.ts): the server's event loop never runs a scoring
 * matrix product. The embeddings move here once (their buffer is transferred, not copied, and
 * the caller keeps none); queries and their answers are small.
 */
import type { TaskContext } from '../core/tasks.js';
import { matrix, type Matrix } from '../core/matrix.js';
import { ExactIndex, type Metric, type Neighbour, type SearchOptions } from '../search/index.js';
import { similarityHistogram, type HistogramOptions, type SimilarityHistogram } from './histogram.js';

let data: { m: Matrix; ids: Int32Array; rowById: Map<number, number> } | null = null;
const indexes = new Map<Metric, ExactIndex>();

function index(metric: Metric): ExactIndex {
  if (!data) throw new Error('no embeddings loaded');
  let i = indexes.get(metric);
  if (!i) {
    i = new ExactIndex(data.m, { metric, ids: data.ids });
    indexes.set(metric, i);
  }
  return i;
}

export function load(input: { data: Float32Array; rows: number; cols: number; ids: Int32Array }, _ctx: TaskContext): number {
  data = { m: matrix(input.rows, input.cols, input.data), ids: input.ids, rowById: new Map(Array.from(input.ids, (id, row) => [id, row])) };
  indexes.clear();
  return input.rows;
}

type Options = Omit<SearchOptions, 'exclude'> & { exclude?: number[] };

export function search(input: { metric: Metric; q: Float32Array; options: Options }, _ctx: TaskContext): Promise<Neighbour[]> {
  return index(input.metric).search(input.q, input.options);
}

export function searchBatch(
  input: { metric: Metric; qs: Float32Array; rows: number; options: Options },
  _ctx: TaskContext,
): Promise<Neighbour[][]> {
  const i = index(input.metric);
  return i.searchBatch(matrix(input.rows, i.dims, input.qs), input.options);
}

export function histogram(input: { q: Float32Array; options: HistogramOptions }, _ctx: TaskContext): Promise<SimilarityHistogram> {
  const d = data!;
  return similarityHistogram(index(input.options.metric ?? 'cosine'), d.m, (id) => d.rowById.get(id), input.q, input.options);
}
