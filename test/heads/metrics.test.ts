import { describe, expect, it } from 'vitest';
import { evaluate, formatReport } from '../../src/heads/index.js';

describe('evaluate', () => {
  // true a a a b b c / predicted a a b b c c, checked by hand and against scikit-learn 1.2
  const yTrue = ['a', 'a', 'a', 'b', 'b', 'c'];
  const yPred = ['a', 'a', 'b', 'b', 'c', 'c'];

  it('computes accuracy, per-class and averaged metrics and the confusion matrix', () => {
    const r = evaluate(yTrue, yPred);
    expect(r.n).toBe(6);
    expect(r.accuracy).toBeCloseTo(4 / 6, 12);
    expect(r.confusion).toEqual({
      labels: ['a', 'b', 'c'],
      matrix: [
        [2, 1, 0],
        [0, 1, 1],
        [0, 0, 1],
      ],
    });
    const [a, b, c] = r.classes;
    expect(a).toEqual({ label: 'a', precision: 1, recall: 2 / 3, f1: expect.closeTo(0.8, 12), support: 3 });
    expect(b).toEqual({ label: 'b', precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(c).toEqual({ label: 'c', precision: 0.5, recall: 1, f1: expect.closeTo(2 / 3, 12), support: 1 });
    expect(r.macro.precision).toBeCloseTo(2 / 3, 12);
    expect(r.macro.recall).toBeCloseTo(13 / 18, 12);
    expect(r.macro.f1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
    expect(r.weighted.precision).toBeCloseTo(0.75, 12);
    expect(r.weighted.recall).toBeCloseTo(4 / 6, 12);
    expect(r.weighted.f1).toBeCloseTo((3 * 0.8 + 2 * 0.5 + 2 / 3) / 6, 12);
  });

  it('renders the table exactly like scikit-learn, then the confusion matrix', () => {
    const text = formatReport(evaluate(yTrue, yPred));
    const sklearn =
      '              precision    recall  f1-score   support\n\n           a       1.00      0.67      0.80         3\n' +
      '           b       0.50      0.50      0.50         2\n           c       0.50      1.00      0.67         1\n\n' +
      '    accuracy                           0.67         6\n   macro avg       0.67      0.72      0.66         6\n' +
      'weighted avg       0.75      0.67      0.68         6\n';
    expect(text.startsWith(sklearn)).toBe(true);
    expect(text.slice(sklearn.length)).toBe(
      '\nconfusion matrix (rows: true, columns: predicted)\n   a  b  c\na  2  1  0\nb  0  1  1\nc  0  0  1\n',
    );
  });

  it('follows the given class order, appends unknown labels, and counts undefined ratios as 0', () => {
    const r = evaluate(['x', 'y', 'new'], ['y', 'y', 'x'], ['y', 'x', 'unused']);
    expect(r.confusion.labels).toEqual(['y', 'x', 'unused', 'new']);
    expect(r.confusion.matrix).toEqual([
      [1, 0, 0, 0],
      [1, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 1, 0, 0],
    ]);
    const byLabel = Object.fromEntries(r.classes.map((m) => [m.label, m]));
    expect(byLabel['x']).toEqual({ label: 'x', precision: 0, recall: 0, f1: 0, support: 1 });
    expect(byLabel['unused']!.support).toBe(0);
    // macro over labels that occur (y, x, new), as scikit-learn does without `labels`
    expect(r.macro.recall).toBeCloseTo(1 / 3, 12);
    expect(r.accuracy).toBeCloseTo(1 / 3, 12);
  });

  it('handles empty input and rejects mismatched lengths', () => {
    expect(evaluate([], []).accuracy).toBe(0);
    expect(() => evaluate(['a'], [])).toThrow(/1 true labels but 0 predictions/);
  });
});
