/**
 * Equal-width histograms of any values (similarities to a query, zero fractions, ...), with
 * numpy.histogram's conventions: `bins` bins over [min, max] of the finite values (or `range`),
 * the last bin closed on the right, values outside the range and NaN not counted.
 */
import { ConvlensError } from '../core/index.js';

export interface HistogramOptions {
  /** Number of bins (default 20). */
  bins?: number;
  /** [low, high]; default the smallest and largest finite value (±0.5 around a single value). */
  range?: [number, number];
}

export interface Histogram {
  bins: number;
  /** bins + 1 edges, ascending. */
  edges: number[];
  /** Count per bin. */
  counts: number[];
  /** Values counted (finite and in range). */
  total: number;
}

export function histogram(values: ArrayLike<number>, opts: HistogramOptions = {}): Histogram {
  const bins = opts.bins ?? 20;
  if (!(Number.isInteger(bins) && bins > 0)) throw new ConvlensError('E_USAGE', `bins must be a positive integer (got ${bins})`);
  let [lo, hi] = opts.range ?? extent(values);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw new ConvlensError('E_USAGE', `histogram range must be finite with low ≤ high (got ${lo}, ${hi})`);
  }
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
  const counts = new Array<number>(bins).fill(0);
  const scale = bins / (hi - lo);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= lo && v <= hi)) continue; // also drops NaN
    let b = Math.min(bins - 1, Math.floor((v - lo) * scale));
    // the computed bin must agree with the printed edges, whatever the rounding above did
    if (v < edges[b]!) b--;
    else if (b < bins - 1 && v >= edges[b + 1]!) b++;
    counts[b]++;
    total++;
  }
  return { bins, edges, counts, total };
}

function extent(values: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}
