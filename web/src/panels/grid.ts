/** A paged grid of the collection's images with checkboxes (select, then label in the Train tab). */
import { api, type ImageList } from '../api.js';
import { debounce, h } from '../dom.js';
import { state } from '../state.js';

const PAGE = 60;

export class GridPanel {
  readonly element = h('div.panel.grid-panel');
  private offset = 0;
  private list: ImageList | null = null;
  private readonly filter = h('input', { type: 'search', placeholder: 'class name (e.g. cat)', 'aria-label': 'filter by class' });
  private readonly labelFilter = h('select', { 'aria-label': 'filter by label' });
  private readonly grid = h('div.thumb-grid.grid');
  private readonly pager = h('div.pager');
  private readonly selectionInfo = h('span.muted');

  constructor() {
    const reload = debounce(() => {
      this.offset = 0;
      void this.load();
    }, 200);
    this.filter.addEventListener('input', reload);
    this.labelFilter.addEventListener('change', reload);
    this.element.append(
      h('div.controls', {}, this.filter, this.labelFilter),
      h(
        'div.controls',
        {},
        h('button', { onclick: () => this.selectPage(true) }, 'Select page'),
        h('button', { onclick: () => state.setSelection([]) }, 'Clear selection'),
        this.selectionInfo,
      ),
      this.grid,
      this.pager,
    );
    state.on('selection', () => this.syncChecks());
    state.on('labels', () => {
      this.fillLabels();
      if (this.element.isConnected) void this.load();
    });
    this.fillLabels();
  }

  private fillLabels(): void {
    const current = this.labelFilter.value;
    const labels = [...new Set(state.labels.values())].sort();
    this.labelFilter.replaceChildren(
      h('option', { value: '' }, 'any label'),
      h('option', { value: '\u0000none' }, 'unlabelled'),
      ...labels.map((l) => h('option', { value: l }, l)),
    );
    this.labelFilter.value = [...this.labelFilter.options].some((o) => o.value === current) ? current : '';
  }

  async load(): Promise<void> {
    const lf = this.labelFilter.value;
    this.list = await api.images({
      offset: this.offset,
      limit: PAGE,
      q: this.filter.value.trim() || undefined,
      ...(lf === '\u0000none' ? { unlabelled: true } : lf ? { label: lf } : {}),
    });
    this.render();
  }

  private render(): void {
    const list = this.list!;
    if (list.total === 0) {
      const filtered = this.filter.value.trim() || this.labelFilter.value;
      this.grid.replaceChildren(
        h('p.empty', {}, filtered ? 'No image matches these filters.' : 'The collection is empty: index a folder (Jobs tab).'),
      );
      this.pager.replaceChildren();
      this.syncChecks();
      return;
    }
    this.grid.replaceChildren(
      ...list.items.map((it) =>
        h(
          'div.thumb.selectable',
          { 'data-id': it.id, title: `${it.path}\n${it.top1?.label ?? ''}${it.label ? `\nlabel: ${it.label}` : ''}` },
          h('img', { src: api.thumbUrl(it.id), alt: it.path, loading: 'lazy', onclick: () => state.show(it.id) }),
          h('input.check', {
            type: 'checkbox',
            checked: state.selection.has(it.id),
            'aria-label': `select ${it.path}`,
            onchange: (e: Event) => state.toggleSelected(it.id, (e.target as HTMLInputElement).checked),
          }),
          it.label ? h('span.score', {}, it.label) : '',
        ),
      ),
    );
    const pages = Math.max(1, Math.ceil(list.total / PAGE));
    const page = Math.floor(this.offset / PAGE) + 1;
    this.pager.replaceChildren(
      h('button', { disabled: page <= 1, onclick: () => this.go(-1) }, '‹ Prev'),
      h('span.muted', {}, `page ${page} of ${pages} · ${list.total} images`),
      h('button', { disabled: page >= pages, onclick: () => this.go(1) }, 'Next ›'),
    );
    this.syncChecks();
  }

  private go(step: number): void {
    this.offset = Math.max(0, this.offset + step * PAGE);
    void this.load();
  }

  private selectPage(on: boolean): void {
    for (const it of this.list?.items ?? []) {
      if (!it.embedded) continue;
      if (on) state.selection.add(it.id);
      else state.selection.delete(it.id);
    }
    state.emit('selection');
  }

  private syncChecks(): void {
    for (const box of this.grid.querySelectorAll<HTMLInputElement>('input.check')) {
      const id = Number(box.parentElement!.dataset['id']);
      box.checked = state.selection.has(id);
      box.parentElement!.classList.toggle('selected', box.checked);
    }
    this.selectionInfo.textContent = `${state.selection.size} selected`;
  }
}
