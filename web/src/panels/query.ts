/** Query by image: drop or pick a photo -> its ImageNet classes and its nearest images in the collection. */
import { api, errorText } from '../api.js';
import { bar, h, percent } from '../dom.js';
import { state } from '../state.js';

export class QueryPanel {
  readonly element = h('div.panel.query-panel');
  private readonly input = h('input', { type: 'file', accept: 'image/*', 'aria-label': 'image to query' });
  private readonly store = h('input', { type: 'checkbox' });
  private readonly result = h('div.query-result');
  private preview: string | null = null;

  constructor(private readonly onStored: (jobId: string) => void) {
    const drop = h(
      'label.dropzone',
      {},
      h('strong', {}, 'Choose a photo, or drop one here'),
      h('span.muted', {}, 'its ImageNet classes and the most similar images of the collection'),
      this.input,
    );
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      const f = e.dataTransfer?.files[0];
      if (f) void this.query(f);
    });
    this.input.addEventListener('change', () => {
      const f = this.input.files?.[0];
      if (f) void this.query(f);
    });
    this.element.append(
      drop,
      h(
        'label.toggle.store-toggle',
        { title: 'copy the photo into the uploads folder and index it' },
        this.store,
        'Add it to the collection',
      ),
      this.result,
    );
    state.on('info', () => {
      const can = state.info?.uploads.store === true;
      this.store.disabled = !can;
      if (!can) this.store.checked = false;
    });
  }

  private async query(file: File): Promise<void> {
    if (this.preview) URL.revokeObjectURL(this.preview);
    this.preview = URL.createObjectURL(file);
    this.result.replaceChildren(h('p.muted', {}, `Classifying ${file.name}…`));
    try {
      const r = await api.classify(file, { metric: 'cosine', k: 12, store: this.store.checked }, file.name || 'image.jpg');
      this.result.replaceChildren(
        h('img.main-image', { src: this.preview, alt: file.name }),
        h('div.muted', {}, `${file.name} · ${r.upload.width}×${r.upload.height} ${r.upload.format}`),
        h('h3', {}, 'ImageNet classes'),
        h('div.top5.predictions', {}, ...r.predictions.map((c) => bar(c.label, c.probability, percent(c.probability)))),
        r.stored ? h('p.muted', {}, `Saved as ${r.stored.name}; indexing (job ${r.stored.job.id}).`) : '',
        h('h3', {}, 'Most similar in the collection'),
        h(
          'div.thumb-grid.neighbours',
          {},
          ...(r.neighbours.length === 0 ? [h('p.muted', {}, 'The collection has no images to compare with yet: index a folder.')] : []),
          ...r.neighbours.map((n) =>
            h(
              'button.thumb',
              { title: `${n.path}\n${n.top1 ?? ''}`, onclick: () => state.show(n.id), 'data-id': n.id },
              h('img', { src: api.thumbUrl(n.id), alt: n.path, loading: 'lazy' }),
              h('span.score', {}, n.score.toFixed(3)),
            ),
          ),
        ),
      );
      if (r.stored) this.onStored(r.stored.job.id);
    } catch (e) {
      this.result.replaceChildren(h('p.error', {}, `${file.name} could not be classified: ${errorText(e)}`));
    } finally {
      this.input.value = '';
    }
  }
}
