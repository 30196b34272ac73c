/**
 * Deterministic stratified splits. Same labels + same seed = same split, on every machine.
 *
 * `groups` keeps rows that belong together on one side: pass the source-image id of each row when
 * training rows include augmented copies (flips, crops) of the same photo, otherwise validation
 * rows have near-twins in training and the scores (and anything chosen by them, like k or the
 * regularisation) are optimistic.
 */
import { ConvlensError, matrix, Random, type Matrix } from '../core/index.js';
import { gatherRows } from './linalg.js';

export interface SplitOptions {
  seed?: number;
  groups?: ArrayLike<number>;
}

export interface TrainValSplit {
  /** Row indices, ascending. */
  train: number[];
  val: number[];
}

interface Unit {
  rows: number[];
  label: string;
}

/** Rows grouped into units (one per row, or one per group id), then units bucketed by label. */
function unitsByLabel(labels: ArrayLike<string | number>, groups?: ArrayLike<number>): Unit[][] {
  const units: Unit[] = [];
  if (groups) {
    if (groups.length !== labels.length) {
      throw new ConvlensError('E_BAD_INPUT', `${groups.length} group ids for ${labels.length} labels`);
    }
    const byGroup = new Map<number, Unit>();
    for (let i = 0; i < labels.length; i++) {
      let u = byGroup.get(groups[i]!);
      if (!u) {
        u = { rows: [], label: String(labels[i]) };
        byGroup.set(groups[i]!, u);
        units.push(u);
      }
      u.rows.push(i);
    }
  } else {
    for (let i = 0; i < labels.length; i++) units.push({ rows: [i], label: String(labels[i]) });
  }
  const byLabel = new Map<string, Unit[]>();
  for (const u of units) {
    const list = byLabel.get(u.label);
    if (list) list.push(u);
    else byLabel.set(u.label, [u]);
  }
  return [...byLabel.keys()].sort().map((k) => byLabel.get(k)!);
}

/**
 * Stratified train / validation split: in each class, a seeded shuffle puts round(n × valFraction)
 * of its rows (or groups) in validation, keeping at least one in training.
 */
export function stratifiedSplit(labels: ArrayLike<string | number>, valFraction = 0.2, options: SplitOptions = {}): TrainValSplit {
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new ConvlensError('E_USAGE', `validation fraction must be in [0, 1), got ${valFraction}`);
  }
  const rng = new Random(options.seed ?? 42);
  const train: number[] = [];
  const val: number[] = [];
  for (const units of unitsByLabel(labels, options.groups)) {
    rng.shuffle(units);
    const nVal = Math.min(Math.round(units.length * valFraction), units.length - 1);
    units.forEach((u, j) => (j < nVal ? val : train).push(...u.rows));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}

/**
 * Stratified k-fold: returns, per fold, the validation row indices (ascending). Each class's rows
 * (or groups) are shuffled and dealt round-robin, continuing across classes so folds stay even.
 */
export function stratifiedKFold(labels: ArrayLike<string | number>, folds: number, options: SplitOptions = {}): number[][] {
  if (!Number.isInteger(folds) || folds < 2) throw new ConvlensError('E_USAGE', `folds must be an integer ≥ 2, got ${folds}`);
  const rng = new Random(options.seed ?? 42);
  const out: number[][] = Array.from({ length: folds }, () => []);
  let next = 0;
  for (const units of unitsByLabel(labels, options.groups)) {
    rng.shuffle(units);
    for (const u of units) {
      out[next]!.push(...u.rows);
      next = (next + 1) % folds;
    }
  }
  return out.map((f) => f.sort((a, b) => a - b));
}

/** The complement of `val` in 0..n-1, ascending. */
export function complement(n: number, val: readonly number[]): number[] {
  const mark = new Uint8Array(n);
  for (const i of val) mark[i] = 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!mark[i]) out.push(i);
  return out;
}

/** The listed rows of `m` as a new matrix (e.g. the two sides of a split). */
export function selectRows(m: Matrix, rows: readonly number[]): Matrix {
  return matrix(rows.length, m.cols, gatherRows(m.data, m.cols, rows));
}
