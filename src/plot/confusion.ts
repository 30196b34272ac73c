/**
 * Confusion matrix heatmap: rows are true classes, columns predicted ones; each cell shows its
 * count and is coloured by its share of the row (so rare classes are as readable as common ones).
 */
import { ConvlensError, type Matrix } from '../core/index.js';
import { blues, luminance } from './palette.js';
import { baseFontSize, checkSize, num, rect, svgOpen, text, textWidth, truncate } from './svg.js';

export interface ConfusionOptions {
  /** Default "Confusion matrix"; the accuracy is appended. */
  title?: string;
  /** Shown in the title; default: diagonal / total. */
  accuracy?: number;
  /** Canvas width in px (default grows with the class count, 800..3000); the height follows. */
  width?: number;
  xLabel?: string;
  yLabel?: string;
}

/** `counts[t][p]`: items of true class t predicted as p (C×C, as number[][] or a Matrix). */
export function confusionMatrixSvg(
  counts: ReadonlyArray<ArrayLike<number>> | Matrix,
  classNames: readonly string[],
  options: ConfusionOptions = {},
): string {
  const C = classNames.length;
  const cell = (t: number, p: number): number =>
    'data' in counts && 'rows' in counts ? counts.data[t * counts.cols + p]! : (counts as ReadonlyArray<ArrayLike<number>>)[t]![p]!;
  const rowsOk =
    'data' in counts && 'rows' in counts
      ? counts.rows === C && counts.cols === C
      : (counts as ReadonlyArray<ArrayLike<number>>).length === C &&
        (counts as ReadonlyArray<ArrayLike<number>>).every((r) => r.length === C);
  if (C === 0 || !rowsOk) {
    throw new ConvlensError('E_BAD_INPUT', `confusion matrix: counts must be ${C}×${C} for ${C} class names`);
  }
  let total = 0;
  let correct = 0;
  const rowSum = new Float64Array(C);
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const v = cell(t, p);
      if (!(Number.isFinite(v) && v >= 0)) throw new ConvlensError('E_BAD_INPUT', `confusion matrix: cell [${t}][${p}] is ${v}`);
      rowSum[t] += v;
      total += v;
      if (t === p) correct += v;
    }
  }
  const accuracy = options.accuracy ?? (total > 0 ? correct / total : 0);

  const W = checkSize('width', options.width ?? Math.min(3000, Math.max(800, 360 + 56 * C)));
  const fs = baseFontSize(W, W * 0.8);
  const margin = fs;
  const titleText =
    `${options.title ?? 'Confusion matrix'} — accuracy ${(accuracy * 100).toFixed(1)}%` +
    (options.accuracy === undefined ? ` (${correct}/${total})` : '');
  const titleFs = 1.3 * fs;
  const top = margin + titleFs * 1.4 + 0.6 * fs;
  const colorbarW = 1.2 * fs + 0.5 * fs + textWidth('100%', 0.8 * fs) + margin;
  const axisW = 1.6 * fs; // rotated "true class"

  // Cell size depends on the row-label width, which depends on the label font, which the cell
  // size caps: two passes settle it.
  const maxLabelW = 0.28 * W;
  let cellSize = (W - 2 * margin - axisW - colorbarW) / C;
  let labelFs = fs;
  let rowLabelW = 0;
  for (let pass = 0; pass < 2; pass++) {
    labelFs = Math.min(fs, 0.8 * cellSize);
    rowLabelW = Math.min(maxLabelW, Math.max(...classNames.map((n) => textWidth(n, labelFs))));
    cellSize = (W - 2 * margin - axisW - rowLabelW - 0.5 * fs - colorbarW) / C;
  }
  if (cellSize < 2) throw new ConvlensError('E_USAGE', `confusion matrix: ${C} classes do not fit in ${W} px; give a larger width`);
  const gridX = margin + axisW + rowLabelW + 0.5 * fs;
  const gridY = top;
  const gridSize = cellSize * C;

  const colLabels = classNames.map((n) => truncate(n, labelFs, maxLabelW));
  const colW = Math.max(...colLabels.map((l) => textWidth(l, labelFs)));
  const rotate = colW > 0.9 * cellSize;
  // rotated labels need their spacing (cell × sin 45°) to be at least the line height
  const colFs = rotate ? Math.min(labelFs, 0.65 * cellSize) : labelFs;
  const colLabelsH = rotate ? Math.max(...colLabels.map((l) => textWidth(l, colFs))) * 0.71 + colFs : 1.5 * colFs;
  const H = Math.round(gridY + gridSize + 0.4 * fs + colLabelsH + 1.8 * fs + margin);

  const parts: string[] = [svgOpen(W, H)];
  parts.push(
    text(W / 2, margin, truncate(titleText, titleFs, W - 2 * margin), {
      size: titleFs,
      anchor: 'middle',
      weight: 'bold',
      baseline: 'hanging',
      className: 'title',
    }),
  );

  parts.push('<g class="cells">');
  for (let t = 0; t < C; t++) {
    for (let p = 0; p < C; p++) {
      const v = cell(t, p);
      const share = rowSum[t]! > 0 ? v / rowSum[t]! : 0;
      const fill = blues(share);
      const x = gridX + p * cellSize;
      const y = gridY + t * cellSize;
      parts.push(
        `<rect class="cell" x="${num(x, 2)}" y="${num(y, 2)}" width="${num(cellSize, 2)}" height="${num(cellSize, 2)}" fill="${fill}"/>`,
      );
      const label = String(Math.round(v * 100) / 100);
      const cfs = Math.min(1.2 * fs, 0.42 * cellSize, (0.85 * cellSize) / (0.62 * label.length));
      if (cfs >= 7) {
        // zeros in grey so the errors that do exist stand out
        const ink = v === 0 ? '#b0b0b0' : luminance(fill) < 0.5 ? '#ffffff' : '#222222';
        parts.push(
          text(x + cellSize / 2, y + cellSize / 2, label, {
            size: cfs,
            anchor: 'middle',
            baseline: 'middle',
            fill: ink,
            className: 'count',
          }),
        );
      }
    }
  }
  parts.push('</g>');
  const frame = num(Math.max(1, fs / 16));
  parts.push(rect(gridX, gridY, gridSize, gridSize, `fill="none" stroke="#888888" stroke-width="${frame}"`));

  parts.push('<g class="row-labels">');
  classNames.forEach((n, t) => {
    parts.push(
      text(gridX - 0.4 * fs, gridY + (t + 0.5) * cellSize, truncate(n, labelFs, maxLabelW), {
        size: labelFs,
        anchor: 'end',
        baseline: 'middle',
        fill: '#222222',
      }),
    );
  });
  parts.push('</g><g class="col-labels">');
  colLabels.forEach((l, p) => {
    const x = gridX + (p + 0.5) * cellSize;
    const y = gridY + gridSize + 0.4 * fs;
    parts.push(
      rotate
        ? text(x, y + 0.5 * colFs, l, { size: colFs, anchor: 'end', baseline: 'middle', rotate: -45, fill: '#222222' })
        : text(x, y, l, { size: colFs, anchor: 'middle', baseline: 'hanging', fill: '#222222' }),
    );
  });
  parts.push('</g>');

  parts.push(
    text(gridX + gridSize / 2, H - margin, options.xLabel ?? 'predicted class', {
      size: fs,
      anchor: 'middle',
      fill: '#222222',
      className: 'axis-label',
    }),
  );
  parts.push(
    text(margin + fs, gridY + gridSize / 2, options.yLabel ?? 'true class', {
      size: fs,
      anchor: 'middle',
      rotate: -90,
      fill: '#222222',
      className: 'axis-label',
    }),
  );

  // colour bar: share of the true class
  const cbX = gridX + gridSize + 1.2 * fs;
  const cbW = 0.9 * fs;
  const stops = [0, 0.25, 0.5, 0.75, 1].map((s) => `<stop offset="${s}" stop-color="${blues(1 - s)}"/>`).join('');
  parts.push(`<defs><linearGradient id="cb" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`);
  parts.push(`<g class="colorbar">${rect(cbX, gridY, cbW, gridSize, `fill="url(#cb)" stroke="#888888" stroke-width="${frame}"`)}`);
  for (const s of [0, 0.5, 1]) {
    parts.push(
      text(cbX + cbW + 0.3 * fs, gridY + (1 - s) * gridSize, `${s * 100}%`, { size: 0.8 * fs, baseline: 'middle', fill: '#444444' }),
    );
  }
  parts.push('</g></svg>');
  return parts.join('');
}
