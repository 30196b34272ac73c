/** Jobs: index a folder under an allowed root, compute a map, and follow every job's progress. */
import { api, errorText, type JobInfo } from '../api.js';
import { bar, h, seconds } from '../dom.js';
import { state } from '../state.js';

const KIND: Record<JobInfo['kind'], string> = { index: 'index', map: 'map', atlas: 'thumbnails', train: 'training' };

export class JobsPanel {
  readonly element = h('div.panel.jobs-panel');
  private readonly roots = h('select', { 'aria-label': 'allowed root' });
  private readonly folder = h('input', { type: 'text', placeholder: 'folder inside it (empty: all of it)', 'aria-label': 'folder' });
  private readonly indexMessage = h('p.index-message', { role: 'status' });
  private readonly method = h(
    'select',
    { 'aria-label': 'map method' },
    h('option', { value: 'tsne' }, 't-SNE'),
    h('option', { value: 'umap' }, 'UMAP'),
    h('option', { value: 'pca' }, 'PCA'),
  );
  private readonly computeButton: HTMLButtonElement;
  private readonly mapMessage = h('p.muted');
  private readonly list = h('div.job-list');
  private readonly indexForm: HTMLFormElement;
  /** the index job started from this panel, followed in its message (which then stays) */
  private indexJob: string | null = null;
  private jobMessage = false;

  constructor(private readonly onComputeMap: (params: Record<string, unknown>) => void) {
    this.indexForm = h(
      'form.controls',
      { onsubmit: (e: Event) => (e.preventDefault(), void this.startIndex()) },
      this.roots,
      this.folder,
      h('button.primary', { type: 'submit' }, 'Index'),
    );
    this.computeButton = h('button', { onclick: () => this.onComputeMap({ method: this.method.value }) }, 'Compute map');
    this.element.append(
      h('h3', {}, 'Index a folder'),
      this.indexForm,
      this.indexMessage,
      h('h3', {}, 'Map'),
      h('div.controls', {}, this.method, this.computeButton),
      this.mapMessage,
      h('h3', {}, 'Jobs'),
      this.list,
    );
    state.on('info', () => this.renderInfo());
    state.on('jobs', () => void this.refresh());
  }

  private renderInfo(): void {
    const info = state.info;
    const roots = info?.allowedRoots ?? [];
    this.roots.replaceChildren(...roots.map((r) => h('option', { value: r.index }, r.name)));
    this.roots.hidden = roots.length < 2;
    this.indexForm.hidden = roots.length === 0;
    if (roots.length === 0) {
      this.indexMessage.replaceChildren(
        h(
          'span.hint',
          {},
          'This server indexes no folders from the browser. Index on the command line (convlens index DIR --db FILE), ' +
            'or start it with --allow-root DIR to index folders under DIR from here.',
        ),
      );
    } else if (!this.jobMessage) {
      this.indexMessage.replaceChildren(
        h('span.muted', {}, `Folders inside ${roots.map((r) => `"${r.name}"`).join(', ')}; new and changed images only.`),
      );
    }
    const empty = (info?.images.embedded ?? 0) === 0;
    this.computeButton.disabled = empty;
    this.mapMessage.textContent = empty ? 'A map needs images: index a folder first.' : '';
  }

  private async startIndex(): Promise<void> {
    try {
      const job = await api.index(this.folder.value.trim() || '.', Number(this.roots.value || 0));
      this.indexJob = job.id;
      this.indexStatus(job);
      state.emit('jobs');
    } catch (e) {
      this.indexMessage.replaceChildren(h('span.error', {}, errorText(e)));
    }
  }

  /** The message under the form follows the job it started, to its end. */
  private indexStatus(j: JobInfo): void {
    this.jobMessage = true;
    const folder = String(j.params['folder']);
    const p = j.progress;
    const r = j.result as { indexed?: number; unchanged?: number; failedCount?: number } | null;
    let text: string;
    let cls = 'span.muted';
    if (j.state === 'queued') text = `Indexing ${folder}: waiting for the job before it.`;
    else if (j.state === 'running') text = `Indexing ${folder}… ${p && p.total > 0 ? `${p.done}/${p.total}` : (p?.stage ?? '')}`;
    else if (j.state === 'done') {
      text = r
        ? `Indexed ${folder}: ${r.indexed ?? 0} new, ${r.unchanged ?? 0} unchanged${r.failedCount ? `, ${r.failedCount} failed` : ''}.`
        : `Indexed ${folder}.`;
      cls = 'span';
    } else if (j.state === 'cancelled') text = `Indexing ${folder} was cancelled.`;
    else {
      text = `Indexing ${folder} failed: ${j.error?.message ?? 'unknown error'}`;
      cls = 'span.error';
    }
    this.indexMessage.replaceChildren(h(cls as 'span', {}, text));
  }

  async refresh(): Promise<JobInfo[]> {
    const { jobs } = await api.jobs();
    this.list.replaceChildren(...(jobs.length === 0 ? [h('p.empty', {}, 'No jobs yet.')] : jobs.map((j) => this.jobRow(j))));
    const mine = this.indexJob ? jobs.find((j) => j.id === this.indexJob) : undefined;
    if (mine) {
      // the listing leaves results out: the finished job once more, with its summary
      if (mine.state === 'done' || mine.state === 'failed' || mine.state === 'cancelled') {
        this.indexJob = null;
        this.indexStatus(await api.job(mine.id).catch(() => mine));
      } else this.indexStatus(mine);
    }
    return jobs;
  }

  private jobRow(j: JobInfo): HTMLElement {
    const p = j.progress;
    const running = j.state === 'running' || j.state === 'queued';
    const frac = j.state === 'done' ? 1 : p && p.total > 0 ? p.done / p.total : 0;
    const what =
      j.kind === 'index' ? `index ${String(j.params['folder'])}` : j.kind === 'map' ? `map (${String(j.params['method'])})` : KIND[j.kind];
    // speed and time left while it runs; how long it took once it ended
    const facts = running
      ? p?.imagesPerSecond
        ? `${p.imagesPerSecond.toFixed(1)} img/s · ${p.etaSeconds ? `about ${seconds(p.etaSeconds)} left` : 'almost done'}`
        : ''
      : j.startedAt && j.finishedAt
        ? `took ${seconds((j.finishedAt - j.startedAt) / 1000)}`
        : '';
    return h(
      'div.job',
      { 'data-id': j.id, 'data-kind': j.kind, 'data-state': j.state },
      h(
        'div.job-head',
        {},
        h('strong', { title: what }, `#${j.id} ${what}`),
        h('span.job-state', {}, j.state),
        running ? h('button.small', { onclick: () => void api.cancelJob(j.id).then(() => state.emit('jobs')) }, 'Cancel') : '',
      ),
      bar(p && running ? p.stage : j.state, frac, p && p.total > 0 ? `${p.done}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}` : ''),
      facts ? h('div.muted', {}, facts) : '',
      j.error ? h('div.error', {}, `${j.error.code}: ${j.error.message}`) : '',
    );
  }
}
