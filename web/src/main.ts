/**
 * The convlens web app: the map explorer, and beside it (on a phone: over it, as a bottom sheet)
 * the image view, a grid to select images, query by image, the camera, label and train, and
 * jobs. Everything goes through the JSON API (src/server); long work runs as jobs the app polls,
 * so the page stays usable meanwhile.
 */
import './viewer/viewer.css';
import './style.css';
import { errorText, type JobInfo } from './api.js';
import { h } from './dom.js';
import { MapPane } from './map-pane.js';
import { CameraPanel } from './panels/camera.js';
import { GridPanel } from './panels/grid.js';
import { ImagePanel } from './panels/image.js';
import { JobsPanel } from './panels/jobs.js';
import { QueryPanel } from './panels/query.js';
import { TrainPanel } from './panels/train.js';
import { SearchBox } from './search.js';
import { Sheet } from './sheet.js';
import { state, type ColorMode } from './state.js';

type Tab = 'image' | 'grid' | 'query' | 'camera' | 'train' | 'jobs';

// opened with ?token= (a server that needs one): the server has set its cookie on this page's
// request, so the token leaves the address bar and the history
if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname + location.hash);

const map = new MapPane({ openTab: (t) => showTab(t, true) });
const search = new SearchBox((ids) => map.highlightIds(ids));
const setColor = (mode: ColorMode): void => {
  state.colorMode = mode;
  state.emit('color');
};
map.colorSelect.addEventListener('change', () => setColor(map.colorSelect.value as ColorMode));

const panels = {
  image: new ImagePanel(
    (id) => {
      const i = map.view.indexOf(id);
      if (i !== undefined) map.view.centerOn(i);
      if (sheet.narrow) sheet.set('peek');
    },
    (id) => {
      state.setSelection([id]);
      showTab('train', true);
    },
  ),
  grid: new GridPanel(),
  query: new QueryPanel(() => watchJobs()),
  camera: new CameraPanel(() => watchJobs()),
  train: new TrainPanel(() => {
    setColor('prediction');
    if (sheet.narrow) sheet.set('peek');
  }),
  jobs: new JobsPanel((params) => void map.compute(params)),
};
const titles: Record<Tab, string> = { image: 'Image', grid: 'Grid', query: 'Query', camera: 'Camera', train: 'Train', jobs: 'Jobs' };
const tips: Record<Tab, string> = {
  image: 'the image shown and the images most like it',
  grid: 'browse and select images',
  query: 'classify a photo and find its look-alikes',
  camera: 'classify what your camera sees',
  train: 'label images and train your own classes',
  jobs: 'index folders, compute maps, follow jobs',
};
const tabButtons = new Map<Tab, HTMLButtonElement>();
const panelBox = h('div.panel-box');
let currentTab: Tab = 'image';

const side = h('aside.side', { 'aria-label': 'panel' });
const sheet = new Sheet(side);

function showTab(tab: Tab, raise = false): void {
  if (currentTab === 'camera' && tab !== 'camera') panels.camera.stop();
  currentTab = tab;
  for (const [t, b] of tabButtons) {
    b.classList.toggle('active', t === tab);
    b.setAttribute('aria-selected', String(t === tab));
  }
  panelBox.replaceChildren(panels[tab].element);
  panelBox.scrollTop = 0;
  // the camera is all the panel shows: on a phone it takes the screen
  if (tab === 'camera' && raise && sheet.narrow) sheet.set('full');
  else if (raise) sheet.open();
  if (tab === 'grid') void panels.grid.load();
  if (tab === 'jobs') watchJobs();
  if (tab === 'camera') void panels.camera.start();
}

const stats = h('span.stats.muted');
const jobsPill = h('button.jobs-pill', { hidden: true, onclick: () => showTab('jobs', true) });
const changedBanner = h('div.banner', { hidden: true, role: 'status' });

const tabs = h('nav.tabs', { role: 'tablist' });
for (const t of Object.keys(titles) as Tab[]) {
  const b = h('button', { onclick: () => showTab(t, true), 'data-tab': t, role: 'tab', title: tips[t] }, titles[t]);
  tabButtons.set(t, b);
  tabs.append(b);
}
side.append(sheet.handle, tabs, panelBox);

document
  .getElementById('app')!
  .replaceChildren(
    h('header.topbar', {}, h('strong.brand', {}, 'convlens'), stats, search.input, jobsPill),
    search.results,
    changedBanner,
    h('main.layout', {}, map.element, side),
  );

state.on('current', () => {
  if (state.current === null) return;
  if (currentTab !== 'image') showTab('image');
  if (!sheet.narrow) return;
  sheet.open();
  // the image stays in sight above the raised sheet (once its move has ended)
  const id = state.current;
  setTimeout(() => {
    const i = map.view.indexOf(id);
    const top = map.element.getBoundingClientRect().top;
    if (i !== undefined && state.current === id) map.view.reveal(i, top, side.getBoundingClientRect().top);
  }, 250);
});
state.on('info', () => {
  const i = state.info!;
  const failed = i.images.failed ? ` (${i.images.failed} failed)` : '';
  stats.textContent = `${i.images.embedded} images${failed}${i.settings ? ` · ${i.settings.resize}` : ''}`;
});
state.on('labels', () => search.refresh());
state.on('predictions', () => search.refresh());

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
    } catch {
      // the server went away: the next action says so; polling starts again with it
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
      h('span', {}, `The collection changed (${after} images). The map shows ${state.map?.count ?? 0}.`),
      h(
        'button',
        {
          onclick: () => {
            changedBanner.hidden = true;
            // the images on the map keep their places; the new ones join their neighbours
            void map.compute({ method: String(state.map?.method ?? 'tsne') }, 'place');
          },
        },
        'Update the map',
      ),
      h('button.small', { 'aria-label': 'dismiss', onclick: () => (changedBanner.hidden = true) }, '✕'),
    );
    changedBanner.hidden = false;
  }
}
state.on('jobs', () => watchJobs());

// ---- start ----
showTab('image');
void (async () => {
  try {
    await state.refreshInfo();
    // the map first (a large one takes a moment); labels and predictions recolour it when they come
    void map.load();
    await Promise.all([state.refreshLabels(), state.refreshPredictions(state.info!.predictions)]);
    if (state.info!.jobs.running + state.info!.jobs.queued > 0) watchJobs();
    // jobs finished before this page opened are not news
    for (const j of (await panels.jobs.refresh()).filter((j) => j.kind === 'index' && j.state === 'done')) finishedIndexJobs.add(j.id);
  } catch (e) {
    changedBanner.replaceChildren(h('span.error', {}, `The app could not start: ${errorText(e)}`));
    changedBanner.hidden = false;
    return;
  }
})();
