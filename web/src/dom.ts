/** A small DOM toolkit: element builder, formatting, debouncing. */

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

/** h('div.cls#id', {attr, onclick}, children...) */
export function h<K extends keyof HTMLElementTagNameMap>(
  spec: K | `${K}.${string}` | `${K}#${string}`,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const [tagAndId, ...classes] = spec.split('.');
  const [tag, id] = tagAndId!.split('#');
  const e = document.createElement(tag as K);
  if (id) e.id = id;
  if (classes.length) e.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k in e && typeof v !== 'string') (e as unknown as Record<string, unknown>)[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

export function percent(p: number): string {
  const v = p * 100;
  if (v >= 99.95) return '100%';
  return v >= 10 ? `${v.toFixed(1)}%` : v >= 0.1 ? `${v.toFixed(2)}%` : '<0.1%';
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  if (s < 1) return '<1 s';
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let t: ReturnType<typeof setTimeout> | undefined;
  return (...a: A) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

/** A horizontal bar with a caption (top-5 classes, metrics). */
export function bar(caption: string, value: number, text: string): HTMLElement {
  const fill = h('span.bar-fill');
  fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
  return h('div.bar-row', {}, h('span.bar-caption', { title: caption }, caption), h('span.bar', {}, fill), h('span.bar-value', {}, text));
}
