/**
 * Pictures of a whole collection for browsers: sprite atlases of its thumbnails (the web map and
 * the HTML map draw tens of thousands of images from a few pages), and the self-contained HTML map.
 */
export { buildAtlas, autoTileSize, type Atlas, type AtlasPage, type AtlasOptions, type ThumbnailLookup } from './atlas.js';
export { mapHtml, type HtmlMapPoint, type MapHtmlOptions } from './html-map.js';
export type { StandaloneMapData } from './types.js';
