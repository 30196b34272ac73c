/**
 * The HTTP server of `convlens serve` / `convlens demo`: the JSON API (schemas.ts declares every
 * route) and the built web app. See README.md in this folder for the API.
 */
export { DEFAULT_HOST, DEFAULT_PORT, isLoopback } from './address.js';
export { createServer, DEFAULT_MAX_UPLOAD_BYTES, type ServerOptions, type ServerLensOptions, type ConvlensServer } from './app.js';
export type { ServerContext } from './context.js';
export { resolveIndexFolder, openCollectionFile } from './paths.js';
export { API, type RouteSpec } from './schemas.js';
export type * from './schemas.js';
