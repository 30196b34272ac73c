/**
 * Label and train: label the selected images, train a head on the labels, read its cross-validated
 * metrics, open the images of any confusion-matrix cell, fix the most confident mistakes (often
 * mislabelled images) in one click, and label next the images the head is least sure about.
 */
import { api, errorText, followJob, type JobInfo, type Mistake, type TrainResult } from '../api.js';
import { bar, h, percent } from '../dom.js';
import { state } from '../state.js';

const MISTAKES_SHOWN = 8;

export class TrainPanel {
  readonly element = h('div.panel.train-panel');
  private readonly selectionInfo = h('p.selection-info');
  private readonly labelInput = h('input', {
    type: 'text',
    placeholder: 'label, e.g. cat',
    maxlength: 100,
    'aria-label': 'label',
    list: 'convlens-labels',
  });
  private readonly labelList = h('datalist#convlens-labels');
  private readonly counts = h('div.label-counts');
  private readonly head = h(
    'select',
    { 'aria-label': 'head' },
    h('option', { value: 'knn' }, 'k-NN'),
    h('option', { value: 'softmax' }, 'Softmax (retrained last layer)'),
    h('option', { value: 'svm' }, 'Linear SVM'),
  );
  private readonly trainButton: HTMLButtonElement;
  private readonly progress = h('div.job-progress');
  private readonly report = h('div.train-report');
  private readonly message = h('p.label-message', { role: 'status' });
  private readonly next = h('div.label-next');
  private readonly nextCount = h(
    'select',
    { 'aria-label': 'how many to label next' },
    ...[12, 24, 48].map((n) => h('option', { value: n }, `${n} most uncertain`)),
  );
  private result: TrainResult | null = null;
  private cell: [number, number] | null = null;
  private mistakesShown = MISTAKES_SHOWN;
  /** keeps the "label next" checkboxes in step with the selection */
  private syncUncertain: () => void = () => undefined;
  /** images relabelled from the mistakes list since the training: id -> new label */
  private readonly fixed = new Map<number, string>();

  constructor(private readonly onColorByPrediction: () => void) {
    this.trainButton = h('button.primary', { onclick: () => void this.train() }, 'Train');
    this.element.append(
      h('h3', {}, 'Label'),
      this.selectionInfo,
      h(
        'form.controls',
        { onsubmit: (e: Event) => (e.preventDefault(), void this.label()) },
        this.labelInput,
        this.labelList,
        h('button', { type: 'submit' }, 'Label selection'),
        h('button', { type: 'button', onclick: () => void this.unlabel() }, 'Remove labels'),
      ),
      this.message,
      this.counts,
      h('h3', {}, 'Train'),
      h('div.controls', {}, this.head, this.trainButton),
      this.progress,
      this.report,
      this.next,
    );
    state.on('selection', () => {
      this.renderSelection();
      this.syncUncertain();
    });
    state.on('labels', () => {
      this.renderCounts();
      this.renderNext();
    });
    state.on('predictions', () => this.renderNext());
    this.renderSelection();
    this.renderCounts();
    this.renderNext();
  }

  private renderSelection(): void {
    const n = state.selection.size;
    this.selectionInfo.replaceChildren(
      n > 0
        ? h('strong', {}, `${n} image${n === 1 ? '' : 's'} selected`)
        : h('span.muted', {}, 'No image selected: draw a lasso on the map (Lasso, or shift-drag), or tick images in the Grid.'),
    );
    this.selectionInfo.dataset['count'] = String(n);
  }

  private labelCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const l of state.labels.values()) counts.set(l, (counts.get(l) ?? 0) + 1);
    return counts;
  }

  private renderCounts(): void {
    const counts = this.labelCounts();
    this.labelList.replaceChildren(...[...counts.keys()].sort().map((l) => h('option', { value: l })));
    this.counts.replaceChildren(
      ...[...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([label, count]) =>
          h(
            'button.tag.label-count',
            {
              title: 'select the images with this label',
              onclick: () => state.setSelection([...state.labels].filter(([, l]) => l === label).map(([id]) => id)),
            },
            `${label} · ${count}`,
          ),
        ),
    );
    const enough = counts.size >= 2;
    this.trainButton.disabled = !enough;
    this.trainButton.title = enough ? 'train on the labelled images' : 'label images of at least two classes first';
    if (!enough && !this.result) {
      this.report.replaceChildren(
        h(
          'p.empty',
          {},
          counts.size === 0
            ? 'Label some images of two or more classes (a few of each), then train.'
            : `One label so far ("${[...counts.keys()][0]}"): label some images of another class too.`,
        ),
      );
    } else if (!this.result) this.report.replaceChildren();
  }

  private async label(ids = [...state.selection], label = this.labelInput.value.trim()): Promise<void> {
    if (!label || ids.length === 0) {
      this.message.replaceChildren(h('span.error', {}, ids.length === 0 ? 'Select some images first.' : 'Type a label first.'));
      return;
    }
    try {
      const r = await api.setLabel(ids, label);
      this.message.replaceChildren(h('span', {}, `${r.changed} image${r.changed === 1 ? '' : 's'} labelled "${label}".`));
      state.setSelection([]);
      await state.refreshLabels();
    } catch (e) {
      this.message.replaceChildren(h('span.error', {}, errorText(e)));
    }
  }

  private async unlabel(): Promise<void> {
    const ids = [...state.selection];
    if (ids.length === 0) {
      this.message.replaceChildren(h('span.error', {}, 'Select the images whose labels to remove first.'));
      return;
    }
    try {
      const r = await api.clearLabels(ids);
      this.message.replaceChildren(h('span', {}, `${r.changed} label${r.changed === 1 ? '' : 's'} removed.`));
      await state.refreshLabels();
    } catch (e) {
      this.message.replaceChildren(h('span.error', {}, errorText(e)));
    }
  }

  private showJob(j: JobInfo): void {
    const p = j.progress;
    const frac = j.state === 'done' ? 1 : p && p.total > 0 ? p.done / p.total : 0;
    const what = j.state === 'queued' ? 'waiting' : j.state === 'running' && p ? p.stage : j.state;
    this.progress.replaceChildren(bar(what, frac, j.state === 'running' && p && p.total > 0 ? `${p.done}/${p.total}` : ''));
    this.progress.dataset['state'] = j.state;
  }

  private async train(): Promise<void> {
    this.trainButton.disabled = true;
    try {
      const job = await api.train(this.head.value);
      const end = await followJob(job.id, (j) => this.showJob(j), 400);
      if (end.state !== 'done') {
        this.report.replaceChildren(h('p.error', {}, `Training ${end.state}: ${end.error?.message ?? 'cancelled'}`));
        return;
      }
      this.result = end.result as TrainResult;
      this.cell = null;
      this.mistakesShown = MISTAKES_SHOWN;
      this.fixed.clear();
      this.renderReport();
      await state.refreshPredictions();
    } catch (e) {
      this.progress.replaceChildren();
      this.report.replaceChildren(h('p.error', {}, `Training failed: ${errorText(e)}`));
    } finally {
      this.trainButton.disabled = this.labelCounts().size < 2;
    }
  }

  private renderReport(): void {
    const r = this.result!;
    const m = r.metrics;
    const total = r.predicted.reduce((a, c) => a + c.count, 0);
    this.report.replaceChildren(
      h('h3', {}, `${r.head} on ${r.labelled.reduce((a, c) => a + c.count, 0)} labelled images`),
      m
        ? h(
            'div.metrics',
            {},
            h(
              'p',
              {},
              h('strong.accuracy', {}, `accuracy ${percent(m.accuracy)}`),
              ` (${m.folds}-fold cross-validation, macro F1 ${m.macro.f1.toFixed(2)})`,
            ),
            h(
              'div.table-scroll',
              {},
              h(
                'table',
                {},
                h(
                  'thead',
                  {},
                  h('tr', {}, h('th', {}, 'label'), h('th', {}, 'precision'), h('th', {}, 'recall'), h('th', {}, 'F1'), h('th', {}, 'n')),
                ),
                h(
                  'tbody',
                  {},
                  ...m.classes.map((c) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, c.label),
                      h('td', {}, c.precision.toFixed(2)),
                      h('td', {}, c.recall.toFixed(2)),
                      h('td', {}, c.f1.toFixed(2)),
                      h('td', {}, String(c.support)),
                    ),
                  ),
                ),
              ),
            ),
            this.confusion(),
            this.mistakes(),
          )
        : h('p.hint', {}, `${r.note ?? 'No metrics.'} Label a few more images of each class to see where the head goes wrong.`),
      h('h3', {}, 'Predictions over the collection'),
      h('div.top5', {}, ...r.predicted.map((p) => bar(p.label, p.count / Math.max(1, total), String(p.count)))),
      h('div.controls', {}, h('button', { onclick: () => this.onColorByPrediction() }, 'Colour the map by prediction')),
    );
  }

  /** The confusion matrix; a cell opens its images below it. */
  private confusion(): HTMLElement {
    const r = this.result!;
    const c = r.metrics!.confusion;
    const ids = r.confusionIds;
    const box = h('div.confusion-box');
    const table = h(
      'table.confusion',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'label ↓ predicted →'),
          ...c.labels.map((l) => h('th', { scope: 'col', title: l }, l.length > 10 ? `${l.slice(0, 9)}…` : l)),
        ),
      ),
      h(
        'tbody',
        {},
        ...c.matrix.map((row, i) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row', title: c.labels[i] }, c.labels[i]!),
            ...row.map((n, j) =>
              h(
                `td.${i === j ? 'diagonal' : 'off'}`,
                {},
                h(
                  'button.small',
                  {
                    disabled: n === 0 || !ids,
                    'aria-pressed': String(this.cell?.[0] === i && this.cell?.[1] === j),
                    'aria-label': `${n} labelled ${c.labels[i]} predicted ${c.labels[j]}`,
                    title: `labelled ${c.labels[i]}, predicted ${c.labels[j]}: show these ${n}`,
                    onclick: () => {
                      this.cell = this.cell?.[0] === i && this.cell?.[1] === j ? null : [i, j];
                      this.renderReport();
                    },
                  },
                  String(n),
                ),
              ),
            ),
          ),
        ),
      ),
    );
    box.append(h('h3', {}, 'Confusion matrix (cross-validated)'), h('div.table-scroll', {}, table));
    if (this.cell && ids) {
      const [i, j] = this.cell;
      const cellIds = ids[i]![j]!;
      box.append(
        h(
          'p.muted',
          {},
          `Labelled "${c.labels[i]}", predicted "${c.labels[j]}": ${cellIds.length} image${cellIds.length === 1 ? '' : 's'}`,
        ),
        h(
          'div.thumb-grid.cell-images',
          {},
          ...cellIds.map((id) =>
            h('button.thumb', { 'data-id': id, onclick: () => state.show(id) }, h('img', { src: api.thumbUrl(id), alt: `image ${id}` })),
          ),
        ),
      );
    }
    return box;
  }

  /** Labelled images the head gets wrong with the most confidence: often the labels are what is wrong. */
  private mistakes(): HTMLElement {
    const all = this.result!.mistakes;
    const box = h('div.mistakes-box', {}, h('h3', {}, `Most confident mistakes (${all.length})`));
    if (all.length === 0) {
      box.append(h('p.muted', {}, 'None: in cross-validation every labelled image got its own label.'));
      return box;
    }
    box.append(
      h(
        'p.muted',
        {},
        'Labelled images the head, never having seen them, puts in another class — most sure first. Wrong labels show up here.',
      ),
    );
    const list = h('div.mistakes', {}, ...all.slice(0, this.mistakesShown).map((m) => this.mistakeRow(m)));
    box.append(list);
    if (all.length > this.mistakesShown) {
      box.append(
        h(
          'button',
          {
            onclick: () => {
              this.mistakesShown += MISTAKES_SHOWN * 2;
              this.renderReport();
            },
          },
          `Show more (${all.length - this.mistakesShown} left)`,
        ),
      );
    }
    return box;
  }

  private mistakeRow(m: Mistake): HTMLElement {
    const fixed = this.fixed.get(m.id);
    const current = state.labels.get(m.id) ?? m.label;
    return h(
      'div.mistake',
      { 'data-id': m.id },
      h(
        'button.thumb',
        { onclick: () => state.show(m.id), title: 'open this image' },
        h('img', { src: api.thumbUrl(m.id), alt: `image ${m.id}` }),
      ),
      h(
        'div.mistake-text',
        {},
        h('span', {}, 'labelled ', h('strong', {}, m.label), ', predicted ', h('strong', {}, m.predicted), ` ${percent(m.probability)}`),
        fixed
          ? h('span.muted', {}, `relabelled as "${fixed}" (train again to update)`)
          : h(
              'div.controls',
              {},
              h(
                'button.small.primary',
                { onclick: () => void this.relabel(m.id, m.predicted), disabled: current === m.predicted },
                `Relabel as ${m.predicted}`,
              ),
              h('button.small', { onclick: () => state.show(m.id) }, 'Open'),
            ),
      ),
    );
  }

  private async relabel(id: number, label: string): Promise<void> {
    try {
      await api.setLabel([id], label);
      this.fixed.set(id, label);
      this.message.replaceChildren(h('span', {}, `Relabelled image ${id} as "${label}".`));
      await state.refreshLabels();
      this.renderReport();
    } catch (e) {
      this.message.replaceChildren(h('span.error', {}, errorText(e)));
    }
  }

  /** The unlabelled images with the smallest margin between the head's two best classes. */
  private renderNext(): void {
    const p = state.predictions;
    if (!p || !p.margin) {
      this.next.replaceChildren();
      return;
    }
    const rows = p.ids
      .map((id, i) => ({ id, i }))
      .filter(({ id }) => !state.labels.has(id))
      .sort((a, b) => p.margin[a.i]! - p.margin[b.i]! || a.id - b.id);
    const pick = (): void => {
      const n = Number(this.nextCount.value);
      const ids = rows.slice(0, n).map((r) => r.id);
      state.setSelection(ids);
      this.renderUncertain(ids);
    };
    this.next.replaceChildren(
      h('h3', {}, 'Label next'),
      rows.length === 0
        ? h('p.muted', {}, 'Every image is labelled.')
        : h(
            'div',
            {},
            h(
              'p.muted',
              {},
              'The images the trained head is least sure about (the smallest gap between its two best classes): ' +
                'labelling them teaches it the most.',
            ),
            h('div.controls', {}, this.nextCount, h('button', { onclick: pick }, 'Select them')),
            h('div.uncertain'),
          ),
    );
  }

  private renderUncertain(ids: number[]): void {
    const box = this.next.querySelector('.uncertain');
    if (!box) return;
    const p = state.predictions!;
    const row = new Map(p.ids.map((id, i) => [id, i]));
    const labels = [...this.labelCounts().keys()].sort();
    box.replaceChildren(
      h('p', {}, 'Untick the ones that differ, then label the ticked ones in one click:'),
      h(
        'div.controls',
        {},
        ...labels.map((l) => h('button.small', { onclick: () => void this.label([...state.selection], l) }, `Label as ${l}`)),
      ),
      h(
        'div.thumb-grid.uncertain-images',
        {},
        ...ids.map((id) => {
          const i = row.get(id)!;
          const predicted = p.classes[p.predicted[i]!]!;
          const check = h('input.check', {
            type: 'checkbox',
            checked: state.selection.has(id),
            'aria-label': `select image ${id}`,
            onchange: (e: Event) => state.toggleSelected(id, (e.target as HTMLInputElement).checked),
          });
          return h(
            'div.thumb.selectable',
            { 'data-id': id, title: `predicted ${predicted} · margin ${p.margin[i]!.toFixed(2)} (click to open)` },
            h('img', { src: api.thumbUrl(id), alt: `image ${id}`, onclick: () => state.show(id) }),
            check,
            h('span.score', {}, `${predicted} ±${p.margin[i]!.toFixed(2)}`),
          );
        }),
      ),
    );
    const sync = (): void => {
      for (const el of box.querySelectorAll<HTMLElement>('.uncertain-images .thumb')) {
        const on = state.selection.has(Number(el.dataset['id']));
        el.querySelector<HTMLInputElement>('input.check')!.checked = on;
        el.classList.toggle('selected', on);
      }
    };
    sync();
    this.syncUncertain = sync;
  }
}
