/**
 * The HTTP server of `convlens serve` / `convlens demo` (JSON API + the built web app), and the
 * standalone HTML map with its thumbnail atlas. See README.md in this folder for the API.
 */
export {
  createServer,
  defaultWebDir,
  DEFAULT_HOST,
  DEFAULT_PORT,
  DEFAULT_MAX_UPLOAD_BYTES,
  type ServerOptions,
  type ConvlensServer,
} from './app.js';
export type { ServerContext, ServerLensOptions } from './context.js';
export { buildAtlas, autoTileSize, type Atlas, type AtlasPage, type AtlasOptions } from './atlas.js';
export { mapHtml, collectionMapHtml, type HtmlMapPoint, type MapHtmlOptions } from './html-map.js';
export { resolveIndexFolder, openCollectionFile, isInside } from './paths.js';
export { MicroBatcher, type SearchRequest } from './collection.js';
export type * from './api-types.js';
