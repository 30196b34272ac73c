/**
 * The map explorer: the collection's map with thumbnails (sharper ones as the zoom grows), colour
 * by ImageNet class / label / trained prediction with a collapsible legend whose entries
 * highlight their images, a hover card, click or tap to open an image, lasso to select. Every
 * empty or failed state says what to do next.
 */
import { api, errorText, followJob, type ImageDetail, type JobInfo, type MapData } from './api.js';
import { h, percent } from './dom.js';
import { state, type ColorMode } from './state.js';
import { MapView } from './viewer/map-view.js';
import { categoryColors, type Legend } from './viewer/palette.js';

/**
 * Past this many images a map has no atlas of everything (pages of 16k tiles each, hundreds of MB
 * decoded): the thumbnails of the cells in view are fetched as the map zooms in.
 */
const ONE_ATLAS_MAX = 50_000;

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load ${src}`));
    img.src = src;
  });
}

export interface MapPaneActions {
  /** open a tab of the side panel (an empty state's next step) */
  openTab(tab: 'jobs' | 'train' | 'query' | 'camera'): void;
}

export class MapPane {
  readonly element: HTMLElement;
  readonly view: MapView;
  readonly colorSelect: HTMLSelectElement;
  private readonly status = h('div.map-status', { role: 'status' });
  private readonly legend = h('details.cl-legend');
  private readonly legendTitle = h('summary');
  private readonly legendRows = h('div.cl-legend-rows');
  private readonly card = h('div.cl-card');
  private readonly cardTile = h('canvas', { width: 160, height: 160 });
  private readonly cardImage = h('img', { alt: '' });
  private readonly cardText = h('div');
  private readonly lassoButton: HTMLButtonElement;
  private readonly selectionChip = h('div.selection-chip', { hidden: true });
  private loading: Promise<void> | null = null;
  private legendData: Legend | null = null;
  /** the legend entry whose images are highlighted */
  private legendPick: number | null = null;
  /** images highlighted by the search box (null: none) */
  private searchIds: Set<number> | null = null;
  private readonly details = new Map<number, ImageDetail>();
  private hoverToken = 0;

  constructor(private readonly actions: MapPaneActions) {
    const stage = h('div.map-stage');
    this.card.hidden = true;
    this.card.append(h('div.cl-card-image', {}, this.cardTile, this.cardImage), this.cardText);
    this.cardImage.addEventListener('error', () => (this.cardImage.hidden = true));
    this.lassoButton = h(
      'button',
      { title: 'select images by drawing around them (or shift-drag)', 'aria-pressed': 'false', onclick: () => this.toggleLasso() },
      'Lasso',
    );
    const tools = h(
      'div.map-tools',
      {},
      h('button', { title: 'zoom in', 'aria-label': 'zoom in', onclick: () => this.view.zoomBy(1.6) }, '+'),
      h('button', { title: 'zoom out', 'aria-label': 'zoom out', onclick: () => this.view.zoomBy(1 / 1.6) }, '−'),
      h('button', { title: 'the whole map', onclick: () => this.view.resetView() }, 'Fit'),
      this.lassoButton,
    );
    this.colorSelect = h(
      'select',
      { 'aria-label': 'colour by' },
      h('option', { value: 'image' }, 'Colour: none'),
      h('option', { value: 'top1' }, 'Colour: ImageNet class'),
      h('option', { value: 'label' }, 'Colour: label'),
      h('option', { value: 'prediction' }, 'Colour: trained prediction'),
    );
    this.legend.append(this.legendTitle, this.legendRows);
    this.legend.hidden = true;
    // open on wide screens; on a phone it would cover the map
    this.legend.open = !matchMedia('(max-width: 759px)').matches;
    const options = h('div.map-options', {}, this.colorSelect, this.legend);
    this.element = h('section.map-pane', { 'aria-label': 'map of the collection' }, stage);
    stage.append(tools, options, this.card, this.status, this.selectionChip);
    this.view = new MapView(stage, {
      onViewChange: () => (this.card.hidden = true),
      onHover: (i, x, y) => this.hover(i, x, y),
      onClick: (i) => {
        if (i !== null) state.show(this.view.idAt(i));
      },
      onLasso: (indices, additive) => {
        const ids = indices.map((i) => this.view.idAt(i));
        state.setSelection(additive ? [...state.selection, ...ids] : ids);
        if (this.view.lassoMode) this.toggleLasso();
      },
      thumbnailUrl: (id, size) => api.sizedThumbUrl(id, size),
    });
    this.view.canvas.setAttribute('aria-label', 'map: drag to pan, wheel or pinch to zoom, click an image to open it');
    // a handle for people debugging in the console and for the end-to-end tests
    (window as unknown as { convlensMap: MapView }).convlensMap = this.view;
    state.on('selection', () => {
      this.view.setSelected(this.indices(state.selection));
      this.renderSelection();
    });
    state.on('current', () => {
      const i = state.current === null ? undefined : this.view.indexOf(state.current);
      this.view.setFocus(i ?? null);
    });
    state.on('labels', () => this.details.clear());
    state.on('predictions', () => this.details.clear());
    for (const t of ['labels', 'predictions', 'color', 'map'] as const) state.on(t, () => this.recolor());
  }

  private indices(ids: Iterable<number>): number[] {
    const out: number[] = [];
    for (const id of ids) {
      const i = this.view.indexOf(id);
      if (i !== undefined) out.push(i);
    }
    return out;
  }

  private toggleLasso(): void {
    this.view.lassoMode = !this.view.lassoMode;
    this.lassoButton.classList.toggle('active', this.view.lassoMode);
    this.lassoButton.setAttribute('aria-pressed', String(this.view.lassoMode));
  }

  private renderSelection(): void {
    const n = state.selection.size;
    this.selectionChip.hidden = n === 0;
    this.selectionChip.replaceChildren(
      h('span', {}, `${n} selected`),
      h('button.small', { onclick: () => this.actions.openTab('train') }, 'Label…'),
      h('button.small', { 'aria-label': 'clear the selection', onclick: () => state.setSelection([]) }, '✕'),
    );
  }

  /** A message over the map (null: none), with buttons for the next step. */
  private setStatus(text: string | null, actions: HTMLElement[] = [], kind: 'busy' | 'empty' | 'error' = 'busy'): void {
    this.status.replaceChildren(...(text ? [h('div', {}, text)] : []), ...(actions.length ? [h('div.actions', {}, ...actions)] : []));
    this.status.hidden = text === null;
    this.status.classList.toggle('error', kind === 'error');
    this.element.dataset['status'] = text === null ? 'ready' : kind;
  }

  /** Load the current map and atlas, computing them first when there are none. */
  load(): Promise<void> {
    this.loading ??= this.doLoad().finally(() => (this.loading = null));
    return this.loading;
  }

  private async doLoad(): Promise<void> {
    this.element.dataset['ready'] = 'false';
    const info = state.info;
    const embedded = info?.images.embedded ?? 0;
    if (embedded === 0) {
      state.map = null;
      this.view.setPoints([], [], []);
      this.recolor();
      if (info && info.allowedRoots.length > 0) {
        this.setStatus(
          'The collection is empty: index a folder to see it here.',
          [h('button.primary', { onclick: () => this.actions.openTab('jobs') }, 'Index a folder')],
          'empty',
        );
      } else {
        this.setStatus(
          info && info.images.failed > 0
            ? `No image of the collection could be read (${info.images.failed} failed): see the Grid tab's "failed" filter.`
            : 'The collection is empty. Index a folder with "convlens index DIR --db FILE", or start the server with ' +
                '--allow-root DIR to index from here.',
          [h('button', { onclick: () => this.actions.openTab('query') }, 'Query a photo instead')],
          'empty',
        );
      }
      return;
    }
    this.setStatus('Loading the map…');
    try {
      const key = info?.currentMap;
      if (key) await this.show(await api.mapData(key));
      else await this.compute({ method: 'tsne' });
    } catch (e) {
      this.failed(e, () => void this.load());
    }
  }

  private failed(e: unknown, retry: () => void): void {
    this.setStatus(`The map could not be shown: ${errorText(e)}`, [h('button', { onclick: retry }, 'Try again')], 'error');
  }

  /**
   * Run a map job (its progress shown on the map), then show the new map. `keep`: how the map on
   * screen is kept — 'place': its images keep their places and new ones join their neighbours
   * (after an index job); 'align': a new layout, turned to match it.
   */
  async compute(params: Record<string, unknown>, keep: 'place' | 'align' = 'align'): Promise<void> {
    this.element.dataset['ready'] = 'false';
    try {
      const previous = state.map?.key;
      this.setStatus('Starting the map…');
      const job = await api.computeMap({ ...params, ...(previous ? { [keep === 'place' ? 'placeOn' : 'alignTo']: previous } : {}) });
      const end = await followJob(job.id, (j) => this.jobStatus(j));
      if (end.state !== 'done') {
        const why = end.state === 'cancelled' ? 'it was cancelled' : (end.error?.message ?? end.state);
        this.setStatus(
          `The map could not be computed: ${why}.`,
          [h('button', { onclick: () => void this.compute(params, keep) }, 'Try again')],
          end.state === 'cancelled' ? 'empty' : 'error',
        );
        return;
      }
      await this.show(await api.mapData((end.result as { key: string }).key));
      state.emit('jobs');
    } catch (e) {
      this.failed(e, () => void this.compute(params, keep));
    }
  }

  private async show(map: MapData): Promise<void> {
    state.map = map;
    const xs = new Float32Array(map.count);
    const ys = new Float32Array(map.count);
    for (let i = 0; i < map.count; i++) {
      xs[i] = map.coords[2 * i]!;
      ys[i] = map.coords[2 * i + 1]!;
    }
    this.view.setPoints(map.ids, xs, ys);
    this.view.setSelected(this.indices(state.selection));
    const focus = state.current === null ? undefined : this.view.indexOf(state.current);
    this.view.setFocus(focus ?? null);
    this.applySearch();
    state.emit('map');
    if (map.count > ONE_ATLAS_MAX) {
      this.view.setCellSource((z, x, y) => api.mapCell(map.key, z, x, y));
      this.setStatus(null);
      this.element.dataset['ready'] = 'true';
      return;
    }
    this.setStatus('Loading thumbnails…');
    // built already (the usual case), the server answers with the job that built it
    const atlas = await this.buildAtlas();
    const pages = await Promise.all(atlas.pages.map((p) => loadImage(p.url)));
    await this.view.setAtlas({ ...atlas, pages });
    this.setStatus(null);
    this.element.dataset['ready'] = 'true';
  }

  private async buildAtlas(): Promise<NonNullable<Awaited<ReturnType<typeof api.atlas>>>> {
    const job = await api.buildAtlas();
    const end = job.state === 'done' ? job : await followJob(job.id, (j) => this.jobStatus(j));
    if (end.state !== 'done') throw new Error(`the thumbnails could not be built (${end.error?.message ?? end.state})`);
    const atlas = await api.atlas();
    if (!atlas) throw new Error('the thumbnails went missing (the collection changed meanwhile): try again');
    return atlas;
  }

  private jobStatus(j: JobInfo): void {
    const p = j.progress;
    const what =
      j.kind === 'map' ? `Computing the map (${String(j.params['method'])})` : j.kind === 'atlas' ? 'Building thumbnails' : j.kind;
    const step = j.state === 'queued' ? 'waiting for another job' : p && p.total > 0 ? `${p.stage} ${p.done}/${p.total}` : 'starting';
    this.setStatus(`${what}… ${step}`);
  }

  private hover(i: number | null, x: number, y: number): void {
    if (i === null) {
      this.card.hidden = true;
      return;
    }
    const id = this.view.idAt(i);
    const map = state.map!;
    const t = map.top1[i]!;
    // the atlas tile at once (no request per hover); a sharper one over it when it arrives
    this.cardTile.hidden = !this.view.drawTile(i, this.cardTile);
    this.cardImage.hidden = true;
    this.cardImage.onload = () => (this.cardImage.hidden = false);
    this.cardImage.src = api.sizedThumbUrl(id, 256);
    const token = ++this.hoverToken;
    const fill = (d: ImageDetail | null): void => {
      const label = state.labels.get(id);
      const pred = state.predictionOf(id);
      this.cardText.replaceChildren(
        h('div.cl-path', {}, d ? d.path : ''),
        h(
          'div',
          {},
          d?.top1 ? `${d.top1.label} ${percent(d.top1.probability)}` : t >= 0 ? map.classes[t]! : 'no ImageNet class',
          h('span.cl-muted', {}, ' · ImageNet'),
        ),
        label ? h('div', {}, `label: ${label}`) : h('div.cl-muted', {}, 'no label'),
        pred ? h('div', {}, `predicted: ${pred.label} ${percent(pred.probability)}`) : '',
      );
      this.placeCard(x, y);
    };
    const known = this.details.get(id);
    fill(known ?? null);
    this.card.hidden = false;
    if (!known) {
      void api.image(id).then(
        (d) => {
          this.details.set(id, d);
          if (token === this.hoverToken && !this.card.hidden) fill(d);
        },
        () => undefined,
      );
    }
  }

  /** Next to the pointer, inside the map. */
  private placeCard(x: number, y: number): void {
    const r = this.element.getBoundingClientRect();
    const w = this.card.offsetWidth || 180;
    const hgt = this.card.offsetHeight || 240;
    let left = x - r.left + 16;
    let top = y - r.top + 16;
    if (left + w > r.width - 4) left = Math.max(4, x - r.left - w - 16);
    if (top + hgt > r.height - 4) top = Math.max(4, r.height - hgt - 4);
    this.card.style.left = `${left}px`;
    this.card.style.top = `${top}px`;
  }

  private recolor(): void {
    const map = state.map;
    const mode: ColorMode = state.colorMode;
    this.colorSelect.value = mode;
    let legend: Legend | null = null;
    if (map) {
      if (mode === 'top1') legend = categoryColors(Array.from(map.top1, (t) => (t >= 0 ? map.classes[t]! : null)));
      else if (mode === 'label') legend = categoryColors(Array.from(map.ids, (id) => state.labels.get(id) ?? null));
      else if (mode === 'prediction') legend = categoryColors(Array.from(map.ids, (id) => state.predictionOf(id)?.label ?? null));
    }
    this.legendData = legend;
    this.legendPick = null;
    this.view.setFrameColors(legend ? legend.colors : null);
    this.renderLegend();
    this.applySearch();
  }

  private renderLegend(): void {
    const legend = this.legendData;
    const mode = state.colorMode;
    const what = mode === 'top1' ? 'ImageNet classes' : mode === 'label' ? 'labels' : 'predicted classes';
    const entries = legend?.entries ?? [];
    const named = entries.reduce((a, e) => a + e.members.length, 0);
    this.legendTitle.textContent = `Legend · ${named} ${what}`;
    this.legendRows.replaceChildren(
      ...entries.map((e, k) =>
        h(
          'button.cl-legend-row',
          {
            title: `${e.name}: ${e.count} image${e.count === 1 ? '' : 's'} (click to highlight them)`,
            'aria-pressed': String(this.legendPick === k),
            onclick: () => this.pickLegend(k),
          },
          swatch(e.color),
          h('span.cl-name', {}, e.name),
          h('span.cl-muted', {}, String(e.count)),
        ),
      ),
    );
    const empty = mode !== 'image' && state.map !== null && entries.length === 0;
    this.legend.hidden = mode === 'image' || state.map === null;
    if (empty) {
      this.legendRows.replaceChildren(
        h(
          'p.cl-muted',
          {},
          mode === 'label' ? 'No labels yet: select images and label them (Train tab).' : 'Nothing trained yet: label images, then train.',
        ),
      );
      this.legendTitle.textContent = `Legend · no ${what}`;
    }
  }

  private pickLegend(k: number): void {
    this.legendPick = this.legendPick === k ? null : k;
    this.renderLegend();
    this.applySearch();
  }

  /** Highlight the images a search found (null: none). */
  highlightIds(ids: Set<number> | null): void {
    this.searchIds = ids;
    this.legendPick = null;
    this.renderLegend();
    this.applySearch();
  }

  /** What is highlighted: a legend entry's images, else the search's, else nothing. */
  private applySearch(): void {
    const map = state.map;
    if (!map) return;
    const legend = this.legendData;
    if (legend && this.legendPick !== null) {
      const entry = legend.entries[this.legendPick];
      const members = new Set(entry?.members ?? []);
      const mode = state.colorMode;
      const nameOf = (i: number): string | null =>
        mode === 'top1'
          ? map.top1[i]! >= 0
            ? map.classes[map.top1[i]!]!
            : null
          : mode === 'label'
            ? (state.labels.get(map.ids[i]!) ?? null)
            : (state.predictionOf(map.ids[i]!)?.label ?? null);
      this.view.setHighlight(Uint8Array.from({ length: map.count }, (_, i) => (members.has(nameOf(i) ?? '\u0000') ? 1 : 0)));
      return;
    }
    const ids = this.searchIds;
    this.view.setHighlight(ids ? Uint8Array.from(map.ids, (id) => (ids.has(id) ? 1 : 0)) : null);
  }
}

function swatch(color: string): HTMLElement {
  const e = h('span.cl-swatch');
  e.style.background = color;
  return e;
}
