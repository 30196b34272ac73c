/**
 * The convlens web app: the map explorer on the left, and on the right the image view, a grid to
 * select images, query by image, label and train, and jobs. Everything goes through the JSON API
 * (src/server); long work runs as jobs the app polls, so the page stays usable meanwhile.
 */
import './viewer/viewer.css';
import './style.css';
import type { JobInfo } from './api.js';
import { h } from './dom.js';
import { MapPane } from './map-pane.js';
import { GridPanel } from './panels/grid.js';
import { ImagePanel } from './panels/image.js';
import { JobsPanel } from './panels/jobs.js';
import { QueryPanel } from './panels/query.js';
import { TrainPanel } from './panels/train.js';
import { state, type ColorMode } from './state.js';

type Tab = 'image' | 'grid' | 'query' | 'train' | 'jobs';

// opened with ?token= (a server that needs one): the server has set its cookie on this page's
// request, so the token leaves the address bar and the history
if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname + location.hash);

const searchInfo = h('span.search-info.muted');
const map = new MapPane(searchInfo);
const colorSelect = h(
  'select',
  { 'aria-label': 'colour by' },
  h('option', { value: 'image' }, 'Colour: image'),
  h('option', { value: 'top1' }, 'Colour: ImageNet class'),
  h('option', { value: 'label' }, 'Colour: label'),
  h('option', { value: 'prediction' }, 'Colour: trained prediction'),
);
const setColor = (mode: ColorMode): void => {
  state.colorMode = mode;
  colorSelect.value = mode;
  state.emit('color');
};
colorSelect.addEventListener('change', () => setColor(colorSelect.value as ColorMode));

const panels = {
  image: new ImagePanel((id) => {
    const i = map.view.indexOf(id);
    if (i !== undefined) map.view.centerOn(i);
  }),
  grid: new GridPanel(),
  query: new QueryPanel(() => watchJobs()),
  train: new TrainPanel(() => setColor('prediction')),
  jobs: new JobsPanel((params) => void map.compute(params)),
};
const titles: Record<Tab, string> = { image: 'Image', grid: 'Grid', query: 'Query', train: 'Label & train', jobs: 'Jobs' };
const tabButtons = new Map<Tab, HTMLButtonElement>();
const panelBox = h('div.panel-box');
let currentTab: Tab = 'image';

function showTab(tab: Tab): void {
  currentTab = tab;
  for (const [t, b] of tabButtons) b.classList.toggle('active', t === tab);
  panelBox.replaceChildren(panels[tab].element);
  if (tab === 'grid') void panels.grid.load();
  if (tab === 'jobs') watchJobs();
}

const stats = h('span.stats.muted');
const jobsPill = h('button.jobs-pill', { hidden: true, onclick: () => showTab('jobs') });
const changedBanner = h('div.banner', { hidden: true });
const search = h('input.search', { type: 'search', placeholder: 'Find a class: cat, car, flower…', 'aria-label': 'search by class name' });
search.addEventListener('input', () => map.search(search.value));

const tabs = h('nav.tabs', {});
for (const t of Object.keys(titles) as Tab[]) {
  const b = h('button', { onclick: () => showTab(t), 'data-tab': t }, titles[t]);
  tabButtons.set(t, b);
  tabs.append(b);
}

document
  .getElementById('app')!
  .replaceChildren(
    h('header.topbar', {}, h('strong.brand', {}, 'convlens'), stats, search, searchInfo, colorSelect, jobsPill),
    changedBanner,
    h('main.layout', {}, map.element, h('aside.side', {}, tabs, panelBox)),
  );

state.on('current', () => {
  if (state.current !== null && currentTab !== 'image') showTab('image');
});
state.on('info', () => {
  const i = state.info!;
  const failed = i.images.failed ? ` (${i.images.failed} failed)` : '';
  stats.textContent = `${i.images.embedded} images${failed}${i.settings ? ` · ${i.settings.resize}` : ''}`;
});

// ---- jobs: poll while any runs (or the Jobs tab is open); the page stays usable meanwhile ----
let watching = false;
const finishedIndexJobs = new Set<string>();

function watchJobs(): void {
  if (watching) return;
  watching = true;
  void (async () => {
    try {
      for (;;) {
        const jobs = await panels.jobs.refresh();
        const active = jobs.filter((j) => j.state === 'running' || j.state === 'queued');
        jobsPill.hidden = active.length === 0;
        jobsPill.textContent = `${active.length} job${active.length === 1 ? '' : 's'} running`;
        await noticeFinished(jobs);
        if (active.length === 0 && currentTab !== 'jobs') break;
        await new Promise((r) => setTimeout(r, 800));
      }
    } finally {
      watching = false;
    }
  })();
}

async function noticeFinished(jobs: JobInfo[]): Promise<void> {
  const done = jobs.filter((j) => j.kind === 'index' && j.state === 'done' && !finishedIndexJobs.has(j.id));
  if (done.length === 0) return;
  for (const j of done) finishedIndexJobs.add(j.id);
  const before = state.info?.images.embedded ?? 0;
  await state.refreshInfo();
  const after = state.info?.images.embedded ?? 0;
  if (before === 0 && after > 0) {
    await map.load();
    return;
  }
  if (after !== before || !state.map || state.map.count !== after) {
    changedBanner.replaceChildren(
      `The collection changed (${after} images).`,
      h(
        'button',
        { onclick: () => ((changedBanner.hidden = true), void map.compute({ method: String(state.map?.method ?? 'tsne') })) },
        'Recompute the map',
      ),
    );
    changedBanner.hidden = false;
  }
}
state.on('jobs', () => watchJobs());

// ---- start ----
showTab('image');
void (async () => {
  await state.refreshInfo();
  await Promise.all([state.refreshLabels(), state.refreshPredictions(state.info!.predictions)]);
  if (state.info!.jobs.running + state.info!.jobs.queued > 0) watchJobs();
  // jobs finished before this page opened are not news
  for (const j of (await panels.jobs.refresh()).filter((j) => j.kind === 'index' && j.state === 'done')) finishedIndexJobs.add(j.id);
  await map.load();
})();
