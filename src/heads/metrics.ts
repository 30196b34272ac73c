/**
 * Classification metrics: accuracy, per-class precision / recall / F1 / support, macro and
 * support-weighted averages, confusion matrix; as a JSON-ready object and as text in the layout
 * of scikit-learn's classification_report.
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import type { Head } from './types.js';

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true label is this class. */
  support: number;
}

export interface AverageMetrics {
  precision: number;
  recall: number;
  f1: number;
}

export interface EvaluationReport {
  n: number;
  accuracy: number;
  classes: ClassMetrics[];
  /** Unweighted mean over the labels that occur (true or predicted), as scikit-learn's default. */
  macro: AverageMetrics;
  /** Mean weighted by support. */
  weighted: AverageMetrics;
  /** matrix[t][p] = rows with true label labels[t] predicted as labels[p]. */
  confusion: { labels: string[]; matrix: number[][] };
}

/**
 * Compare true and predicted labels. Rows and columns follow `classes` (e.g. the head's class
 * order) when given, then any other label met, sorted; without `classes`, all labels sorted.
 * Undefined ratios (no predictions for a class, no true rows) count as 0, like scikit-learn's
 * zero_division=0.
 */
export function evaluate(yTrue: readonly string[], yPred: readonly string[], classes?: readonly string[]): EvaluationReport {
  if (yTrue.length !== yPred.length) {
    throw new ConvlensError('E_BAD_INPUT', `${yTrue.length} true labels but ${yPred.length} predictions`);
  }
  const n = yTrue.length;
  const known = new Set(classes ?? []);
  const extra = [...new Set([...yTrue, ...yPred])].filter((l) => !known.has(l)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const labels = [...(classes ?? []), ...extra];
  const index = new Map(labels.map((l, i) => [l, i]));
  const c = labels.length;
  const cm = Array.from({ length: c }, () => new Array<number>(c).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const t = index.get(yTrue[i]!)!;
    const p = index.get(yPred[i]!)!;
    cm[t]![p]!++;
    if (t === p) correct++;
  }
  const perClass: ClassMetrics[] = labels.map((label, k) => {
    const tp = cm[k]![k]!;
    const support = cm[k]!.reduce((a, b) => a + b, 0);
    const predicted = cm.reduce((a, r) => a + r[k]!, 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  const present = perClass.filter((m, k) => m.support > 0 || cm.some((r) => r[k]! > 0));
  const mean = (f: (m: ClassMetrics) => number): number =>
    present.length > 0 ? present.reduce((a, m) => a + f(m), 0) / present.length : 0;
  const wmean = (f: (m: ClassMetrics) => number): number => (n > 0 ? perClass.reduce((a, m) => a + f(m) * m.support, 0) / n : 0);
  return {
    n,
    accuracy: n > 0 ? correct / n : 0,
    classes: perClass,
    macro: { precision: mean((m) => m.precision), recall: mean((m) => m.recall), f1: mean((m) => m.f1) },
    weighted: { precision: wmean((m) => m.precision), recall: wmean((m) => m.recall), f1: wmean((m) => m.f1) },
    confusion: { labels, matrix: cm },
  };
}

/** Predict with a head and evaluate against true labels, in the head's class order. */
export function evaluateHead(head: Head, x: Matrix, labels: readonly string[]): EvaluationReport {
  return evaluate(
    labels,
    head.predict(x).map((p) => p.label),
    head.classes,
  );
}

/** The report as text: scikit-learn's classification_report table, then the confusion matrix. */
export function formatReport(r: EvaluationReport, digits = 2): string {
  const width = Math.max('weighted avg'.length, ...r.classes.map((m) => m.label.length));
  const num = (v: number): string => v.toFixed(digits).padStart(9);
  const lines: string[] = [];
  lines.push(
    `${''.padStart(width)}  ${'precision'.padStart(9)} ${'recall'.padStart(9)} ${'f1-score'.padStart(9)} ${'support'.padStart(9)}`,
    '',
  );
  for (const m of r.classes) {
    lines.push(`${m.label.padStart(width)}  ${num(m.precision)} ${num(m.recall)} ${num(m.f1)} ${String(m.support).padStart(9)}`);
  }
  lines.push('');
  lines.push(`${'accuracy'.padStart(width)}  ${''.padStart(9)} ${''.padStart(9)} ${num(r.accuracy)} ${String(r.n).padStart(9)}`);
  for (const [name, a] of [
    ['macro avg', r.macro],
    ['weighted avg', r.weighted],
  ] as const) {
    lines.push(`${name.padStart(width)}  ${num(a.precision)} ${num(a.recall)} ${num(a.f1)} ${String(r.n).padStart(9)}`);
  }
  lines.push('', 'confusion matrix (rows: true, columns: predicted)');
  const { labels, matrix } = r.confusion;
  const maxCount = Math.max(0, ...matrix.flat());
  const cols = labels.map((l) => Math.max(l.length, String(maxCount).length));
  const lw = Math.max(...labels.map((l) => l.length));
  lines.push(`${''.padStart(lw)}  ${labels.map((l, k) => l.padStart(cols[k]!)).join('  ')}`);
  matrix.forEach((row, t) => lines.push(`${labels[t]!.padStart(lw)}  ${row.map((v, k) => String(v).padStart(cols[k]!)).join('  ')}`));
  return lines.join('\n') + '\n';
}
