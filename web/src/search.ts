/**
 * The search box: text matched by the server against labels, the trained head's predictions,
 * ImageNet classes and file paths (GET /api/search). The matches show as chips, each with its
 * kind; the map highlights all of them, or the one chip picked.
 */
import { api, errorText, type FindResult } from './api.js';
import { debounce, h } from './dom.js';

const KIND_NAMES: Record<FindResult['matches'][number]['kind'], string> = {
  label: 'label',
  prediction: 'predicted',
  class: 'ImageNet',
  path: 'file',
};

export class SearchBox {
  readonly input = h('input.search', {
    type: 'search',
    placeholder: 'Search: label, class, file name…',
    'aria-label': 'search images',
    autocomplete: 'off',
  });
  /** the strip of matches under the top bar */
  readonly results = h('div.search-results', { hidden: true, role: 'toolbar', 'aria-label': 'search matches' });
  private result: FindResult | null = null;
  private picked: number | null = null;
  private token = 0;

  /** `highlight`: the ids to bring forward on the map (null: none) */
  constructor(private readonly highlight: (ids: Set<number> | null) => void) {
    const run = debounce(() => void this.run(), 200);
    this.input.addEventListener('input', run);
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.clear();
    });
  }

  clear(): void {
    this.input.value = '';
    void this.run();
  }

  /** Search again (the labels or the predictions changed). */
  refresh(): void {
    if (this.input.value.trim()) void this.run();
  }

  private async run(): Promise<void> {
    const q = this.input.value.trim();
    const token = ++this.token;
    if (!q) {
      this.result = null;
      this.results.hidden = true;
      this.results.replaceChildren();
      this.highlight(null);
      return;
    }
    try {
      const r = await api.find(q);
      if (token !== this.token) return;
      this.result = r;
      this.picked = null;
      this.render();
    } catch (e) {
      if (token !== this.token) return;
      this.results.hidden = false;
      this.results.replaceChildren(h('span.error', {}, errorText(e)));
    }
  }

  private render(): void {
    const r = this.result!;
    this.results.hidden = false;
    if (r.matches.length === 0) {
      this.results.replaceChildren(
        h('span.search-info.muted', {}, `Nothing named "${r.q}": no label, predicted class, ImageNet class or file name matches.`),
      );
      this.highlight(new Set());
      return;
    }
    const chip = (k: number | null, body: (HTMLElement | string)[], title: string) =>
      h(
        `button.match${k === null ? '.all' : ''}`,
        { 'aria-pressed': String(this.picked === k), title, onclick: () => this.pick(k) },
        ...body,
      );
    this.results.replaceChildren(
      chip(null, [h('span.search-info', {}, `${r.total} image${r.total === 1 ? '' : 's'}`)], 'highlight every match'),
      ...r.matches.map((m, k) =>
        chip(
          k,
          [
            h(`span.kind.kind-${m.kind}`, {}, KIND_NAMES[m.kind]),
            m.kind === 'path' ? `"${m.name}"` : m.name,
            h('span.muted', {}, String(m.count)),
          ],
          `${KIND_NAMES[m.kind]}: ${m.name} (${m.count} image${m.count === 1 ? '' : 's'})`,
        ),
      ),
    );
    this.apply();
  }

  private pick(k: number | null): void {
    this.picked = k;
    for (const [i, b] of [...this.results.querySelectorAll('button.match')].entries())
      b.setAttribute('aria-pressed', String(i - 1 === (k ?? -1)));
    this.apply();
  }

  private apply(): void {
    const r = this.result!;
    const ids = new Set<number>();
    for (const [k, m] of r.matches.entries()) if (this.picked === null || this.picked === k) for (const id of m.ids) ids.add(id);
    this.highlight(ids);
  }
}
