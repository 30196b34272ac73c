/**
 * The map explorer's canvas: every image of a collection at its place on a 2-D map, drawn from a
 * sprite atlas with Canvas 2D, with pan (drag), zoom (wheel, double-click, keys), hover and click
 * picking, and lasso selection (shift-drag, or lasso mode). Shared by the web app and the
 * standalone HTML map.
 *
 * Staying smooth with 20 000 images on a software canvas, where one sprite costs several
 * microseconds: a full render is built off screen in slices of a few milliseconds per animation
 * frame, and until it is complete the screen shows the last complete render moved and scaled to
 * the current view (so a pan or zoom frame costs one blit, whatever the number of images). Points
 * live in a uniform grid, so a render visits only the cells in view; far away images (a thumbnail
 * of a few pixels) are written as dots of their mean colour straight into the pixels.
 *
 * Levels of detail: the atlas tiles serve the overview; once few images are in view and each is
 * drawn larger than its tile, sharper per-image thumbnails are loaded (`thumbnailUrl`), at most a
 * few at a time, kept within a pixel budget, and drawn in place of the tiles as they arrive.
 *
 * Input is pointer events: mouse, pen and touch alike. One pointer pans (or draws the lasso), two
 * pinch-zoom and pan, a tap or click picks the image under it (with a larger target for a finger),
 * a double tap or double click zooms in; the wheel and the keyboard zoom and pan too.
 */
import { hexColor } from './palette.js';

export interface AtlasImages {
  tile: number;
  columns: number;
  perPage: number;
  /** image id of each tile */
  ids: ArrayLike<number>;
  /** mean colour of each tile, 0xRRGGBB */
  colors: ArrayLike<number>;
  pages: CanvasImageSource[];
}

/** The thumbnails of one cell of the map (see src/atlas/cells.ts): `ids[k]` is tile k of `page`. */
export interface CellAtlas {
  tile: number;
  columns: number;
  ids: ArrayLike<number>;
  colors: ArrayLike<number>;
  page: CanvasImageSource | null;
}

/** Where the thumbnails of cell (x, y) of level z come from (maps too large for one atlas). */
export type CellSource = (level: number, x: number, y: number) => Promise<CellAtlas>;

export interface MapViewOptions {
  onHover?: (index: number | null, clientX: number, clientY: number) => void;
  onClick?: (index: number | null) => void;
  /** indices inside a lasso; additive when the user held Ctrl/Cmd */
  onLasso?: (indices: number[], additive: boolean) => void;
  onViewChange?: () => void;
  /** where a sharper thumbnail of an image is (longer side about `size` px); none: the atlas only */
  thumbnailUrl?: (id: number, size: number) => string;
}

/** Below this on-screen size (px) images are drawn as dots. */
const THUMB_MIN_PX = 8;
/** Drawing time per animation frame for a full render's slices (ms). */
const SLICE_MS = 10;
/** A moving view is rendered in full once it has been still this long (ms). */
const SETTLE_MS = 90;
const BACKGROUND = '#f4f4f2';
const BACKGROUND_RGB = 0xf4f4f2;
/** An image's dot before its thumbnail's colour is known. */
const DOT_GREY = 0x8a8a8a;
const SELECTED = '#ffb000';
const FOCUS = '#e0115f';
/** Sharper thumbnails are loaded when at most this many images are in view... */
const LOD_MAX_VISIBLE = 400;
/** ...and each is drawn this much larger than its atlas tile. */
const LOD_FROM = 1.15;
/** The levels asked for (the server's levels, longer side in px). */
const LOD_LEVELS = [128, 256, 512];
/** Pixels of sharper thumbnails kept at most (least recently drawn dropped first). */
const LOD_BUDGET_PX = 16_000_000;
/** Sharper thumbnails loading at once at most. */
const LOD_CONCURRENCY = 4;
/** Smallest target for a finger (CSS px): a tap picks the image within it. */
const TOUCH_TARGET = 32;
/** A touch moving less than this (px) is a tap; a mouse, less than 4 px. */
const TAP_SLOP_TOUCH = 10;
const DOUBLE_TAP_MS = 280;
/** Cells are fetched at the level where one is about this wide on screen (CSS px)... */
const CELL_SCREEN_PX = 384;
/** ...the finest level there is (the server's CELL_LEVELS)... */
const CELL_LEVELS = 10;
/** ...at most this many at once, and this many kept (least recently in view dropped first). */
const CELL_CONCURRENCY = 3;
const CELLS_KEPT = 48;
/** Tile slots per cell page (at least the server's CELL_MAX_IMAGES; a page is 32 tiles wide). */
const CELL_TILES = 1024;
/** Dots at most this large (device px) are summed per pixel: dense parts of the map show as density. */
const DENSITY_DOT = 3;

export class MapView {
  readonly canvas: HTMLCanvasElement;
  /** lasso on plain drag (otherwise drag pans and shift-drag lassoes) */
  lassoMode = false;
  private readonly g: CanvasRenderingContext2D;
  /** the render in progress, off screen */
  private work = offscreen();
  /** the last complete render and the view it shows */
  private done: { layer: Layer; view: View } | null = null;
  private task: RenderTask | null = null;
  /** the full render must be redone (view or content changed) */
  private stale = true;
  /** while the view moves, full renders wait until this time (the preview follows the motion) */
  private settleAt = 0;
  private readonly options: MapViewOptions;
  private n = 0;
  private ids = new Int32Array(0);
  /** point index by image id: a table when ids are dense enough (a million Map entries cost ~0.2 s), else a Map */
  private idTable: Int32Array | Map<number, number> = new Map<number, number>();
  private wx = new Float32Array(0);
  private wy = new Float32Array(0);
  private tileOf = new Int32Array(0);
  private dot = new Uint32Array(0);
  private frame: (string | null)[] | null = null;
  private frameRgb: Int32Array | null = null;
  private highlight: Uint8Array | null = null;
  private selected = new Uint8Array(0);
  private focus = -1;
  private atlas: AtlasImages | null = null;
  // spatial grid over the world square [-1, 1]²
  private gridSize = 1;
  private cellStart = new Int32Array(2);
  private cellItems = new Int32Array(0);
  // view: world (cx, cy) at the canvas centre, `scale` px per world unit
  private width = 0;
  private height = 0;
  private scale = 1;
  private fitScale = 1;
  private cx = 0;
  private cy = 0;
  /** world size of a thumbnail */
  private unit = 0.05;
  private scheduled = false;
  /** the last dots render took more than a couple of frames */
  private slowDots = false;
  /** dots have colours of their own (an atlas's, a cell's); else all grey */
  private dotsVary = false;
  private lasso: [number, number][] | null = null;
  private drag: { x: number; y: number; cx: number; cy: number; moved: boolean; touch: boolean } | null = null;
  /** pointers down on the canvas (canvas px), for pinch */
  private readonly pointers = new Map<number, { x: number; y: number }>();
  private pinch: { dist: number; wx: number; wy: number; scale: number } | null = null;
  /** a touch tap waiting to see whether a second tap (zoom) follows */
  private pendingTap: { x: number; y: number; at: number; timer: ReturnType<typeof setTimeout> } | null = null;
  /** sharper thumbnails by image id (Map order: least recently drawn first) */
  private readonly lod = new Map<number, { size: number; bitmap: ImageBitmap }>();
  private lodPixels = 0;
  /** what the last render wanted loaded, nearest the centre first */
  private lodWanted: { id: number; size: number }[] = [];
  private readonly lodLoading = new Set<number>();
  private readonly lodFailed = new Set<string>();
  private readonly resizeObserver: ResizeObserver;
  /** duration of the last frames drawn, ms (for tests and tuning) */
  readonly frameTimes: number[] = [];
  /** complete renders shown so far, and when the first with points was (performance.now(); for tests and benches) */
  renders = 0;
  firstRenderAt = 0;
  /** cell atlases (maps too large for one atlas): where they come from, and those held by "z/x/y" */
  private cellSource: CellSource | null = null;
  private readonly cells = new Map<string, { page: number; indices: Int32Array }>();
  private readonly cellsLoading = new Set<string>();
  private readonly cellsFailed = new Set<string>();
  private cellsWanted: { key: string; level: number; x: number; y: number }[] = [];
  private cellGeneration = 0;

  constructor(container: HTMLElement, options: MapViewOptions = {}) {
    this.options = options;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'convlens-map-canvas';
    this.canvas.tabIndex = 0;
    container.appendChild(this.canvas);
    this.g = this.canvas.getContext('2d', { alpha: false })!;
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(container);
    this.bindEvents();
    this.resize();
  }

  get pointCount(): number {
    return this.n;
  }

  /** Zoom relative to the fitted view (1 = whole map). */
  get zoom(): number {
    return this.scale / this.fitScale;
  }

  idAt(index: number): number {
    return this.ids[index]!;
  }

  indexOf(id: number): number | undefined {
    return this.lookup(id);
  }

  /** Points in map coordinates (any range; the view fits them). Resets the view. */
  setPoints(ids: ArrayLike<number>, x: ArrayLike<number>, y: ArrayLike<number>): void {
    const n = ids.length;
    this.n = n;
    this.ids = Int32Array.from(ids);
    let maxId = -1;
    let minId = 0;
    for (let i = 0; i < n; i++) {
      maxId = Math.max(maxId, this.ids[i]!);
      minId = Math.min(minId, this.ids[i]!);
    }
    if (minId >= 0 && maxId < 4 * n + 1024) {
      const table = new Int32Array(maxId + 1).fill(-1);
      for (let i = 0; i < n; i++) table[this.ids[i]!] = i;
      this.idTable = table;
    } else {
      const map = new Map<number, number>();
      for (let i = 0; i < n; i++) map.set(this.ids[i]!, i);
      this.idTable = map;
    }
    let minX = Infinity,
      maxX = -Infinity,
      minY = Infinity,
      maxY = -Infinity;
    for (let i = 0; i < n; i++) {
      minX = Math.min(minX, x[i]!);
      maxX = Math.max(maxX, x[i]!);
      minY = Math.min(minY, y[i]!);
      maxY = Math.max(maxY, y[i]!);
    }
    const half = Math.max(maxX - minX, maxY - minY, 1e-9) / 2;
    const mx = (minX + maxX) / 2;
    const my = (minY + maxY) / 2;
    this.wx = new Float32Array(n);
    this.wy = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      this.wx[i] = (x[i]! - mx) / half;
      this.wy[i] = (y[i]! - my) / half;
    }
    this.selected = new Uint8Array(n);
    this.highlight = null;
    this.frame = null;
    this.focus = -1;
    this.clearLod();
    this.clearCells();
    this.buildGrid();
    this.applyAtlas();
    this.resetView();
  }

  /**
   * Thumbnails fetched cell by cell as the view needs them (a map too large for one atlas): the
   * whole map shows as dots and density, and zooming in brings in the thumbnails of the cells in
   * view. Null: none (setAtlas instead).
   */
  setCellSource(source: CellSource | null): void {
    this.clearCells();
    this.cellSource = source;
    this.atlas = source ? { tile: 32, columns: 32, perPage: CELL_TILES, ids: [], colors: [], pages: [] } : null;
    this.applyAtlas();
    this.redraw();
  }

  /** Cell atlases held and loading (for tests). */
  get cellState(): { held: number; loading: number; failed: number } {
    return { held: this.cells.size, loading: this.cellsLoading.size, failed: this.cellsFailed.size };
  }

  /** The thumbnails; pages are turned into ImageBitmaps (several times faster to draw from than images). */
  async setAtlas(atlas: AtlasImages | null): Promise<void> {
    this.clearCells();
    this.cellSource = null;
    const pages = atlas ? await Promise.all(atlas.pages.map((p) => (p instanceof HTMLImageElement ? createImageBitmap(p) : p))) : [];
    this.atlas = atlas && { ...atlas, pages };
    this.applyAtlas();
    this.redraw();
  }

  /** A frame colour per point (null entries: none), e.g. by class or label; null: no frames. */
  setFrameColors(colors: (string | null)[] | null): void {
    this.frame = colors;
    this.frameRgb = colors ? Int32Array.from(colors, (c) => (c ? parseInt(c.slice(1), 16) : -1)) : null;
    this.redraw();
  }

  /** Points to bring forward (others are dimmed); null: none. */
  setHighlight(mask: Uint8Array | null): void {
    this.highlight = mask;
    this.redraw();
  }

  setSelected(indices: Iterable<number>): void {
    this.selected.fill(0);
    for (const i of indices) if (i >= 0 && i < this.n) this.selected[i] = 1;
    this.redraw();
  }

  setFocus(index: number | null): void {
    this.focus = index ?? -1;
    this.redraw();
  }

  resetView(): void {
    this.fitScale = Math.max(1e-6, (Math.min(this.width, this.height) / 2) * 0.92);
    this.scale = this.fitScale;
    this.cx = 0;
    this.cy = 0;
    // thumbnails as large as the room allows (a big screen shows them bigger), never below 3 px
    const cap = Math.max(72, Math.min(this.width, this.height) / 14);
    const px = Math.min(cap, Math.max(3, 0.9 * Math.sqrt((this.width * this.height) / Math.max(this.n, 1))));
    this.unit = px / this.fitScale;
    this.changed();
  }

  /** Zoom by a factor around a point of the canvas (default its centre). */
  zoomBy(factor: number, sx = this.width / 2, sy = this.height / 2): void {
    const [wx, wy] = this.toWorld(sx, sy);
    const next = Math.min(this.fitScale * 400, Math.max(this.fitScale * 0.5, this.scale * factor));
    this.scale = next;
    // keep the world point under the cursor where it was
    this.cx = wx - (sx - this.width / 2) / next;
    this.cy = wy - (sy - this.height / 2) / next;
    this.changed();
  }

  /** Centre the view on a point, zooming in to at least `zoom`. */
  centerOn(index: number, zoom = 4): void {
    if (index < 0 || index >= this.n) return;
    this.scale = Math.max(this.scale, this.fitScale * zoom);
    this.cx = this.wx[index]!;
    this.cy = this.wy[index]!;
    this.changed();
  }

  /**
   * Pan (no zoom) so a point is drawn between two client y coordinates (the part of the canvas a
   * bottom sheet leaves visible), if it is not already.
   */
  reveal(index: number, top: number, bottom: number): void {
    if (index < 0 || index >= this.n) return;
    const r = this.canvas.getBoundingClientRect();
    const [sx, sy] = this.toScreen(this.wx[index]!, this.wy[index]!);
    const y = r.top + sy;
    const margin = Math.min(60, (bottom - top) / 4);
    const inside = sx >= 0 && sx <= this.width && y >= top + margin && y <= bottom - margin;
    if (inside || bottom - top < 40) return;
    const wantY = (top + bottom) / 2 - r.top;
    this.cx = this.wx[index]! - (Math.min(Math.max(sx, 40), this.width - 40) - this.width / 2) / this.scale;
    this.cy = this.wy[index]! - (wantY - this.height / 2) / this.scale;
    this.changed();
  }

  /** Where a point is drawn, in client (page viewport) coordinates; null when off-canvas. */
  screenPositionOf(id: number): { x: number; y: number } | null {
    const i = this.lookup(id);
    if (i === undefined) return null;
    const [sx, sy] = this.toScreen(this.wx[i]!, this.wy[i]!);
    if (sx < 0 || sy < 0 || sx > this.width || sy > this.height) return null;
    const r = this.canvas.getBoundingClientRect();
    return { x: r.left + sx, y: r.top + sy };
  }

  /** Draw one point's atlas tile onto a canvas (hover previews). */
  drawTile(index: number, target: HTMLCanvasElement): boolean {
    const t = this.tileOf[index] ?? -1;
    const a = this.atlas;
    if (!a || t < 0) return false;
    const page = a.pages[Math.floor(t / a.perPage)];
    if (!page) return false;
    const local = t % a.perPage;
    const g = target.getContext('2d')!;
    g.clearRect(0, 0, target.width, target.height);
    g.imageSmoothingQuality = 'high';
    g.drawImage(
      page,
      (local % a.columns) * a.tile,
      Math.floor(local / a.columns) * a.tile,
      a.tile,
      a.tile,
      0,
      0,
      target.width,
      target.height,
    );
    return true;
  }

  /** Redo the full render (content or view changed); the screen follows at the next frame. */
  redraw(): void {
    this.stale = true;
    this.schedule();
  }

  destroy(): void {
    this.resizeObserver.disconnect();
    this.clearLod();
    this.clearCells();
    this.canvas.remove();
  }

  /** Sharper thumbnails held (for tests): how many, and the largest size. */
  get detail(): { count: number; largest: number } {
    let largest = 0;
    for (const v of this.lod.values()) largest = Math.max(largest, v.size);
    return { count: this.lod.size, largest };
  }

  /** Pan by a fraction of the view (keyboard, buttons). */
  panBy(fx: number, fy: number): void {
    this.cx += (fx * this.width) / this.scale;
    this.cy += (fy * this.height) / this.scale;
    this.changed();
  }

  // ---- internals ----

  private changed(): void {
    this.settleAt = performance.now() + SETTLE_MS;
    this.stale = true;
    this.schedule();
    this.options.onViewChange?.();
  }

  private toWorld(sx: number, sy: number): [number, number] {
    return [this.cx + (sx - this.width / 2) / this.scale, this.cy + (sy - this.height / 2) / this.scale];
  }

  private toScreen(wx: number, wy: number): [number, number] {
    return [this.width / 2 + (wx - this.cx) * this.scale, this.height / 2 + (wy - this.cy) * this.scale];
  }

  private resize(): void {
    const r = this.canvas.parentElement!.getBoundingClientRect();
    const w = Math.max(1, Math.floor(r.width));
    const h = Math.max(1, Math.floor(r.height));
    if (w === this.width && h === this.height) return;
    const zoom = this.width > 0 ? this.zoom : 1;
    const dpr = window.devicePixelRatio || 1;
    this.width = w;
    this.height = h;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(h * dpr);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    const unitPx = this.unit * this.fitScale;
    this.fitScale = Math.max(1e-6, (Math.min(w, h) / 2) * 0.92);
    this.unit = unitPx / this.fitScale;
    this.scale = this.fitScale * zoom;
    if (this.n > 0 && zoom === 1 && this.cx === 0 && this.cy === 0) this.resetView();
    this.redraw();
  }

  private buildGrid(): void {
    const g = Math.max(1, Math.min(256, Math.ceil(Math.sqrt(this.n) / 2)));
    this.gridSize = g;
    const cellOf = new Int32Array(this.n);
    const counts = new Int32Array(g * g + 1);
    for (let i = 0; i < this.n; i++) {
      const c = this.cell(this.wx[i]!, this.wy[i]!);
      cellOf[i] = c;
      counts[c + 1]!++;
    }
    for (let c = 0; c < g * g; c++) counts[c + 1]! += counts[c]!;
    this.cellStart = counts.slice();
    this.cellItems = new Int32Array(this.n);
    const fill = counts.slice(0, g * g);
    for (let i = 0; i < this.n; i++) this.cellItems[fill[cellOf[i]!]!++] = i;
  }

  private cellCoord(w: number): number {
    return Math.min(this.gridSize - 1, Math.max(0, Math.floor(((w + 1) / 2) * this.gridSize)));
  }

  private cell(wx: number, wy: number): number {
    return this.cellCoord(wy) * this.gridSize + this.cellCoord(wx);
  }

  /** The point index of an image id. */
  private lookup(id: number): number | undefined {
    const t = this.idTable;
    if (t instanceof Map) return t.get(id);
    const i = id >= 0 && id < t.length ? t[id]! : -1;
    return i >= 0 ? i : undefined;
  }

  /** Indices of points whose centre is in a world rectangle, in grid order. */
  private pointsIn(x0: number, y0: number, x1: number, y1: number): number[] {
    const out: number[] = [];
    const c0 = this.cellCoord(x0),
      c1 = this.cellCoord(x1),
      r0 = this.cellCoord(y0),
      r1 = this.cellCoord(y1);
    for (let r = r0; r <= r1; r++) {
      for (let c = c0; c <= c1; c++) {
        const cell = r * this.gridSize + c;
        for (let k = this.cellStart[cell]!; k < this.cellStart[cell + 1]!; k++) {
          const i = this.cellItems[k]!;
          const x = this.wx[i]!,
            y = this.wy[i]!;
          if (x >= x0 && x <= x1 && y >= y0 && y <= y1) out.push(i);
        }
      }
    }
    return out;
  }

  private applyAtlas(): void {
    this.tileOf = new Int32Array(this.n).fill(-1);
    this.dot = new Uint32Array(this.n).fill(DOT_GREY);
    this.dotsVary = false;
    const a = this.atlas;
    if (!a) return;
    this.dotsVary = a.ids.length > 0;
    for (let t = 0; t < a.ids.length; t++) {
      const i = this.lookup(a.ids[t]!);
      if (i === undefined) continue;
      this.tileOf[i] = t;
      this.dot[i] = a.colors[t] ?? DOT_GREY;
    }
  }

  /** The topmost point under a canvas position, or null. */
  private hit(sx: number, sy: number, minTarget = 6): number | null {
    const size = Math.max(this.unit * this.scale, minTarget);
    const [wx, wy] = this.toWorld(sx, sy);
    const r = size / 2 / this.scale;
    let best: number | null = null;
    let bestD = Infinity;
    for (const i of this.pointsIn(wx - r, wy - r, wx + r, wy + r)) {
      const d = Math.max(Math.abs(this.wx[i]! - wx), Math.abs(this.wy[i]! - wy));
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    }
    return best;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.frameTick();
    });
  }

  private view(): View {
    return { scale: this.scale, cx: this.cx, cy: this.cy, width: this.width, height: this.height };
  }

  /** One animation frame: show the preview, advance the full render, show it when complete. */
  private frameTick(): void {
    const t0 = performance.now();
    // a finger or the mouse still holding the map counts as moving when the dots take long to
    // draw (a million of them, a few hundred ms in one go): never in the middle of a drag
    const holding = this.slowDots && ((this.drag?.moved ?? false) || this.pinch !== null);
    if (this.stale && (t0 < this.settleAt || holding)) {
      // still moving: only the preview, and look again next frame
      this.present();
      this.schedule();
      this.frameTimes.push(performance.now() - t0);
      return;
    }
    if (this.stale) {
      this.stale = false;
      this.task = this.startRender();
    }
    const task = this.task;
    if (task) {
      const finished = this.advance(task, t0 + SLICE_MS);
      if (finished) {
        this.task = null;
        const layer = this.work;
        this.work = this.done?.layer ?? offscreen();
        this.done = { layer, view: task.view };
        this.renders++;
        if (this.firstRenderAt === 0 && this.n > 0) this.firstRenderAt = performance.now();
      } else this.schedule();
    }
    this.present();
    this.frameTimes.push(performance.now() - t0);
    if (this.frameTimes.length > 120) this.frameTimes.shift();
  }

  /** The last complete render, moved and scaled to the current view, and the lasso. */
  private present(): void {
    const g = this.g;
    const dpr = this.canvas.width / Math.max(this.width, 1);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.globalAlpha = 1;
    const d = this.done;
    const same =
      d &&
      d.view.scale === this.scale &&
      d.view.cx === this.cx &&
      d.view.cy === this.cy &&
      d.view.width === this.width &&
      d.view.height === this.height;
    if (d && same) {
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.drawImage(d.layer.canvas, 0, 0);
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
    } else {
      g.fillStyle = BACKGROUND;
      g.fillRect(0, 0, this.width, this.height);
      if (d) {
        // a world point at screen p in the old view is at k·p + offset in the new one (the canvas
        // may have been resized meanwhile: a panel opened, a banner appeared)
        const k = this.scale / d.view.scale;
        const ox = this.width / 2 - (d.view.width / 2) * k + (d.view.cx - this.cx) * this.scale;
        const oy = this.height / 2 - (d.view.height / 2) * k + (d.view.cy - this.cy) * this.scale;
        g.imageSmoothingEnabled = true;
        g.imageSmoothingQuality = 'low';
        g.drawImage(d.layer.canvas, 0, 0, d.layer.canvas.width, d.layer.canvas.height, ox, oy, d.view.width * k, d.view.height * k);
      }
    }
    if (this.lasso && this.lasso.length > 1) {
      g.beginPath();
      g.moveTo(this.lasso[0]![0], this.lasso[0]![1]);
      for (const [x, y] of this.lasso) g.lineTo(x, y);
      g.closePath();
      g.fillStyle = 'rgba(255, 176, 0, 0.15)';
      g.fill();
      g.strokeStyle = SELECTED;
      g.lineWidth = 2;
      g.setLineDash([6, 4]);
      g.stroke();
      g.setLineDash([]);
    }
  }

  /** What a full render of the current view has to draw: visible points, emphasised ones last. */
  private startRender(): RenderTask {
    const layer = this.work;
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.round(this.width * dpr);
    const ch = Math.round(this.height * dpr);
    if (layer.canvas.width !== cw || layer.canvas.height !== ch) {
      layer.canvas.width = cw;
      layer.canvas.height = ch;
    }
    const size = this.unit * this.scale;
    const m = this.unit;
    const [x0, y0] = this.toWorld(0, 0);
    const [x1, y1] = this.toWorld(this.width, this.height);
    let normal: number[] = [];
    const front: number[] = [];
    const hl = this.highlight;
    for (const i of this.pointsIn(x0 - m, y0 - m, x1 + m, y1 + m)) {
      if ((hl && hl[i]) || this.selected[i] || i === this.focus) front.push(i);
      else normal.push(i);
    }
    const thumbs = this.atlas !== null && size >= THUMB_MIN_PX;
    if (thumbs && this.cellSource) {
      this.wantCells(x0, y0, x1, y1);
      // images whose cell is not in yet (or not in its sample) first, as small dots under the thumbnails
      normal = [...normal.filter((i) => this.tileOf[i]! < 0), ...normal.filter((i) => this.tileOf[i]! >= 0)];
    } else this.cellsWanted = [];
    const visible = normal.length + front.length;
    const detail =
      thumbs && this.options.thumbnailUrl && visible <= LOD_MAX_VISIBLE && size * dpr > this.atlas!.tile * LOD_FROM
        ? (LOD_LEVELS.find((l) => l >= size * dpr * 0.85) ?? LOD_LEVELS[LOD_LEVELS.length - 1]!)
        : 0;
    this.wantDetail(detail, detail > 0 ? [...front, ...normal] : []);
    return { view: this.view(), dpr, size, thumbs, detail, normal, front, next: 0, started: false };
  }

  /** Ask for sharper thumbnails of the points in view (nearest the centre first), or for none. */
  private wantDetail(size: number, points: number[]): void {
    if (size === 0) {
      this.lodWanted = [];
      return;
    }
    const d = (i: number): number => (this.wx[i]! - this.cx) ** 2 + (this.wy[i]! - this.cy) ** 2;
    this.lodWanted = points
      .filter((i) => (this.lod.get(this.ids[i]!)?.size ?? 0) < size && !this.lodFailed.has(`${this.ids[i]}:${size}`))
      .sort((a, b) => d(a) - d(b))
      .map((i) => ({ id: this.ids[i]!, size }));
    this.pumpDetail();
  }

  private pumpDetail(): void {
    const url = this.options.thumbnailUrl;
    if (!url) return;
    while (this.lodLoading.size < LOD_CONCURRENCY && this.lodWanted.length > 0) {
      const { id, size } = this.lodWanted.shift()!;
      if (this.lodLoading.has(id) || (this.lod.get(id)?.size ?? 0) >= size) continue;
      this.lodLoading.add(id);
      void fetch(url(id, size))
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((blob) => createImageBitmap(blob))
        .then(
          (bitmap) => this.addDetail(id, size, bitmap),
          () => this.lodFailed.add(`${id}:${size}`),
        )
        .finally(() => {
          this.lodLoading.delete(id);
          this.pumpDetail();
        });
    }
  }

  private addDetail(id: number, size: number, bitmap: ImageBitmap): void {
    const old = this.lod.get(id);
    if (old && old.size >= size) {
      bitmap.close();
      return;
    }
    if (old) {
      this.lodPixels -= old.bitmap.width * old.bitmap.height;
      old.bitmap.close();
      this.lod.delete(id);
    }
    this.lod.set(id, { size, bitmap });
    this.lodPixels += bitmap.width * bitmap.height;
    for (const [k, v] of this.lod) {
      if (this.lodPixels <= LOD_BUDGET_PX) break;
      this.lod.delete(k);
      this.lodPixels -= v.bitmap.width * v.bitmap.height;
      v.bitmap.close();
    }
    if (this.lookup(id) !== undefined) this.redraw();
  }

  /** Ask for the cells in a world rectangle at the level of the current zoom, nearest the centre first. */
  private wantCells(x0: number, y0: number, x1: number, y1: number): void {
    const level = Math.min(CELL_LEVELS, Math.max(0, Math.ceil(Math.log2((2 * this.scale) / CELL_SCREEN_PX))));
    const side = 2 ** level;
    const at = (w: number): number => Math.min(side - 1, Math.max(0, Math.floor(((w + 1) / 2) * side)));
    const wanted: { key: string; level: number; x: number; y: number; d: number }[] = [];
    const [cx, cy] = [at(this.cx), at(this.cy)];
    for (let y = at(y0); y <= at(y1); y++) {
      for (let x = at(x0); x <= at(x1); x++) {
        const key = `${level}/${x}/${y}`;
        const held = this.cells.get(key);
        if (held) {
          // in view: kept longest
          this.cells.delete(key);
          this.cells.set(key, held);
        } else if (!this.cellsLoading.has(key) && !this.cellsFailed.has(key))
          wanted.push({ key, level, x, y, d: (x - cx) ** 2 + (y - cy) ** 2 });
      }
    }
    this.cellsWanted = wanted.sort((a, b) => a.d - b.d);
    this.pumpCells();
  }

  private pumpCells(): void {
    const source = this.cellSource;
    if (!source) return;
    const generation = this.cellGeneration;
    while (this.cellsLoading.size < CELL_CONCURRENCY && this.cellsWanted.length > 0) {
      const { key, level, x, y } = this.cellsWanted.shift()!;
      if (this.cells.has(key) || this.cellsLoading.has(key)) continue;
      this.cellsLoading.add(key);
      void source(level, x, y)
        .then(
          (cell) => {
            if (generation === this.cellGeneration) this.addCell(key, cell);
            else if (cell.page instanceof ImageBitmap) cell.page.close();
          },
          () => generation === this.cellGeneration && this.cellsFailed.add(key),
        )
        .finally(() => {
          if (generation !== this.cellGeneration) return;
          this.cellsLoading.delete(key);
          this.pumpCells();
        });
    }
  }

  private addCell(key: string, cell: CellAtlas): void {
    const a = this.atlas;
    if (!a || !cell.page || cell.ids.length === 0 || cell.tile !== a.tile || cell.columns !== a.columns) return;
    // a free page slot (one a dropped cell left), or a new one
    let slot = a.pages.findIndex((p) => !p);
    if (slot < 0) slot = a.pages.length;
    a.pages[slot] = cell.page;
    const indices = new Int32Array(cell.ids.length);
    for (let k = 0; k < cell.ids.length; k++) {
      const i = this.lookup(cell.ids[k]!) ?? -1;
      indices[k] = i;
      if (i < 0) continue;
      this.tileOf[i] = slot * a.perPage + k;
      this.dot[i] = cell.colors[k] ?? this.dot[i]!;
      this.dotsVary = true;
    }
    this.cells.set(key, { page: slot, indices });
    for (const [k, v] of this.cells) {
      if (this.cells.size <= CELLS_KEPT) break;
      this.dropCell(k, v);
    }
    this.redraw();
  }

  private dropCell(key: string, cell: { page: number; indices: Int32Array }): void {
    const a = this.atlas!;
    this.cells.delete(key);
    const page = a.pages[cell.page];
    if (page instanceof ImageBitmap) page.close();
    delete a.pages[cell.page];
    for (const i of cell.indices) if (i >= 0 && Math.floor(this.tileOf[i]! / a.perPage) === cell.page) this.tileOf[i] = -1;
  }

  private clearCells(): void {
    this.cellGeneration++;
    if (this.cellSource && this.atlas) {
      for (const p of this.atlas.pages) if (p instanceof ImageBitmap) p.close();
      this.atlas.pages.length = 0;
    }
    this.cells.clear();
    this.cellsLoading.clear();
    this.cellsFailed.clear();
    this.cellsWanted = [];
  }

  private clearLod(): void {
    for (const v of this.lod.values()) v.bitmap.close();
    this.lod.clear();
    this.lodPixels = 0;
    this.lodWanted = [];
    this.lodFailed.clear();
  }

  /** Draw as much of a render as fits before `deadline`; true when complete. */
  private advance(task: RenderTask, deadline: number): boolean {
    const g = this.work.g;
    if (!task.started) {
      task.started = true;
      g.setTransform(1, 0, 0, 1, 0, 0);
      g.globalAlpha = 1;
      g.fillStyle = BACKGROUND;
      g.fillRect(0, 0, this.work.canvas.width, this.work.canvas.height);
      g.setTransform(task.dpr, 0, 0, task.dpr, 0, 0);
      if (!task.thumbs) {
        const t0 = performance.now();
        this.writeDots(task, task.normal, this.highlight ? 0.14 : 1);
        this.slowDots = performance.now() - t0 > 2 * SLICE_MS;
        task.next = task.normal.length;
      }
    }
    g.globalAlpha = this.highlight ? 0.14 : 1;
    while (task.next < task.normal.length) {
      const end = Math.min(task.normal.length, task.next + 128);
      for (; task.next < end; task.next++) this.drawPoint(g, task, task.normal[task.next]!, false);
      if (performance.now() > deadline && task.next < task.normal.length) return false;
    }
    g.globalAlpha = 1;
    for (const i of task.front) this.drawPoint(g, task, i, true);
    if (this.focus >= 0) {
      const [sx, sy] = this.toScreenIn(task.view, this.wx[this.focus]!, this.wy[this.focus]!);
      const r = Math.max(task.size / 2 + 5, 9);
      g.strokeStyle = FOCUS;
      g.lineWidth = 3;
      g.strokeRect(sx - r, sy - r, 2 * r, 2 * r);
    }
    return true;
  }

  private toScreenIn(v: View, wx: number, wy: number): [number, number] {
    return [v.width / 2 + (wx - v.cx) * v.scale, v.height / 2 + (wy - v.cy) * v.scale];
  }

  /**
   * Far-away images as squares of their colour, written straight into the pixels. Small dots are
   * summed per pixel: where many images fall on one pixel (a million-image map seen whole) it shows
   * their mean colour, darker the more there are, so the map reads as density, not as whichever
   * dot came last.
   */
  private writeDots(task: RenderTask, points: number[], alpha: number): void {
    const canvas = this.work.canvas;
    const w = canvas.width;
    const h = canvas.height;
    const img = this.work.g.createImageData(w, h);
    const px = new Uint32Array(img.data.buffer);
    const bgR = (BACKGROUND_RGB >> 16) & 255,
      bgG = (BACKGROUND_RGB >> 8) & 255,
      bgB = BACKGROUND_RGB & 255;
    px.fill((0xff000000 | (bgB << 16) | (bgG << 8) | bgR) >>> 0);
    const d = Math.max(2, Math.round(task.size * task.dpr));
    const half = d / 2;
    const v = task.view;
    const k = v.scale * task.dpr;
    const ox = (v.width / 2 - v.cx * v.scale) * task.dpr - half;
    const oy = (v.height / 2 - v.cy * v.scale) * task.dpr - half;
    if (d > DENSITY_DOT) {
      for (const i of points) {
        const rgb = this.frameRgb && this.frameRgb[i]! >= 0 ? this.frameRgb[i]! : this.dot[i]!;
        const [r, g, b] = blend(rgb, alpha);
        const abgr = (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
        const xa = Math.max(0, Math.round(this.wx[i]! * k + ox));
        const ya = Math.max(0, Math.round(this.wy[i]! * k + oy));
        const xb = Math.min(w, xa + d);
        const yb = Math.min(h, ya + d);
        for (let y = ya; y < yb; y++) px.fill(abgr, y * w + xa, y * w + xb);
      }
    } else {
      // each image counted (and its colour summed) at its dot's top-left pixel, then a d×d box
      // sum spreads that over the dot: the same as summing every dot's pixels, for a tenth of the work
      const count = new Float32Array(w * h);
      // one colour for all (no frames, no thumbnail colours yet): counting is enough
      const uniform = !this.frameRgb && !this.dotsVary;
      const red = uniform ? null : new Float32Array(w * h);
      const green = uniform ? null : new Float32Array(w * h);
      const blue = uniform ? null : new Float32Array(w * h);
      for (const i of points) {
        const x = Math.round(this.wx[i]! * k + ox);
        const y = Math.round(this.wy[i]! * k + oy);
        if (x < -d || y < -d || x >= w || y >= h) continue;
        const o = Math.max(0, y) * w + Math.max(0, x);
        count[o]!++;
        if (!red || !green || !blue) continue;
        const rgb = this.frameRgb && this.frameRgb[i]! >= 0 ? this.frameRgb[i]! : this.dot[i]!;
        red[o] += (rgb >> 16) & 255;
        green[o] += (rgb >> 8) & 255;
        blue[o] += rgb & 255;
      }
      for (const a of [count, red, green, blue]) if (a) boxSum(a, w, h, d);
      let most = 1;
      for (let o = 0; o < count.length; o++) if (count[o]! > most) most = count[o]!;
      // one image on a pixel: its colour as it is; the densest pixel: 55% darker
      const darkest = most > 1 ? 0.55 / Math.log(most) : 0;
      const shadeOf = Float32Array.from({ length: most + 1 }, (_, c) => (c > 0 ? (1 - darkest * Math.log(c)) / c : 0));
      const grey = DOT_GREY & 255;
      for (let o = 0; o < count.length; o++) {
        const c = count[o]!;
        if (c < 0.5) continue;
        const shade = shadeOf[Math.round(c)]!;
        const mean =
          red && green && blue
            ? ((Math.round(red[o]! * shade) << 16) | (Math.round(green[o]! * shade) << 8) | Math.round(blue[o]! * shade)) >>> 0
            : Math.round(grey * c * shade) * 0x010101;
        const [r, g, b] = blend(mean, alpha);
        px[o] = (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
      }
    }
    this.work.g.putImageData(img, 0, 0);
  }

  private drawPoint(g: CanvasRenderingContext2D, task: RenderTask, i: number, emphasise: boolean): void {
    const [sx, sy] = this.toScreenIn(task.view, this.wx[i]!, this.wy[i]!);
    const frame = this.selected[i] ? SELECTED : (this.frame?.[i] ?? null);
    const t = this.tileOf[i]!;
    const size = task.size;
    const half = size / 2;
    const a = this.atlas;
    const page = a && t >= 0 ? a.pages[Math.floor(t / a.perPage)] : undefined;
    if (!task.thumbs || !page || !a) {
      // in a cell-by-cell map, an image without its tile yet is a dot, not a square of its size
      const d = Math.max(this.cellSource && task.thumbs ? Math.min(size, 6) : size, emphasise ? 4 : 2.5);
      g.fillStyle = frame ?? hexColor(this.dot[i]!);
      g.fillRect(sx - d / 2, sy - d / 2, d, d);
      return;
    }
    const sharp = task.detail > 0 ? this.lod.get(this.ids[i]!) : undefined;
    if (sharp) {
      // most recently drawn: kept longest
      this.lod.delete(this.ids[i]!);
      this.lod.set(this.ids[i]!, sharp);
      // letterboxed in the square, as the atlas tiles are
      const b = sharp.bitmap;
      const k = size / Math.max(b.width, b.height);
      g.imageSmoothingQuality = 'medium';
      g.drawImage(b, sx - (b.width * k) / 2, sy - (b.height * k) / 2, b.width * k, b.height * k);
    } else {
      const local = t % a.perPage;
      // inset by a pixel: filtering must not pick up the neighbouring tile's edge
      g.drawImage(
        page,
        (local % a.columns) * a.tile + 1,
        Math.floor(local / a.columns) * a.tile + 1,
        a.tile - 2,
        a.tile - 2,
        sx - half,
        sy - half,
        size,
        size,
      );
    }
    if (frame) {
      const fw = Math.max(1, Math.min(3, size / 16));
      g.strokeStyle = frame;
      g.lineWidth = fw;
      g.strokeRect(sx - half - fw / 2, sy - half - fw / 2, size + fw, size + fw);
    }
  }

  private local(e: { clientX: number; clientY: number }): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  private bindEvents(): void {
    const c = this.canvas;
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const [sx, sy] = this.local(e);
        const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
        this.zoomBy(Math.exp(-delta * 0.0015), sx, sy);
      },
      { passive: false },
    );
    c.addEventListener('dblclick', (e) => {
      const [sx, sy] = this.local(e);
      this.zoomBy(e.shiftKey ? 0.5 : 2, sx, sy);
    });
    c.addEventListener('pointerdown', (e) => {
      if (e.pointerType === 'mouse' && e.button !== 0) return;
      c.setPointerCapture(e.pointerId);
      c.focus({ preventScroll: true });
      const [sx, sy] = this.local(e);
      this.pointers.set(e.pointerId, { x: sx, y: sy });
      if (this.pointers.size === 2) {
        // a second finger: pinch (whatever the first one was doing)
        this.lasso = null;
        this.drag = null;
        this.startPinch();
        this.schedule();
        return;
      }
      if (this.pointers.size > 2) return;
      if (this.lassoMode || e.shiftKey) this.lasso = [[sx, sy]];
      else this.drag = { x: sx, y: sy, cx: this.cx, cy: this.cy, moved: false, touch: e.pointerType !== 'mouse' };
    });
    c.addEventListener('pointermove', (e) => {
      const [sx, sy] = this.local(e);
      const p = this.pointers.get(e.pointerId);
      if (p) [p.x, p.y] = [sx, sy];
      if (this.pinch) {
        this.movePinch();
        return;
      }
      if (this.lasso) {
        const last = this.lasso[this.lasso.length - 1]!;
        if (Math.hypot(sx - last[0], sy - last[1]) >= 3) {
          this.lasso.push([sx, sy]);
          this.schedule();
        }
        return;
      }
      if (this.drag) {
        const dx = sx - this.drag.x;
        const dy = sy - this.drag.y;
        if (!this.drag.moved && Math.hypot(dx, dy) < (this.drag.touch ? TAP_SLOP_TOUCH : 4)) return;
        this.drag.moved = true;
        this.cx = this.drag.cx - dx / this.scale;
        this.cy = this.drag.cy - dy / this.scale;
        this.changed();
        return;
      }
      // hover is for pointers that hover (a mouse, a pen above the screen), never a finger
      if (e.pointerType !== 'touch') this.options.onHover?.(this.hit(sx, sy), e.clientX, e.clientY);
    });
    const end = (e: PointerEvent): void => {
      const [sx, sy] = this.local(e);
      this.pointers.delete(e.pointerId);
      if (this.pinch) {
        if (this.pointers.size >= 2) this.startPinch();
        else {
          this.pinch = null;
          // the finger left on the screen keeps panning from where it is; no tap at its end
          const rest = [...this.pointers.values()][0];
          if (rest) this.drag = { x: rest.x, y: rest.y, cx: this.cx, cy: this.cy, moved: true, touch: true };
        }
        return;
      }
      if (this.lasso) {
        const poly = this.lasso;
        this.lasso = null;
        this.schedule();
        if (poly.length >= 3) this.options.onLasso?.(this.insidePolygon(poly), e.ctrlKey || e.metaKey);
        return;
      }
      if (this.drag) {
        const { moved, touch } = this.drag;
        this.drag = null;
        if (moved || e.type !== 'pointerup') return;
        if (touch) this.tap(sx, sy);
        else this.options.onClick?.(this.hit(sx, sy));
      }
    };
    c.addEventListener('pointerup', end);
    c.addEventListener('pointercancel', end);
    c.addEventListener('pointerleave', (e) => {
      if (e.pointerType !== 'touch') this.options.onHover?.(null, 0, 0);
    });
    c.addEventListener('keydown', (e) => {
      if (e.key === '+' || e.key === '=') this.zoomBy(1.5);
      else if (e.key === '-') this.zoomBy(1 / 1.5);
      else if (e.key === '0') this.resetView();
      else if (e.key === 'ArrowLeft') this.panBy(-0.15, 0);
      else if (e.key === 'ArrowRight') this.panBy(0.15, 0);
      else if (e.key === 'ArrowUp') this.panBy(0, -0.15);
      else if (e.key === 'ArrowDown') this.panBy(0, 0.15);
      else return;
      e.preventDefault();
    });
  }

  /** A finger's tap: picks the image under it (a finger-sized target), unless a second tap zooms in. */
  private tap(sx: number, sy: number): void {
    const prev = this.pendingTap;
    if (prev && performance.now() - prev.at < DOUBLE_TAP_MS && Math.hypot(sx - prev.x, sy - prev.y) < 30) {
      clearTimeout(prev.timer);
      this.pendingTap = null;
      this.zoomBy(2, sx, sy);
      return;
    }
    if (prev) clearTimeout(prev.timer);
    const picked = this.hit(sx, sy, TOUCH_TARGET);
    this.pendingTap = {
      x: sx,
      y: sy,
      at: performance.now(),
      timer: setTimeout(() => {
        this.pendingTap = null;
        this.options.onClick?.(picked);
      }, DOUBLE_TAP_MS),
    };
  }

  /** Pinch from the first two pointers: the world point under their middle stays under it. */
  private startPinch(): void {
    const [a, b] = [...this.pointers.values()];
    const mx = (a!.x + b!.x) / 2;
    const my = (a!.y + b!.y) / 2;
    const [wx, wy] = this.toWorld(mx, my);
    this.pinch = { dist: Math.max(1, Math.hypot(a!.x - b!.x, a!.y - b!.y)), wx, wy, scale: this.scale };
  }

  private movePinch(): void {
    const pinch = this.pinch!;
    const [a, b] = [...this.pointers.values()];
    if (!a || !b) return;
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    const k = Math.hypot(a.x - b.x, a.y - b.y) / pinch.dist;
    this.scale = Math.min(this.fitScale * 400, Math.max(this.fitScale * 0.5, pinch.scale * k));
    this.cx = pinch.wx - (mx - this.width / 2) / this.scale;
    this.cy = pinch.wy - (my - this.height / 2) / this.scale;
    this.changed();
  }

  /** Points whose screen position is inside a polygon (even-odd rule). */
  private insidePolygon(poly: [number, number][]): number[] {
    let minX = Infinity,
      minY = Infinity,
      maxX = -Infinity,
      maxY = -Infinity;
    for (const [x, y] of poly) {
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    const [wx0, wy0] = this.toWorld(minX, minY);
    const [wx1, wy1] = this.toWorld(maxX, maxY);
    const out: number[] = [];
    for (const i of this.pointsIn(wx0, wy0, wx1, wy1)) {
      const [px, py] = this.toScreen(this.wx[i]!, this.wy[i]!);
      let inside = false;
      for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
        const [xa, ya] = poly[a]!;
        const [xb, yb] = poly[b]!;
        if (ya > py !== yb > py && px < ((xb - xa) * (py - ya)) / (yb - ya) + xa) inside = !inside;
      }
      if (inside) out.push(i);
    }
    return out;
  }
}

interface View {
  scale: number;
  cx: number;
  cy: number;
  width: number;
  height: number;
}

interface Layer {
  canvas: HTMLCanvasElement;
  g: CanvasRenderingContext2D;
}

interface RenderTask {
  view: View;
  dpr: number;
  /** thumbnail side on screen (CSS px) */
  size: number;
  thumbs: boolean;
  /** sharper thumbnails' level wanted (0: the atlas only) */
  detail: number;
  normal: number[];
  /** highlighted, selected and focused points, drawn last and never dimmed */
  front: number[];
  next: number;
  started: boolean;
}

/** In place: each pixel becomes the sum of the d×d box ending at it (the dots whose top-left corner is within d − 1 px up and left). */
function boxSum(a: Float32Array, w: number, h: number, d: number): void {
  const row = new Float32Array(w);
  for (let o = 0; o < w * h; o += w) {
    row.set(a.subarray(o, o + w));
    let acc = 0;
    for (let x = 0; x < w; x++) {
      acc += row[x]! - (x >= d ? row[x - d]! : 0);
      a[o + x] = acc;
    }
  }
  // down the columns, row by row: running sums per column, less the row that left the box
  const ring = new Float32Array(w * d);
  const sums = new Float32Array(w);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const slot = (y % d) * w;
    for (let x = 0; x < w; x++) {
      const v = a[o + x]!;
      const acc = sums[x]! + v - (y >= d ? ring[slot + x]! : 0);
      ring[slot + x] = v;
      sums[x] = acc;
      a[o + x] = acc;
    }
  }
}

/** A colour faded towards the background by `alpha` (1: as it is), as [r, g, b]. */
function blend(rgb: number, alpha: number): [number, number, number] {
  const r = (rgb >> 16) & 255,
    g = (rgb >> 8) & 255,
    b = rgb & 255;
  if (alpha >= 1) return [r, g, b];
  const bg = BACKGROUND_RGB;
  return [
    Math.round(((bg >> 16) & 255) + (r - ((bg >> 16) & 255)) * alpha),
    Math.round(((bg >> 8) & 255) + (g - ((bg >> 8) & 255)) * alpha),
    Math.round((bg & 255) + (b - (bg & 255)) * alpha),
  ];
}

function offscreen(): Layer {
  const canvas = document.createElement('canvas');
  return { canvas, g: canvas.getContext('2d', { alpha: false, willReadFrequently: false })! };
}
