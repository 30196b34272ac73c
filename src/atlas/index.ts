/**
 * Pictures of a whole collection for browsers: sprite atlases of its thumbnails (the web map and
 * the HTML map draw tens of thousands of images from a few pages), sharper per-image thumbnails
 * on demand (levels of detail as the map zooms in), and the self-contained HTML map.
 */
export { buildAtlas, autoTileSize, type Atlas, type AtlasPage, type AtlasOptions, type ThumbnailLookup } from './atlas.js';
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
