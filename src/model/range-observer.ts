/**
 * The range of one activation tensor over a calibration set, as min/max and as a histogram, so a
 * quantizer can clip rare outliers (a percentile) instead of spending its 256 levels on them.
 *
 * The histogram has a fixed number of bins over [0, limit) for each sign; when a value beyond the
 * limit arrives, the limit doubles and neighbouring bins merge, so one pass suffices and no bin
 * boundary is ever approximated.
 */
import type { TensorRange } from './quantize.js';

const BINS = 4096;

/** How a tensor's quantization range is chosen from what calibration saw. */
export type RangeMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

export function parseRangeMethod(s: string): RangeMethod | null {
  if (s === 'minmax') return { kind: 'minmax' };
  const m = /^p(\d{2}(?:\.\d+)?)$/.exec(s);
  const p = m ? Number(m[1]) : NaN;
  return p >= 90 && p < 100 ? { kind: 'percentile', percentile: p } : null;
}

export const rangeMethodName = (m: RangeMethod): string => (m.kind === 'minmax' ? 'minmax' : `p${m.percentile}`);

class SignedHistogram {
  readonly bins = new Float64Array(BINS);
  limit = 0;

  grow(needed: number): void {
    if (this.limit === 0) {
      this.limit = needed;
      return;
    }
    while (this.limit < needed) {
      for (let i = 0; i < BINS / 2; i++) this.bins[i] = this.bins[2 * i]! + this.bins[2 * i + 1]!;
      this.bins.fill(0, BINS / 2);
      this.limit *= 2;
    }
  }

  /** The smallest bin edge with at most `tail` values above it. */
  edgeAbove(tail: number): number {
    let above = 0;
    for (let i = BINS - 1; i >= 0; i--) {
      above += this.bins[i]!;
      if (above > tail) return ((i + 1) / BINS) * this.limit;
    }
    return 0;
  }
}

export class RangeObserver {
  min = Infinity;
  max = -Infinity;
  count = 0;
  private readonly positive = new SignedHistogram();
  private readonly negative = new SignedHistogram();
  /** min/max needs no histogram (and is then 3× cheaper to observe) */
  private readonly histogram: boolean;

  constructor(method: RangeMethod) {
    this.histogram = method.kind !== 'minmax';
  }

  observe(data: Float32Array): void {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      if (v !== v) throw new RangeError('NaN activation');
    }
    if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError('infinite activation');
    this.min = Math.min(this.min, min);
    this.max = Math.max(this.max, max);
    this.count += data.length;
    if (!this.histogram) return;
    if (max > 0) this.positive.grow(max);
    if (min < 0) this.negative.grow(-min);
    const pos = this.positive.bins;
    const neg = this.negative.bins;
    const pScale = this.positive.limit > 0 ? BINS / this.positive.limit : 0;
    const nScale = this.negative.limit > 0 ? BINS / this.negative.limit : 0;
    const last = BINS - 1;
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v >= 0) pos[Math.min(last, Math.floor(v * pScale))]!++;
      else neg[Math.min(last, Math.floor(-v * nScale))]!++;
    }
  }

  /** A batch's minimum and maximum only (enough for min/max ranges). */
  observeExtremes(min: number, max: number, count: number): void {
    if (!Number.isFinite(min) || !Number.isFinite(max))
      throw new RangeError(Number.isNaN(min + max) ? 'NaN activation' : 'infinite activation');
    if (this.histogram) throw new RangeError('a histogram needs every value');
    this.min = Math.min(this.min, min);
    this.max = Math.max(this.max, max);
    this.count += count;
  }

  range(method: RangeMethod): TensorRange {
    if (this.count === 0) throw new RangeError('no values observed');
    if (method.kind === 'minmax') return { min: this.min, max: this.max };
    if (!this.histogram) throw new RangeError('this observer kept no histogram');
    const tail = ((100 - method.percentile) / 100) * this.count;
    return {
      min: this.min < 0 ? Math.max(this.min, -this.negative.edgeAbove(tail)) : this.min,
      max: this.max > 0 ? Math.min(this.max, this.positive.edgeAbove(tail)) : this.max,
    };
  }
}
