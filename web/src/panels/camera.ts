/**
 * The camera: live top-5 ImageNet classes and the nearest images of the collection for what the
 * camera sees. Frames go to POST /api/classify as small JPEGs, one request in flight at a time
 * and at most a few a second (the server's CPU is shared with everyone else). A snapshot freezes
 * a frame and queries with it, optionally storing it in the collection.
 */
import { api, errorText, type ClassifyResult } from '../api.js';
import { bar, h, percent } from '../dom.js';
import { state } from '../state.js';

/** Longer side of the frames sent (the network sees 224×224 anyway). */
const FRAME_SIDE = 448;
/** At least this long between the starts of two live requests (ms). */
const MIN_INTERVAL_MS = 600;
const LIVE_NEIGHBOURS = 8;
const SNAPSHOT_NEIGHBOURS = 24;

export class CameraPanel {
  readonly element = h('div.panel.camera-panel');
  private readonly video = h('video', { muted: true, playsInline: true, autoplay: true, 'aria-label': 'camera' });
  private readonly still = h('img', { alt: 'snapshot', hidden: true });
  private readonly liveBadge = h('span.camera-live', { hidden: true }, 'live');
  private readonly startButton = h('button.primary', { onclick: () => void this.start() }, 'Start the camera');
  private readonly snapButton = h('button.primary', { onclick: () => void this.snapshot(), disabled: true }, 'Snapshot');
  private readonly backButton = h('button', { onclick: () => void this.resume(), hidden: true }, 'Back to live');
  private readonly store = h('input', { type: 'checkbox', 'aria-label': 'add the snapshot to the collection' });
  private readonly storeLabel: HTMLElement;
  private readonly message = h('p.camera-message', { role: 'status' });
  private readonly classes = h('div.top5.camera-classes');
  private readonly neighbours = h('div.thumb-grid.neighbours.camera-neighbours');
  private readonly speed = h('span.muted');
  private stream: MediaStream | null = null;
  private live = false;
  private loop: Promise<void> | null = null;
  private readonly canvas = document.createElement('canvas');
  private snapUrl: string | null = null;

  constructor(private readonly onStored: (jobId: string) => void) {
    this.storeLabel = h('label.toggle', { title: 'copy the snapshot into the uploads folder and index it' }, this.store, 'Store it');
    this.element.append(
      h('div.camera-view', {}, this.video, this.still, this.liveBadge),
      h('div.controls', {}, this.startButton, this.snapButton, this.backButton, this.storeLabel),
      h('div.camera-status', {}, this.message, this.speed),
      h('h3', {}, 'ImageNet classes'),
      this.classes,
      h('h3', {}, 'Nearest in the collection'),
      this.neighbours,
    );
    this.message.replaceChildren(h('span.muted', {}, 'Point the camera at something: its classes and look-alikes show here as it moves.'));
    state.on('info', () => {
      const can = state.info?.uploads.store === true;
      this.store.disabled = !can;
      if (!can) this.store.checked = false;
      this.storeLabel.title = can ? 'copy the snapshot into the uploads folder and index it' : 'this server stores no uploads';
    });
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) this.stop();
    });
  }

  get running(): boolean {
    return this.stream !== null;
  }

  /** Open the camera and start classifying its frames. */
  async start(): Promise<void> {
    if (this.stream) return;
    if (!navigator.mediaDevices?.getUserMedia) {
      this.fail(
        window.isSecureContext
          ? 'This browser gives no access to a camera.'
          : 'The camera needs a secure page: open the app at http://127.0.0.1 or localhost on this machine, or over https.',
      );
      return;
    }
    this.message.replaceChildren(h('span.muted', {}, 'Opening the camera…'));
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (e) {
      const name = (e as { name?: string }).name;
      this.fail(
        name === 'NotAllowedError'
          ? 'Camera access was refused: allow it in the browser (the camera icon in the address bar), then Start again.'
          : name === 'NotFoundError' || name === 'OverconstrainedError'
            ? 'No camera was found: connect one, then Start again.'
            : name === 'NotReadableError'
              ? 'The camera is busy in another program: close it there, then Start again.'
              : `The camera could not be opened: ${errorText(e)}`,
      );
      return;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => undefined);
    this.startButton.textContent = 'Stop the camera';
    this.startButton.classList.remove('primary');
    this.startButton.onclick = () => this.stop();
    this.snapButton.disabled = false;
    this.message.replaceChildren(h('span.muted', {}, 'Classifying what the camera sees…'));
    await this.resume();
  }

  /** Close the camera (leaving the tab, hiding the page). */
  stop(): void {
    this.live = false;
    for (const t of this.stream?.getTracks() ?? []) t.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.liveBadge.hidden = true;
    this.snapButton.disabled = true;
    this.backButton.hidden = true;
    this.startButton.textContent = 'Start the camera';
    this.startButton.classList.add('primary');
    this.startButton.onclick = () => void this.start();
  }

  private fail(text: string): void {
    this.stop();
    this.message.replaceChildren(h('span.error', {}, text));
  }

  private async resume(): Promise<void> {
    if (!this.stream) return;
    this.still.hidden = true;
    this.video.hidden = false;
    this.backButton.hidden = true;
    this.snapButton.disabled = false;
    this.live = true;
    this.liveBadge.hidden = false;
    this.loop ??= this.run().finally(() => (this.loop = null));
  }

  /** One request in flight at a time, and not more often than MIN_INTERVAL_MS. */
  private async run(): Promise<void> {
    let failures = 0;
    while (this.live && this.stream) {
      const t0 = performance.now();
      const frame = await this.frame();
      if (frame && this.live) {
        try {
          const r = await api.classify(frame, { metric: 'cosine', k: LIVE_NEIGHBOURS, top: 5 }, 'frame.jpg');
          if (this.live) this.show(r);
          this.speed.textContent = `${Math.round(performance.now() - t0)} ms a frame`;
          if (this.message.querySelector('.error')) this.message.replaceChildren(h('span.muted', {}, 'Classifying what the camera sees…'));
          failures = 0;
        } catch (e) {
          failures++;
          this.message.replaceChildren(h('span.error', {}, `This frame could not be classified: ${errorText(e)}`));
        }
      }
      // back off after failures, so a stopped server is not hammered
      const wait = Math.max(MIN_INTERVAL_MS, failures * 2000) - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** The current frame as a JPEG no larger than FRAME_SIDE (null before the video has a frame). */
  private async frame(): Promise<Blob | null> {
    const v = this.video;
    if (v.readyState < 2 || v.videoWidth === 0) {
      await new Promise((r) => setTimeout(r, 100));
      return null;
    }
    const k = Math.min(1, FRAME_SIDE / Math.max(v.videoWidth, v.videoHeight));
    this.canvas.width = Math.round(v.videoWidth * k);
    this.canvas.height = Math.round(v.videoHeight * k);
    this.canvas.getContext('2d')!.drawImage(v, 0, 0, this.canvas.width, this.canvas.height);
    return new Promise((resolve) => this.canvas.toBlob((b) => resolve(b), 'image/jpeg', 0.85));
  }

  /** Freeze a frame and query with it (k = 24), storing it when asked. */
  private async snapshot(): Promise<void> {
    const frame = await this.frame();
    if (!frame) return;
    this.live = false;
    this.liveBadge.hidden = true;
    if (this.snapUrl) URL.revokeObjectURL(this.snapUrl);
    this.snapUrl = URL.createObjectURL(frame);
    this.still.src = this.snapUrl;
    this.still.hidden = false;
    this.video.hidden = true;
    this.backButton.hidden = false;
    this.snapButton.disabled = true;
    this.message.replaceChildren(h('span.muted', {}, 'Searching with the snapshot…'));
    try {
      const store = this.store.checked;
      const r = await api.classify(frame, { metric: 'cosine', k: SNAPSHOT_NEIGHBOURS, top: 5, store }, 'snapshot.jpg');
      this.show(r);
      this.message.replaceChildren(
        h(
          'span',
          {},
          r.stored ? `Snapshot saved as ${r.stored.name}; it is being indexed (job ${r.stored.job.id}).` : 'Snapshot (not stored).',
        ),
      );
      if (r.stored) this.onStored(r.stored.job.id);
    } catch (e) {
      this.message.replaceChildren(h('span.error', {}, `The snapshot could not be searched: ${errorText(e)}`));
    }
  }

  private show(r: ClassifyResult): void {
    this.classes.replaceChildren(...r.predictions.map((c) => bar(c.label, c.probability, percent(c.probability))));
    this.neighbours.replaceChildren(
      ...(r.neighbours.length === 0 ? [h('p.muted', {}, 'The collection has no images to compare with yet.')] : []),
      ...r.neighbours.map((n) =>
        h(
          'button.thumb',
          { title: `${n.path}\n${n.top1 ?? ''}`, onclick: () => state.show(n.id), 'data-id': n.id },
          h('img', { src: api.thumbUrl(n.id), alt: n.path }),
          h('span.score', {}, n.score.toFixed(3)),
        ),
      ),
    );
    this.element.dataset['classified'] = String(Number(this.element.dataset['classified'] ?? 0) + 1);
  }
}
