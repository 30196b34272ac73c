import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matrix } from '../../src/core/index.js';
import { confusionMatrixSvg, svgToPng } from '../../src/plot/index.js';
import { ARTIFACTS, byClass, findAll, parseXml, pngStats } from './helpers.js';

const names = ['daisy', 'dandelion', 'rose', 'sunflower', 'tulip'];
const counts = [
  [140, 3, 2, 4, 1],
  [5, 130, 0, 12, 3],
  [2, 1, 120, 0, 27],
  [1, 9, 0, 138, 2],
  [0, 2, 30, 1, 117],
];

describe('confusionMatrixSvg', () => {
  it('has C² cells with their counts, class names, and the accuracy in the title', async () => {
    const svg = confusionMatrixSvg(counts, names, { title: 'Flowers <softmax>' });
    const doc = parseXml(svg);
    expect(findAll(doc, byClass('cell'))).toHaveLength(25);
    const texts = findAll(doc, byClass('count')).map((t) => t.text);
    expect(texts).toEqual(counts.flat().map(String));
    expect(findAll(doc, byClass('title'))[0]!.text).toBe('Flowers <softmax> — accuracy 86.0% (645/750)');
    const rowLabels = findAll(doc, byClass('row-labels'))[0]!.children.map((t) => t.text);
    expect(rowLabels).toEqual(names);
    // colour follows the row share: the diagonal of a 93% row is darker than a 2% cell
    const cells = findAll(doc, byClass('cell'));
    expect(cells[0]!.attrs.fill).not.toBe(cells[1]!.attrs.fill);

    const png = await svgToPng(svg);
    const s = await pngStats(png);
    expect(s.width).toBe(Number(doc.attrs.width));
    expect(s.nonWhite).toBeGreaterThan(0.2);
    await writeFile(join(ARTIFACTS, 'confusion-5.png'), png);
  });

  it('accepts a Matrix and many classes with long names (rotated labels, no overflow)', async () => {
    const C = 40;
    const m = matrix(C, C);
    for (let t = 0; t < C; t++) for (let p = 0; p < C; p++) m.data[t * C + p] = t === p ? 50 : (t * 7 + p) % 13 === 0 ? 3 : 0;
    const longNames = Array.from({ length: C }, (_, i) => `n0${1440000 + i} a long WordNet-style class name ${i}`);
    const svg = confusionMatrixSvg(m, longNames, { accuracy: 0.9 });
    const doc = parseXml(svg);
    expect(findAll(doc, byClass('cell'))).toHaveLength(C * C);
    expect(findAll(doc, byClass('title'))[0]!.text).toBe('Confusion matrix — accuracy 90.0%');
    const png = await svgToPng(svg);
    await writeFile(join(ARTIFACTS, 'confusion-40.png'), png);
    expect((await pngStats(png)).stdev).toBeGreaterThan(10);
  });

  it('rejects mismatched shapes and bad counts', () => {
    expect(() => confusionMatrixSvg(counts, names.slice(0, 4))).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT' }));
    expect(() =>
      confusionMatrixSvg(
        [
          [1, -1],
          [0, 1],
        ],
        ['a', 'b'],
      ),
    ).toThrow(/\[0\]\[1\]/);
  });
});
