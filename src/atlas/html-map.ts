/**
 * The standalone HTML map: one self-contained .html file (no CDN, no server) that pans and zooms
 * over a collection's map drawn with its thumbnails, hover showing the thumbnail, path and top
 * prediction. It runs the same viewer code as the web app's map explorer: the viewer is built by
 * vite as an IIFE bundle (dist/web/viewer/) and inlined here with the points and the atlas pages
 * (as base64 data URLs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConvlensError } from '../core/errors.js';
import { builtWebDir } from '../core/package.js';
import type { Atlas } from './atlas.js';
import type { StandaloneMapData } from './types.js';

export interface HtmlMapPoint {
  x: number;
  y: number;
  /** image id: finds the point's tile in the atlas */
  id: number;
  path: string;
  /** top prediction (class name) shown on hover, and the colour with colorBy 'prediction' */
  prediction: string;
  /** its probability, shown on hover */
  probability?: number;
  label?: string | null;
}

export interface MapHtmlOptions {
  title: string;
  subtitle?: string;
  points: HtmlMapPoint[];
  atlas: Atlas;
  /** frame colour of each thumbnail (default 'prediction') */
  colorBy?: 'prediction' | 'label' | 'none';
  /** the built viewer (default dist/web/viewer of this package) */
  viewerDir?: string;
}

const VIEWER_JS = 'convlens-map.js';
/** The page loads nothing: images are data URLs, the viewer's script and style are inline. */
const CSP = "default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'";
const VIEWER_CSS = 'convlens-map.css';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element (no "</script>", no "<!--"). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function interned(values: string[]): { index: number[]; names: string[] } {
  const names: string[] = [];
  const at = new Map<string, number>();
  const index = values.map((v) => {
    let i = at.get(v);
    if (i === undefined) {
      i = names.length;
      names.push(v);
      at.set(v, i);
    }
    return i;
  });
  return { index, names };
}

/** The whole map as one HTML document. */
export function mapHtml(options: MapHtmlOptions): string {
  const dir = options.viewerDir ?? join(builtWebDir(), 'viewer');
  const jsFile = join(dir, VIEWER_JS);
  if (!existsSync(jsFile)) throw new ConvlensError('E_INTERNAL', `the map viewer is not built (${jsFile} is missing; run "npm run build")`);
  const js = readFileSync(jsFile, 'utf8');
  const cssFile = join(dir, VIEWER_CSS);
  const css = existsSync(cssFile) ? readFileSync(cssFile, 'utf8') : '';
  const pts = options.points;
  const preds = interned(pts.map((p) => p.prediction));
  const labelled = interned(pts.filter((p) => p.label).map((p) => p.label!));
  const labelAt = new Map(labelled.names.map((n, i) => [n, i]));
  const a = options.atlas;
  const data: StandaloneMapData = {
    title: options.title,
    subtitle: options.subtitle ?? `${pts.length} images`,
    colorBy: options.colorBy ?? 'prediction',
    ids: pts.map((p) => p.id),
    x: pts.map((p) => p.x),
    y: pts.map((p) => p.y),
    paths: pts.map((p) => p.path),
    predictions: preds.index,
    predictionNames: preds.names,
    probabilities: pts.map((p) => (p.probability === undefined ? -1 : Number(p.probability.toPrecision(4)))),
    labels: pts.map((p) => (p.label ? labelAt.get(p.label)! : -1)),
    labelNames: labelled.names,
    atlas: {
      tile: a.tile,
      columns: a.columns,
      perPage: a.perPage,
      ids: Array.from(a.ids),
      colors: Array.from(a.colors),
      pages: a.pages.map((p) => ({
        width: p.width,
        height: p.height,
        count: p.count,
        src: `data:${p.mime};base64,${p.data.toString('base64')}`,
      })),
    },
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${escapeHtml(options.title)}</title>
<style>${css.replace(/<\/style/gi, '<\\/style')}</style>
</head>
<body class="convlens-standalone">
<div id="convlens-map"></div>
<script type="application/json" id="convlens-map-data">${scriptJson(data)}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`;
}
