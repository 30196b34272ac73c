/**
 * `createServer`: the HTTP API over a collection database and the built browser app, as a
 * fastify instance. Listens on 127.0.0.1 unless told otherwise; answers every failure with a JSON
 * error `{"error": {"code", "message"}}` and a 4xx/5xx status; refuses requests whose Host is not
 * this server (DNS rebinding) and cross-site writes (another page posting to localhost).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ConvlensError } from '../core/errors.js';
import { ServerContext, type ServerLensOptions } from './context.js';
import { errorReply, forbidden, notFound } from './http.js';
import { registerImageRoutes } from './routes-images.js';
import { registerJobRoutes } from './routes-jobs.js';
import { registerSearchRoutes } from './routes-search.js';

export interface ServerOptions {
  /** collection database (created, empty, when missing) */
  db: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 8080; 0 picks a free port */
  port?: number;
  /** folders under which clients may start index jobs (default none) */
  allowedRoots?: string[];
  /** largest upload in bytes (default 20 MB) */
  maxUploadBytes?: number;
  /**
   * where uploads sent with store=true are saved and indexed from (default `<db>.uploads` next to
   * the database; null: uploads are never stored)
   */
  uploadsDir?: string | null;
  /** the built browser app (default dist/web of this package; null: API only) */
  webDir?: string | null;
  /** longer side of thumbnails made by index jobs (default 128) */
  thumbnailSize?: number;
  /** network options (threads, batch size, pixel limit, model cache) */
  lens?: ServerLensOptions;
  /** fastify's request log (default off) */
  logger?: boolean;
}

export interface ConvlensServer {
  app: FastifyInstance;
  context: ServerContext;
  /** start listening; resolves to the base URL */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

/** dist/web, from src/server (sources) and dist/server (package) alike. */
export function defaultWebDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'web');
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

function hostnameOf(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

function sendError(reply: FastifyReply, e: unknown, log: (e: unknown) => void): FastifyReply {
  const r = errorReply(e);
  if (r.internal) log(e);
  return reply.code(r.status).type('application/json; charset=utf-8').send(r.body);
}

export async function createServer(options: ServerOptions): Promise<ConvlensServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConvlensError('E_USAGE', `port must be in 0..65535 (got ${port})`);
  if (!(maxUploadBytes > 0)) throw new ConvlensError('E_USAGE', 'maxUploadBytes must be positive');
  const db = resolve(options.db);
  const uploadsDir = options.uploadsDir === undefined ? `${db}.uploads` : options.uploadsDir === null ? null : resolve(options.uploadsDir);
  const allowedRoots = (options.allowedRoots ?? []).map((r) => resolve(r));
  const context = new ServerContext({
    db,
    allowedRoots,
    maxUploadBytes,
    uploadsDir,
    thumbnailSize: options.thumbnailSize ?? 128,
    lens: options.lens ?? {},
  });

  const logInternal = (e: unknown): void => {
    console.error('convlens serve: internal error:', e);
  };
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 4 * 1024 * 1024,
    // malformed URLs and the like are answered in our JSON shape too
    frameworkErrors: (error, _req, reply) => {
      void (reply as FastifyReply)
        .code(400)
        .type('application/json; charset=utf-8')
        .send({ error: { code: 'E_USAGE', message: error.message.split('\n')[0] } });
    },
  });

  // DNS rebinding: a loopback server answers only requests addressed to a loopback name
  const checkHost = LOOPBACK.has(host);
  const allowedHosts = new Set([...LOOPBACK, host.toLowerCase()]);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const hostHeader = req.headers.host;
    if (checkHost && hostHeader && !allowedHosts.has(hostnameOf(hostHeader))) throw forbidden('unexpected Host header');
    // cross-site writes: a page elsewhere must not post to this server through the user's browser
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        let ok = false;
        try {
          ok = hostHeader !== undefined && new URL(origin).host === hostHeader.toLowerCase();
        } catch {
          ok = false;
        }
        if (!ok) throw forbidden('cross-origin requests are not accepted');
      }
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
    }
    return payload;
  });

  // JSON bodies and multipart uploads only: a plain-text POST (what a cross-site form can send) is refused
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, _req, reply) => sendError(reply, error, logInternal));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, notFound(`no such route: ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`), logInternal),
  );

  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 10, parts: 20, fieldSize: 10_000 } });
  registerImageRoutes(app, context);
  registerSearchRoutes(app, context);
  registerJobRoutes(app, context);

  const webDir = options.webDir === undefined ? defaultWebDir() : options.webDir === null ? null : resolve(options.webDir);
  if (webDir !== null && existsSync(join(webDir, 'index.html'))) {
    await app.register(fastifyStatic, {
      root: webDir,
      prefix: '/',
      index: 'index.html',
      dotfiles: 'deny',
      wildcard: true,
      cacheControl: true,
      maxAge: 0,
    });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('convlens: the web app is not built (run "npm run build"); the API is under /api/\n'),
    );
  }

  await app.ready();
  let closed = false;
  return {
    app,
    context,
    async listen() {
      try {
        await app.listen({ host, port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new ConvlensError('E_USAGE', `port ${port} is in use (choose another with --port)`);
        if (code === 'EACCES') throw new ConvlensError('E_USAGE', `not allowed to listen on port ${port} (choose one above 1023)`);
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
          throw new ConvlensError('E_USAGE', `cannot listen on ${host} (not an address of this machine)`);
        throw e;
      }
      const addr = app.server.address();
      const actualPort = typeof addr === 'object' && addr ? addr.port : port;
      const shown = host.includes(':') ? `[${host}]` : host;
      return `http://${shown}:${actualPort}/`;
    },
    async close() {
      if (closed) return;
      closed = true;
      await context.jobs.close();
      await app.close();
      await context.close();
    },
  };
}
