/**
 * Training inputs: label encoding and the checks every head runs before fitting.
 */
import { ConvlensError, type Matrix } from '../core/index.js';

export interface EncodedLabels {
  classes: string[];
  /** Class index per row. */
  y: Int32Array;
}

/**
 * Map string labels to class indices. Classes are `classes` when given (every label must be one
 * of them), else the distinct labels sorted by code unit, so the order does not depend on the
 * row order or the locale.
 */
export function encodeLabels(labels: readonly string[], classes?: readonly string[]): EncodedLabels {
  const names = classes ? [...classes] : [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (new Set(names).size !== names.length) throw new ConvlensError('E_BAD_INPUT', 'class names must be distinct');
  const index = new Map(names.map((c, i) => [c, i]));
  const y = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    const k = index.get(l);
    if (k === undefined) throw new ConvlensError('E_BAD_INPUT', `label '${l}' (row ${i}) is not one of the classes ${names.join(', ')}`);
    y[i] = k;
  });
  return { classes: names, y };
}

/** Reject inputs no head can learn from, with messages that say which row or what is wrong. */
export function checkTrainingData(x: Matrix, labels: readonly string[], groups?: ArrayLike<number>): void {
  if (x.rows === 0) throw new ConvlensError('E_BAD_INPUT', 'no training rows');
  if (x.cols === 0) throw new ConvlensError('E_BAD_INPUT', 'embeddings have zero width');
  if (labels.length !== x.rows) {
    throw new ConvlensError('E_BAD_INPUT', `${labels.length} labels for ${x.rows} embedding rows`);
  }
  if (groups !== undefined && groups.length !== x.rows) {
    throw new ConvlensError('E_BAD_INPUT', `${groups.length} group ids for ${x.rows} embedding rows`);
  }
  for (let i = 0; i < x.data.length; i++) {
    if (!Number.isFinite(x.data[i]!)) {
      throw new ConvlensError('E_BAD_INPUT', `embedding row ${Math.floor(i / x.cols)} has a non-finite value`);
    }
  }
  if (new Set(labels).size < 2) throw new ConvlensError('E_BAD_INPUT', 'need at least 2 classes to train a classifier');
}
