/**
 * Pictures of a whole collection for browsers: sprite atlases of its thumbnails (the web map and
 * the HTML map draw tens of thousands of images from a few pages), sharper per-image thumbnails
 * on demand (levels of detail as the map zooms in), atlases per map cell (a million-image map fetches
 * only the cells in view), and the self-contained HTML map.
 */
export { buildAtlas, autoTileSize, type Atlas, type AtlasPage, type AtlasOptions, type ThumbnailLookup } from './atlas.js';
export { MapCells, mapSquare, cellCoord, CELL_LEVELS, CELL_MAX_IMAGES } from './cells.js';
export { mapHtml, type HtmlMapPoint, type MapHtmlOptions } from './html-map.js';
export {
  sizedThumbnail,
  thumbnailLevel,
  ThumbnailCache,
  THUMBNAIL_LEVELS,
  type SizedThumbnailOptions,
  type ThumbnailCacheOptions,
} from './sized.js';
export type { StandaloneMapData } from './types.js';
