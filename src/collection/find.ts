/**
 * Finding images by text: the words people type ("rose", "egyptian cat", "2024") matched against
 * everything a collection knows by name — the labels given to images, the classes a trained head
 * predicts, the ImageNet top-1 classes and the file paths (folder names included) — each match
 * kept with its kind, so a user sees why an image was found.
 */
import { imagenetClasses } from '../imagenet/classes.js';

export type FindKind = 'label' | 'prediction' | 'class' | 'path';

/** What the images are called, by id. */
export interface FindSource {
  /** every image to search */
  ids: readonly number[];
  /** relative path (with its folders) */
  path(id: number): string;
  /** ImageNet top-1 class index, -1 when none */
  top1(id: number): number;
  labels: ReadonlyMap<number, string>;
  /** the trained head's predicted class, when there is one */
  prediction?: (id: number) => string | null;
}

export interface FindGroup {
  kind: FindKind;
  /** the label, class or predicted class matched; for paths, the text searched */
  name: string;
  /** ImageNet index (class matches) */
  index?: number;
  ids: number[];
}

export interface FindOptions {
  /** groups of one kind at most (default 20; paths are one group) */
  maxPerKind?: number;
}

/** Lower case, with runs of spaces, underscores and hyphens as one space ("Egyptian_cat" ~ "egyptian cat"). */
export function normaliseName(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();
}

/**
 * The groups of images matching a text, by kind: labels, then predicted classes, then ImageNet
 * classes (most images first, exact names before partial ones), then file paths. Empty text, or
 * nothing found: [].
 */
export function findImages(text: string, source: FindSource, options: FindOptions = {}): FindGroup[] {
  const q = normaliseName(text);
  if (!q) return [];
  const max = options.maxPerKind ?? 20;
  const matches = (name: string): boolean => normaliseName(name).includes(q);
  /** ids grouped by a name (a key and its name: ImageNet labels are not unique, "crane" is two classes) */
  const grouped = (kind: FindKind, keyOf: (id: number) => string | number | null | undefined, nameOf: (key: string | number) => string) => {
    const byKey = new Map<string | number, number[]>();
    const hit = new Map<string | number, boolean>();
    for (const id of source.ids) {
      const key = keyOf(id);
      if (key === null || key === undefined || key === '' || key === -1) continue;
      let ok = hit.get(key);
      if (ok === undefined) hit.set(key, (ok = matches(nameOf(key))));
      if (!ok) continue;
      const list = byKey.get(key);
      if (list) list.push(id);
      else byKey.set(key, [id]);
    }
    return [...byKey.entries()]
      .map(([key, ids]): FindGroup => ({ kind, name: nameOf(key), ...(typeof key === 'number' ? { index: key } : {}), ids }))
      .sort(
        (a, b) =>
          rank(a.name, q) - rank(b.name, q) ||
          b.ids.length - a.ids.length ||
          a.name.localeCompare(b.name) ||
          (a.index ?? 0) - (b.index ?? 0),
      )
      .slice(0, max);
  };
  const classes = imagenetClasses();
  const same = (k: string | number): string => String(k);
  const out: FindGroup[] = [
    ...grouped('label', (id) => source.labels.get(id), same),
    ...(source.prediction ? grouped('prediction', source.prediction, same) : []),
    ...grouped(
      'class',
      (id) => source.top1(id),
      (k) => classes[k as number]!.label,
    ),
  ];
  const byPath = source.ids.filter((id) => normaliseName(source.path(id)).includes(q));
  if (byPath.length > 0) out.push({ kind: 'path', name: text.trim(), ids: byPath });
  return out;
}

/** Exact names first, then names starting with the text, then the rest. */
function rank(name: string, q: string): number {
  const n = normaliseName(name);
  return n === q ? 0 : n.startsWith(q) ? 1 : 2;
}
