/** Jobs: index a folder under an allowed root, compute a map, and follow every job's progress. */
import { api, ApiError, type JobInfo } from '../api.js';
import { bar, h, seconds } from '../dom.js';
import { state } from '../state.js';

export class JobsPanel {
  readonly element = h('div.panel.jobs-panel');
  private readonly roots = h('select', { 'aria-label': 'allowed root' });
  private readonly folder = h('input', { type: 'text', placeholder: 'folder inside the root (empty: the root)', 'aria-label': 'folder' });
  private readonly indexMessage = h('p.muted');
  private readonly method = h(
    'select',
    { 'aria-label': 'map method' },
    h('option', { value: 'tsne' }, 't-SNE'),
    h('option', { value: 'umap' }, 'UMAP'),
    h('option', { value: 'pca' }, 'PCA'),
  );
  private readonly list = h('div.job-list');
  private readonly indexForm: HTMLFormElement;

  constructor(private readonly onComputeMap: (params: Record<string, unknown>) => void) {
    this.indexForm = h(
      'form.controls',
      { onsubmit: (e: Event) => (e.preventDefault(), void this.startIndex()) },
      this.roots,
      this.folder,
      h('button.primary', { type: 'submit' }, 'Index'),
    );
    this.element.append(
      h('h3', {}, 'Index a folder'),
      this.indexForm,
      this.indexMessage,
      h('h3', {}, 'Map'),
      h('div.controls', {}, this.method, h('button', { onclick: () => this.onComputeMap({ method: this.method.value }) }, 'Compute map')),
      h('h3', {}, 'Jobs'),
      this.list,
    );
    state.on('info', () => this.renderRoots());
    state.on('jobs', () => void this.refresh());
  }

  private renderRoots(): void {
    const roots = state.info?.allowedRoots ?? [];
    this.roots.replaceChildren(...roots.map((r) => h('option', { value: r.index }, r.name)));
    this.indexForm.hidden = roots.length === 0;
    if (roots.length === 0) this.indexMessage.textContent = 'Start the server with --allow-root DIR to index folders from here.';
  }

  private async startIndex(): Promise<void> {
    try {
      const job = await api.index(this.folder.value.trim() || '.', Number(this.roots.value));
      this.indexMessage.textContent = `Indexing ${String(job.params['folder'])} (job ${job.id}).`;
      state.emit('jobs');
    } catch (e) {
      this.indexMessage.textContent = e instanceof ApiError ? `${e.message} (${e.code})` : String(e);
    }
  }

  async refresh(): Promise<JobInfo[]> {
    const { jobs } = await api.jobs();
    this.list.replaceChildren(...(jobs.length === 0 ? [h('p.muted', {}, 'No jobs yet.')] : jobs.map((j) => this.jobRow(j))));
    return jobs;
  }

  private jobRow(j: JobInfo): HTMLElement {
    const p = j.progress;
    const frac = p && p.total > 0 ? p.done / p.total : j.state === 'done' ? 1 : 0;
    const what =
      j.kind === 'index' ? `index ${String(j.params['folder'])}` : j.kind === 'map' ? `map (${String(j.params['method'])})` : j.kind;
    const rate = p?.imagesPerSecond ? ` · ${p.imagesPerSecond.toFixed(1)} img/s · ETA ${seconds(p.etaSeconds)}` : '';
    const running = j.state === 'running' || j.state === 'queued';
    return h(
      'div.job',
      { 'data-id': j.id, 'data-kind': j.kind, 'data-state': j.state },
      h(
        'div.job-head',
        {},
        h('strong', {}, `#${j.id} ${what}`),
        h('span.job-state', {}, j.state),
        running ? h('button.small', { onclick: () => void api.cancelJob(j.id).then(() => state.emit('jobs')) }, 'Cancel') : '',
      ),
      bar(p ? p.stage : j.state, frac, p && p.total > 0 ? `${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}` : ''),
      rate ? h('div.muted', {}, rate.slice(3)) : '',
      j.error ? h('div.error', {}, `${j.error.code}: ${j.error.message}`) : '',
    );
  }
}
