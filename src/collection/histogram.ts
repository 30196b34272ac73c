/**
 * The distribution of scores from a query to every image, computed wherever the embeddings are
 * (this thread, or the search thread): bins from the float32 scores; the min and max exact, so
 * the max is the best `similar` score; with a threshold, how many images a thresholded `similar`
 * returns (the same exact rule).
 */
import { ConvlensError } from '../core/errors.js';
import type { Matrix } from '../core/matrix.js';
import { computeHistogram } from '../plot/histogram.js';
import { exactScore, type ExactIndex, type Metric } from '../search/index.js';

export interface SimilarityHistogram {
  metric: Metric;
  /** images compared (the query itself left out) */
  count: number;
  mean: number;
  /** exact scores of the farthest and closest images (the same numbers `similar` reports) */
  min: number;
  max: number;
  edges: number[];
  counts: number[];
  /** with a threshold: how many images pass it (as a thresholded `similar` returns them) */
  threshold?: number;
  matches?: number;
  /**
   * a large collection's histogram is of a uniform sample (see large.ts): `size` images of `of`,
   * counts scaled to the collection, each within ±`margin` images (95%)
   */
  sample?: { size: number; of: number; margin: number };
}

export interface HistogramOptions {
  metric?: Metric;
  bins?: number;
  threshold?: number;
  /** an image left out (the query itself) */
  excludeId?: number;
}

export async function similarityHistogram(
  index: ExactIndex,
  m: Matrix,
  rowOf: (id: number) => number | undefined,
  q: Float32Array,
  options: HistogramOptions = {},
): Promise<SimilarityHistogram> {
  const metric = options.metric ?? 'cosine';
  const all = await index.scores(q);
  const skip = options.excludeId === undefined ? undefined : rowOf(options.excludeId);
  const n = all.length - (skip === undefined ? 0 : 1);
  if (n <= 0) throw new ConvlensError('E_DB', 'no other images in the collection');
  let sum = 0;
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < all.length; i++) {
    if (i === skip) continue;
    const s = all[i]!;
    sum += s;
    if (lo < 0 || s < all[lo]!) lo = i;
    if (hi < 0 || s > all[hi]!) hi = i;
  }
  const exactAt = (row: number): number => exactScore(metric, q, m.data.subarray(row * m.cols, (row + 1) * m.cols));
  const exclude = options.excludeId === undefined ? [] : [options.excludeId];
  // the closest image as the search reports it; the farthest rescored exactly
  const best = (await index.search(q, { k: 1, exclude }))[0]?.score;
  const [min, max] = metric === 'cosine' ? [exactAt(lo), best ?? exactAt(hi)] : [best ?? exactAt(lo), exactAt(hi)];
  const scores = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < all.length; i++) if (i !== skip) scores[j++] = Math.min(max, Math.max(min, all[i]!));
  const h = computeHistogram(scores, { bins: options.bins ?? 50, range: [min, max] });
  const out: SimilarityHistogram = { metric, count: n, mean: sum / n, min, max, edges: Array.from(h.edges), counts: Array.from(h.counts) };
  if (options.threshold !== undefined) {
    const t = options.threshold;
    const passing = await index.search(q, { exclude, ...(metric === 'cosine' ? { minSimilarity: t } : { maxDistance: t }) });
    out.threshold = t;
    out.matches = passing.length;
  }
  return out;
}
