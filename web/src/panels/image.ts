/**
 * The image view. First screen: the image small, its top class, label and prediction, then its
 * most similar images with scores (cosine / Euclidean) — the core of the app, visible without
 * scrolling on a phone too. After them, the details: the threshold slider and the histogram of
 * the image's similarities to all the others, its top-5 ImageNet classes, and the image itself.
 */
import { api, ApiError, errorText, type HistogramResult, type ImageDetail } from '../api.js';
import { bar, debounce, h, percent } from '../dom.js';
import { countPassing, histogramSvg } from '../histogram.js';
import { state } from '../state.js';

const K = 24;

export class ImagePanel {
  readonly element = h('div.panel.image-panel');
  private metric: 'cosine' | 'euclidean' = 'cosine';
  private useThreshold = false;
  /** NaN until an image is shown: then the K-th neighbour's score (a threshold that shows something) */
  private threshold = NaN;
  private hist: HistogramResult | null = null;
  private detail: ImageDetail | null = null;
  private readonly histBox = h('div.hist-box');
  private readonly neighbours = h('div.thumb-grid.neighbours');
  private readonly thresholdInput = h('input', { type: 'range', min: 0, max: 1, step: 0.001, disabled: true, 'aria-label': 'threshold' });
  private readonly thresholdText = h('span.muted');
  private token = 0;

  constructor(
    private readonly onShowOnMap: (id: number) => void,
    private readonly onLabel: (id: number) => void,
  ) {
    this.element.append(
      h('div.empty', {}, 'Click or tap an image on the map (or in the Grid) to see it here, with the images most like it.'),
    );
    state.on('current', () => void this.load());
    state.on('labels', () => this.detail && void this.load(false));
    this.thresholdInput.addEventListener('input', () => {
      this.threshold = Number(this.thresholdInput.value);
      this.updateThreshold();
      this.refreshNeighbours();
    });
  }

  private async load(resetScroll = true): Promise<void> {
    const id = state.current;
    if (id === null) return;
    const token = ++this.token;
    if (resetScroll && !this.useThreshold) this.threshold = NaN; // a new image: its own default threshold
    try {
      const [detail, hist, top] = await Promise.all([
        api.image(id),
        api.histogram(id, this.metric).catch(() => null),
        Number.isNaN(this.threshold) ? api.similar(id, { metric: this.metric, k: K }).catch(() => null) : null,
      ]);
      if (token !== this.token) return;
      this.detail = detail;
      this.hist = hist;
      // the default threshold passes the K best (the same scores the search reports)
      if (top && top.results.length > 0) this.threshold = top.results[top.results.length - 1]!.score;
      if (hist) this.fitThreshold();
      this.render();
      if (resetScroll) this.element.scrollTop = 0;
      await this.neighboursNow();
    } catch (e) {
      if (token === this.token) this.element.replaceChildren(h('p.error', {}, `This image cannot be shown: ${errorText(e)}`));
    }
  }

  private fitThreshold(): void {
    const hist = this.hist!;
    const lo = hist.edges[0]!;
    const hi = hist.edges[hist.edges.length - 1]!;
    this.thresholdInput.min = String(lo);
    this.thresholdInput.max = String(hi);
    this.thresholdInput.step = String((hi - lo) / 200 || 0.001);
    if (!(this.threshold >= lo && this.threshold <= hi)) this.threshold = this.metric === 'cosine' ? hi : lo;
    this.thresholdInput.value = String(this.threshold);
  }

  private render(): void {
    const d = this.detail!;
    const src = d.displayable ? api.fileUrl(d.id) : api.thumbUrl(d.id);
    const metricButtons = (['cosine', 'euclidean'] as const).map((m) =>
      h(
        'label.toggle',
        {},
        h('input', { type: 'radio', name: 'metric', value: m, checked: this.metric === m, onchange: () => this.setMetric(m) }),
        m === 'cosine' ? 'Cosine' : 'Euclidean',
      ),
    );
    const thresholdBox = h('input', {
      type: 'checkbox',
      checked: this.useThreshold,
      onchange: (e: Event) => {
        this.useThreshold = (e.target as HTMLInputElement).checked;
        this.updateThreshold();
        this.refreshNeighbours();
      },
    });
    const fallback = (e: Event): void => {
      const img = e.target as HTMLImageElement;
      if (!img.src.endsWith('/thumbnail')) img.src = api.thumbUrl(d.id);
    };
    const top = d.top1;
    this.element.replaceChildren(
      // first screen: what the image is, then its neighbours
      h(
        'div.image-summary',
        {},
        h(
          'a',
          { href: api.fileUrl(d.id), target: '_blank', rel: 'noopener', title: 'open the original' },
          h('img.preview', { src: api.sizedThumbUrl(d.id, 256), alt: d.path, onerror: fallback }),
        ),
        h(
          'div.image-facts',
          {},
          h('strong.path', { title: `${d.root}/${d.path}` }, d.path),
          top ? h('div.top1', {}, `${top.label} `, h('span.muted', {}, `${percent(top.probability)} · ImageNet`)) : '',
          d.error ? h('div.error', {}, `${d.error.code}: ${d.error.message}`) : '',
          h(
            'div.tags',
            {},
            d.label ? h('span.tag.label-tag', { title: `label: ${d.label}` }, `label: ${d.label}`) : h('span.muted', {}, 'no label'),
            d.prediction ? h('span.tag.pred-tag', {}, `predicted: ${d.prediction.label} ${percent(d.prediction.probability)}`) : '',
          ),
          h(
            'div.controls',
            {},
            h('button.small', { onclick: () => this.onShowOnMap(d.id) }, 'Show on map'),
            h('button.small', { onclick: () => this.onLabel(d.id) }, 'Label…'),
          ),
        ),
      ),
      h('h3', {}, 'Most similar'),
      h('div.neighbour-controls', {}, ...metricButtons, h('label.toggle', {}, thresholdBox, 'Threshold')),
      this.neighbours,
      // the details
      h('div.threshold-row', {}, this.thresholdInput, this.thresholdText),
      this.histBox,
      h('h3', {}, 'ImageNet classes'),
      h('div.top5', {}, ...d.top5.map((c) => bar(c.label, c.probability, percent(c.probability)))),
      h('h3', {}, 'The image'),
      h(
        'a.image-link',
        { href: api.fileUrl(d.id), target: '_blank', rel: 'noopener' },
        // a file the server refuses (moved, replaced, outside its folder) falls back to the thumbnail
        h('img.main-image', { src, alt: d.path, loading: 'lazy', onerror: fallback }),
      ),
      h(
        'div.muted.facts',
        {},
        [d.root, d.width && d.height ? `${d.width}×${d.height}` : '', d.format ?? '', d.size ? `${Math.round(d.size / 1024)} KB` : '']
          .filter(Boolean)
          .join(' · '),
      ),
    );
    this.updateThreshold();
  }

  private setMetric(m: 'cosine' | 'euclidean'): void {
    this.metric = m;
    this.threshold = NaN;
    void this.load(false);
  }

  private updateThreshold(): void {
    this.thresholdInput.disabled = !this.useThreshold;
    const t = this.useThreshold ? this.threshold : null;
    const hist = this.hist;
    this.histBox.replaceChildren(...(hist ? [histogramSvg(hist, t)] : []));
    if (hist) {
      const best = this.metric === 'cosine' ? `max ${hist.max.toFixed(3)}` : `min ${hist.min.toFixed(3)}`;
      const base = `${hist.count} others · ${best} · mean ${hist.mean.toFixed(3)}`;
      this.thresholdText.textContent =
        t === null ? base : `${this.metric === 'cosine' ? '≥' : '≤'} ${t.toFixed(3)}: ≈${countPassing(hist, t)} images · ${best}`;
    }
  }

  private readonly refreshNeighbours = debounce(() => void this.neighboursNow(), 150);

  private async neighboursNow(): Promise<void> {
    const d = this.detail;
    if (!d) return;
    const token = this.token;
    const t = this.useThreshold ? this.threshold : undefined;
    const r = await api
      .similar(d.id, {
        metric: this.metric,
        k: K,
        ...(t !== undefined ? (this.metric === 'cosine' ? { minSimilarity: t } : { maxDistance: t }) : {}),
      })
      .catch((e: unknown) => (e instanceof ApiError ? null : Promise.reject(e)));
    if (token !== this.token) return;
    if (!r) {
      this.neighbours.replaceChildren(h('p.muted', {}, 'This image has no embedding (it could not be read when indexed).'));
      return;
    }
    this.neighbours.replaceChildren(
      ...(r.results.length === 0
        ? [
            h(
              'p.muted',
              {},
              this.useThreshold ? 'No image passes the threshold: move the slider.' : 'No other image in the collection yet.',
            ),
          ]
        : []),
      ...r.results.map((n) =>
        h(
          'button.thumb',
          { title: `${n.path}\n${n.top1 ?? ''}`, onclick: () => state.show(n.id), 'data-id': n.id },
          h('img', { src: api.thumbUrl(n.id), alt: n.path }),
          h('span.score', {}, n.score.toFixed(3)),
        ),
      ),
    );
  }
}
