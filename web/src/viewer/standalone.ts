/**
 * Entry of the standalone HTML map (src/server/html-map.ts inlines this bundle): reads the points
 * and the atlas from the page's JSON block and shows them with the app's map viewer, a legend, a
 * search box and a hover card (thumbnail, path, top prediction).
 */
import './viewer.css';
import { MapView } from './map-view.js';
import { categoryColors, type Legend } from './palette.js';
import type { StandaloneMapData } from '../../../src/atlas/types.js';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('atlas page failed to load'));
    img.src = src;
  });
}

async function main(): Promise<void> {
  const data = JSON.parse(document.getElementById('convlens-map-data')!.textContent!) as StandaloneMapData;
  const root = document.getElementById('convlens-map')!;
  root.className = 'cl-standalone';
  const header = el('header', 'cl-bar');
  header.append(el('strong', '', data.title), el('span', 'cl-muted', data.subtitle));
  const search = el('input', 'cl-search');
  search.type = 'search';
  search.placeholder = 'search prediction or path';
  const colorBy = el('select');
  for (const [v, t] of [
    ['prediction', 'colour: prediction'],
    ['label', 'colour: label'],
    ['none', 'colour: none'],
  ] as const) {
    const o = el('option', '', t);
    o.value = v;
    colorBy.append(o);
  }
  colorBy.value = data.colorBy;
  const count = el('span', 'cl-muted');
  header.append(search, count, colorBy);
  const stage = el('div', 'cl-stage');
  const legendBox = el('div', 'cl-legend');
  const card = el('div', 'cl-card');
  card.hidden = true;
  const cardThumb = el('canvas');
  cardThumb.width = cardThumb.height = 128;
  const cardText = el('div');
  card.append(cardThumb, cardText);
  root.append(header, stage);
  stage.append(legendBox, card);

  const view = new MapView(stage, {
    onViewChange: () => (card.hidden = true),
    onHover: (i, x, y) => {
      if (i === null) {
        card.hidden = true;
        return;
      }
      cardThumb.hidden = !view.drawTile(i, cardThumb);
      const p = data.probabilities[i]!;
      const label = data.labels[i]! >= 0 ? data.labelNames[data.labels[i]!]! : null;
      cardText.replaceChildren(
        el('div', 'cl-path', data.paths[i]!),
        el('div', '', `${data.predictionNames[data.predictions[i]!]}${p >= 0 ? ` ${(p * 100).toFixed(1)}%` : ''}`),
        ...(label ? [el('div', 'cl-muted', `label: ${label}`)] : []),
      );
      card.hidden = false;
      const r = stage.getBoundingClientRect();
      card.style.left = `${Math.min(x - r.left + 16, r.width - 300)}px`;
      card.style.top = `${Math.min(y - r.top + 16, r.height - 200)}px`;
    },
  });
  (window as unknown as { convlensMap: MapView }).convlensMap = view;
  view.setPoints(data.ids, data.x, data.y);

  const pages = await Promise.all(data.atlas.pages.map((p) => loadImage(p.src)));
  await view.setAtlas({ ...data.atlas, pages });

  const recolor = (): void => {
    let legend: Legend | null = null;
    if (colorBy.value === 'prediction') legend = categoryColors(data.predictions.map((i) => data.predictionNames[i] || null));
    else if (colorBy.value === 'label') legend = categoryColors(data.labels.map((i) => (i >= 0 ? data.labelNames[i]! : null)));
    view.setFrameColors(legend ? legend.colors : null);
    legendBox.replaceChildren(
      ...(legend?.entries ?? []).map((e) => {
        const row = el('div', 'cl-legend-row');
        const sw = el('span', 'cl-swatch');
        sw.style.background = e.color;
        row.append(sw, el('span', '', e.name), el('span', 'cl-muted', String(e.count)));
        return row;
      }),
    );
    legendBox.hidden = !legend || legend.entries.length === 0;
  };
  colorBy.addEventListener('change', recolor);
  recolor();

  search.addEventListener('input', () => {
    const q = search.value.trim().toLowerCase();
    if (!q) {
      view.setHighlight(null);
      count.textContent = '';
      return;
    }
    const mask = new Uint8Array(data.ids.length);
    let n = 0;
    for (let i = 0; i < mask.length; i++) {
      if (data.predictionNames[data.predictions[i]!]!.toLowerCase().includes(q) || data.paths[i]!.toLowerCase().includes(q)) {
        mask[i] = 1;
        n++;
      }
    }
    view.setHighlight(mask);
    count.textContent = `${n} match${n === 1 ? '' : 'es'}`;
  });
  document.body.dataset['ready'] = 'true';
}

void main();
