/**
 * The 1000 ImageNet classes in Keras order (index, WordNet id, label), from
 * assets/imagenet-classes.tsv (matches the weights' assets/labels.json), and
 * Keras' `decode_predictions`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConvlensError } from '../core/errors.js';

export interface ImagenetClass {
  index: number;
  wnid: string;
  label: string;
}

export interface Prediction extends ImagenetClass {
  probability: number;
}

const CLASSES_FILE = fileURLToPath(new URL('../../assets/imagenet-classes.tsv', import.meta.url));

let cached: readonly ImagenetClass[] | undefined;

export function imagenetClasses(): readonly ImagenetClass[] {
  if (cached) return cached;
  const lines = readFileSync(CLASSES_FILE, 'utf8').trim().split('\n').slice(1);
  const classes = lines.map((line, i) => {
    const [index, wnid, label] = line.split('\t');
    if (Number(index) !== i || !wnid || !label) throw new ConvlensError('E_MODEL', `${CLASSES_FILE}: bad line ${i + 2}`);
    return { index: i, wnid, label };
  });
  if (classes.length !== 1000) throw new ConvlensError('E_MODEL', `${CLASSES_FILE}: ${classes.length} classes, expected 1000`);
  cached = Object.freeze(classes);
  return cached;
}

/** Indices of the `top` largest values, largest first (ties: lower index first). */
export function topIndices(values: ArrayLike<number>, top: number): number[] {
  const k = Math.min(top, values.length);
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (best.length === k && v <= values[best[k - 1]!]!) continue;
    let pos = best.length === k ? k - 1 : best.length;
    while (pos > 0 && values[best[pos - 1]!]! < v) pos--;
    best.splice(pos, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Keras `decode_predictions` for one image's 1000 probabilities. */
export function decodePredictions(probabilities: ArrayLike<number>, top = 5): Prediction[] {
  const classes = imagenetClasses();
  if (probabilities.length !== classes.length) {
    throw new ConvlensError('E_USAGE', `decodePredictions expects ${classes.length} probabilities, got ${probabilities.length}`);
  }
  return topIndices(probabilities, top).map((i) => ({ ...classes[i]!, probability: probabilities[i]! }));
}

/** Classes whose label or WordNet id contains the text (case-insensitive), e.g. for a search box. */
export function findClasses(text: string): ImagenetClass[] {
  const q = text.trim().toLowerCase().replace(/\s+/g, '_');
  if (!q) return [];
  return imagenetClasses().filter((c) => c.label.toLowerCase().includes(q) || c.wnid === q);
}
