/**
 * The map explorer: the collection's map with thumbnails, colour by ImageNet class / label /
 * trained prediction, class-name search, hover card, click to open an image, lasso to select.
 */
import { api, followJob, type JobInfo, type MapResult } from './api.js';
import { debounce, h, percent } from './dom.js';
import { state, type ColorMode } from './state.js';
import { MapView } from './viewer/map-view.js';
import { categoryColors, type Legend } from './viewer/palette.js';

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load ${src}`));
    img.src = src;
  });
}

export class MapPane {
  readonly element: HTMLElement;
  readonly view: MapView;
  private readonly status = h('div.map-status');
  private readonly legend = h('div.cl-legend');
  private readonly card = h('div.cl-card');
  private readonly cardTile = h('canvas', { width: 128, height: 128 });
  private readonly cardText = h('div');
  private readonly lassoButton: HTMLButtonElement;
  private highlightClasses: Set<number> | null = null;
  private loading: Promise<void> | null = null;

  constructor(private readonly searchInfo: HTMLElement) {
    const stage = h('div.map-stage');
    this.card.hidden = true;
    this.card.append(this.cardTile, this.cardText);
    this.lassoButton = h(
      'button',
      { title: 'select images by drawing around them (or shift-drag)', onclick: () => this.toggleLasso() },
      'Lasso',
    );
    const tools = h(
      'div.map-tools',
      {},
      h('button', { title: 'zoom in', onclick: () => this.view.zoomBy(1.6) }, '+'),
      h('button', { title: 'zoom out', onclick: () => this.view.zoomBy(1 / 1.6) }, '−'),
      h('button', { title: 'whole map', onclick: () => this.view.resetView() }, 'Fit'),
      this.lassoButton,
    );
    this.element = h('section.map-pane', {}, stage);
    stage.append(this.legend, this.card, tools, this.status);
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
    });
    // a handle for people debugging in the console and for the end-to-end tests
    (window as unknown as { convlensMap: MapView }).convlensMap = this.view;
    state.on('selection', () => this.view.setSelected(this.indices(state.selection)));
    state.on('current', () => {
      const i = state.current === null ? undefined : this.view.indexOf(state.current);
      this.view.setFocus(i ?? null);
    });
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
  }

  private setStatus(text: string | null): void {
    this.status.textContent = text ?? '';
    this.status.hidden = text === null;
    this.element.dataset['status'] = text ?? 'ready';
  }

  /** Load the current map and atlas, computing them first when there are none. */
  load(): Promise<void> {
    this.loading ??= this.doLoad().finally(() => (this.loading = null));
    return this.loading;
  }

  private async doLoad(): Promise<void> {
    this.element.dataset['ready'] = 'false';
    const embedded = state.info?.images.embedded ?? 0;
    if (embedded === 0) {
      state.map = null;
      this.view.setPoints([], [], []);
      this.setStatus('The collection is empty: index a folder (Jobs tab).');
      return;
    }
    this.setStatus('Loading the map…');
    const key = state.info?.currentMap;
    if (key) await this.show(await api.mapByKey(key));
    else await this.compute({ method: 'tsne' });
  }

  /** Run a map job (its progress shown on the map), then show the new map. */
  async compute(params: Record<string, unknown>): Promise<void> {
    this.element.dataset['ready'] = 'false';
    const job = await api.computeMap(params);
    const end = await followJob(job.id, (j) => this.jobStatus(j));
    if (end.state !== 'done') {
      this.setStatus(`The map could not be computed: ${end.error?.message ?? end.state}`);
      return;
    }
    await this.show(await api.mapByKey((end.result as { key: string }).key));
  }

  private async show(map: MapResult): Promise<void> {
    state.map = map;
    const xs = new Float32Array(map.count);
    const ys = new Float32Array(map.count);
    for (let i = 0; i < map.count; i++) {
      xs[i] = map.coords[2 * i]!;
      ys[i] = map.coords[2 * i + 1]!;
    }
    this.view.setPoints(map.ids, xs, ys);
    this.view.setSelected(this.indices(state.selection));
    state.emit('map');
    this.setStatus('Loading thumbnails…');
    // the job returns at once when the atlas is already built
    const job = await api.buildAtlas();
    await followJob(job.id, (j) => this.jobStatus(j));
    const atlas = await api.atlas();
    const pages = await Promise.all(atlas.pages.map((p) => loadImage(p.url)));
    await this.view.setAtlas({ ...atlas, pages });
    this.setStatus(null);
    this.element.dataset['ready'] = 'true';
  }

  private jobStatus(j: JobInfo): void {
    const p = j.progress;
    const what =
      j.kind === 'map' ? `Computing the map (${String(j.params['method'])})` : j.kind === 'atlas' ? 'Building thumbnails' : j.kind;
    this.setStatus(`${what}… ${p && p.total > 0 ? `${p.stage} ${p.done}/${p.total}` : j.state}`);
  }

  private hover(i: number | null, x: number, y: number): void {
    if (i === null) {
      this.card.hidden = true;
      return;
    }
    const id = this.view.idAt(i);
    const map = state.map!;
    const t = map.top1[i]!;
    // the atlas tile: instant, and no request per hover
    this.cardTile.hidden = !this.view.drawTile(i, this.cardTile);
    const label = state.labels.get(id);
    const pred = state.predictionOf(id);
    this.cardText.replaceChildren(
      h('div', {}, t >= 0 ? map.classes[t]! : 'no class'),
      label ? h('div.cl-muted', {}, `label: ${label}`) : '',
      pred ? h('div.cl-muted', {}, `predicted: ${pred.label} ${percent(pred.probability)}`) : '',
    );
    this.card.hidden = false;
    const r = this.element.getBoundingClientRect();
    this.card.style.left = `${Math.min(x - r.left + 16, r.width - 170)}px`;
    this.card.style.top = `${Math.min(y - r.top + 16, r.height - 200)}px`;
  }

  private recolor(): void {
    const map = state.map;
    if (!map) return;
    const mode: ColorMode = state.colorMode;
    let legend: Legend | null = null;
    if (mode === 'top1') legend = categoryColors(map.top1.map((t) => (t >= 0 ? map.classes[t]! : null)));
    else if (mode === 'label') legend = categoryColors(map.ids.map((id) => state.labels.get(id) ?? null));
    else if (mode === 'prediction') legend = categoryColors(map.ids.map((id) => state.predictionOf(id)?.label ?? null));
    this.view.setFrameColors(legend ? legend.colors : null);
    this.legend.replaceChildren(
      ...(legend?.entries ?? []).map((e) =>
        h('div.cl-legend-row', {}, swatch(e.color), h('span', {}, e.name), h('span.cl-muted', {}, String(e.count))),
      ),
    );
    this.legend.hidden = !legend || legend.entries.length === 0;
  }

  /** Highlight the images whose top-1 class matches a text (class names). */
  readonly search = debounce(async (text: string) => {
    const map = state.map;
    if (!text.trim() || !map) {
      this.highlightClasses = null;
      this.view.setHighlight(null);
      this.searchInfo.textContent = '';
      return;
    }
    const { classes } = await api.classes(text);
    this.highlightClasses = new Set(classes.map((c) => c.index));
    const mask = new Uint8Array(map.count);
    let n = 0;
    map.top1.forEach((t, i) => {
      if (this.highlightClasses!.has(t)) {
        mask[i] = 1;
        n++;
      }
    });
    this.view.setHighlight(mask);
    const names = classes
      .filter((c) => c.count > 0)
      .slice(0, 3)
      .map((c) => c.label);
    const more = classes.filter((c) => c.count > 0).length > 3 ? '…' : '';
    this.searchInfo.textContent = `${n} image${n === 1 ? '' : 's'}${names.length ? `: ${names.join(', ')}${more}` : ''}`;
  }, 200);
}

function swatch(color: string): HTMLElement {
  const e = h('span.cl-swatch');
  e.style.background = color;
  return e;
}
