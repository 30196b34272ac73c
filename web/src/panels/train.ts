/** Label and train: label the selected images, train a head on the labels, see metrics and predictions. */
import { api, ApiError, followJob, type JobInfo, type TrainResult } from '../api.js';
import { bar, h, percent } from '../dom.js';
import { state } from '../state.js';

export class TrainPanel {
  readonly element = h('div.panel.train-panel');
  private readonly selectionInfo = h('p.selection-info');
  private readonly labelInput = h('input', { type: 'text', placeholder: 'label, e.g. cat', maxlength: 100, 'aria-label': 'label' });
  private readonly counts = h('div.label-counts');
  private readonly head = h(
    'select',
    { 'aria-label': 'head' },
    h('option', { value: 'knn' }, 'k-NN'),
    h('option', { value: 'softmax' }, 'Softmax (retrained last layer)'),
    h('option', { value: 'svm' }, 'Linear SVM'),
  );
  private readonly progress = h('div.job-progress');
  private readonly report = h('div.train-report');
  private readonly message = h('p.muted');

  constructor(private readonly onColorByPrediction: () => void) {
    this.element.append(
      h('h3', {}, 'Label'),
      this.selectionInfo,
      h('p.muted', {}, 'Select images with the lasso on the map (or shift-drag), or with the checkboxes in the Grid tab.'),
      h(
        'form.controls',
        { onsubmit: (e: Event) => (e.preventDefault(), void this.label()) },
        this.labelInput,
        h('button', { type: 'submit' }, 'Label selection'),
        h('button', { type: 'button', onclick: () => void this.unlabel() }, 'Remove labels'),
      ),
      this.message,
      this.counts,
      h('h3', {}, 'Train'),
      h('div.controls', {}, this.head, h('button.primary', { onclick: () => void this.train() }, 'Train')),
      this.progress,
      this.report,
    );
    state.on('selection', () => this.renderSelection());
    state.on('labels', () => this.renderCounts());
    this.renderSelection();
  }

  private renderSelection(): void {
    const n = state.selection.size;
    this.selectionInfo.textContent = `${n} image${n === 1 ? '' : 's'} selected`;
  }

  private renderCounts(): void {
    const counts = new Map<string, number>();
    for (const l of state.labels.values()) counts.set(l, (counts.get(l) ?? 0) + 1);
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
  }

  private async label(): Promise<void> {
    const label = this.labelInput.value.trim();
    const ids = [...state.selection];
    if (!label || ids.length === 0) {
      this.message.textContent = ids.length === 0 ? 'Select some images first.' : 'Type a label first.';
      return;
    }
    try {
      const r = await api.setLabel(ids, label);
      this.message.textContent = `${r.changed} image${r.changed === 1 ? '' : 's'} labelled "${label}".`;
      state.setSelection([]);
      await state.refreshLabels();
    } catch (e) {
      this.message.textContent = e instanceof ApiError ? e.message : String(e);
    }
  }

  private async unlabel(): Promise<void> {
    const ids = [...state.selection];
    if (ids.length === 0) return;
    const r = await api.clearLabels(ids);
    this.message.textContent = `${r.changed} label${r.changed === 1 ? '' : 's'} removed.`;
    await state.refreshLabels();
  }

  private showJob(j: JobInfo): void {
    const p = j.progress;
    const frac = p && p.total > 0 ? p.done / p.total : j.state === 'done' ? 1 : 0;
    this.progress.replaceChildren(bar(`${j.state}${p ? `: ${p.stage}` : ''}`, frac, p && p.total > 0 ? `${p.done}/${p.total}` : ''));
    this.progress.dataset['state'] = j.state;
  }

  private async train(): Promise<void> {
    this.report.replaceChildren();
    try {
      const job = await api.train(this.head.value);
      const end = await followJob(job.id, (j) => this.showJob(j), 400);
      if (end.state !== 'done') {
        this.report.replaceChildren(h('p.error', {}, end.error?.message ?? end.state));
        return;
      }
      this.renderReport(end.result as TrainResult);
      await state.refreshPredictions();
    } catch (e) {
      this.progress.replaceChildren();
      this.report.replaceChildren(h('p.error', {}, e instanceof ApiError ? e.message : String(e)));
    }
  }

  private renderReport(r: TrainResult): void {
    const m = r.metrics;
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
          )
        : h('p.muted', {}, r.note ?? ''),
      h('h3', {}, 'Predictions over the collection'),
      h(
        'div.top5',
        {},
        ...r.predicted.map((p) =>
          bar(
            p.label,
            p.count /
              Math.max(
                1,
                r.predicted.reduce((a, c) => a + c.count, 0),
              ),
            String(p.count),
          ),
        ),
      ),
      h('button', { onclick: () => this.onColorByPrediction() }, 'Colour the map by prediction'),
    );
  }
}
