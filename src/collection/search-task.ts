/**
 * Exact search on a worker thread (core/tasks.ts): the server's event loop never runs a scoring
 * matrix product. The embeddings arrive once on a SharedArrayBuffer (read in place, no copy);
 * queries and their answers are small.
 */
import type { TaskContext } from '../core/tasks.js';
import { matrix, type Matrix } from '../core/matrix.js';
import { ExactIndex, type Metric, type Neighbor, type SearchOptions } from '../search/index.js';

let data: { m: Matrix; ids: Int32Array } | null = null;
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
  data = { m: matrix(input.rows, input.cols, input.data), ids: input.ids };
  indexes.clear();
  return input.rows;
}

type Options = Omit<SearchOptions, 'exclude'> & { exclude?: number[] };

export function search(input: { metric: Metric; q: Float32Array; options: Options }, _ctx: TaskContext): Promise<Neighbor[]> {
  return index(input.metric).search(input.q, input.options);
}

export function searchBatch(input: { metric: Metric; qs: Float32Array; rows: number; options: Options }, _ctx: TaskContext): Promise<Neighbor[][]> {
  const i = index(input.metric);
  return i.searchBatch(matrix(input.rows, i.dims, input.qs), input.options);
}

export function scores(input: { metric: Metric; q: Float32Array }, _ctx: TaskContext): Promise<Float32Array> {
  return index(input.metric).scores(input.q);
}
