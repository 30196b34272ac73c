/**
 * `createServer`: the HTTP API over a collection and the built browser app, as a fastify
 * instance. Only HTTP concerns live in src/server: routes, validation (the schemas), auth,
 * headers, jobs and reloads; every answer about images comes from the library (Collection).
 *
 * Security: listens on 127.0.0.1 unless told otherwise; bound to anything else it requires a
 * token on every API request (printed at start); refuses requests whose Host is not this server
 * (DNS rebinding) and cross-site writes; every answer carries nosniff and
 * `Cross-Origin-Resource-Policy: same-origin`, so no other site can embed the user's images.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Collection, type LensChoice, type RuntimeOptions } from '../collection/index.js';
import { ConvlensError } from '../core/errors.js';
import { builtWebDir } from '../core/package.js';
import { DEFAULT_HOST, DEFAULT_PORT, isLoopback, loopbackNames } from './address.js';
import { ServerContext } from './context.js';
import { errorReply, forbidden, notFound, unauthorized } from './http.js';
import { realRoots } from './paths.js';
import { registerImageRoutes } from './routes/images.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerMapRoutes } from './routes/maps.js';
import { registerSearchRoutes } from './routes/search.js';
import { registerTrainingRoutes } from './routes/training.js';
import type { App } from './routes/app-type.js';

/** Runtime options, and the lens of a new (empty) collection; an existing one keeps its own. */
export type ServerLensOptions = RuntimeOptions & LensChoice;

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
  /** stored uploads at most: count (default 1000) and bytes (default 1 GiB) */
  maxStoredUploads?: number;
  maxStoredUploadBytes?: number;
  /** the built browser app (default dist/web of this package; null: API only) */
  webDir?: string | null;
  /** longer side of thumbnails made by index jobs (default 128) */
  thumbnailSize?: number;
  /** network options (threads, batch size, pixel limit, model cache; resize of a new collection) */
  lens?: ServerLensOptions;
  /**
   * the token API requests must carry (Authorization: Bearer, the convlens_token cookie, or
   * ?token=). Default: none on loopback; on any other address $CONVLENS_TOKEN or a random one.
   */
  token?: string | null;
  /** fastify's request log (default off) */
  logger?: boolean;
}

export interface ConvlensServer {
  app: App;
  context: ServerContext;
  /** the token API requests need (null: none) */
  token: string | null;
  /** start listening; resolves to the base URL */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

const TOKEN_COOKIE = 'convlens_token';

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

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export async function createServer(options: ServerOptions): Promise<ConvlensServer> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const maxUploadBytes = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConvlensError('E_USAGE', `port must be in 0..65535 (got ${port})`);
  if (!(maxUploadBytes > 0)) throw new ConvlensError('E_USAGE', 'maxUploadBytes must be positive');
  const token =
    options.token !== undefined && options.token !== null
      ? options.token
      : isLoopback(host)
        ? null
        : process.env['CONVLENS_TOKEN'] || randomBytes(18).toString('base64url');
  if (token !== null && token.length < 8) throw new ConvlensError('E_USAGE', 'the token must be at least 8 characters');
  const db = options.db.includes('://') ? options.db : resolve(options.db);
  const uploadsDir =
    options.uploadsDir === undefined
      ? db.includes('://')
        ? null
        : `${db}.uploads`
      : options.uploadsDir === null
        ? null
        : resolve(options.uploadsDir);
  const { resize, precision, calibration, model, layer, ...runtime } = options.lens ?? {};
  const lens: LensChoice = Object.fromEntries(
    Object.entries({ resize, precision, calibration, model, layer }).filter(([, v]) => v !== undefined),
  );
  const collection = await Collection.open(db, { create: true, runtime, searchThread: true, lens });
  const context = await ServerContext.create(collection, {
    allowedRoots: await realRoots(options.allowedRoots ?? []),
    maxUploadBytes,
    uploadsDir,
    maxStoredUploads: options.maxStoredUploads ?? 1000,
    maxStoredUploadBytes: options.maxStoredUploadBytes ?? 2 ** 30,
    thumbnailSize: options.thumbnailSize ?? 128,
    runtime,
    lens,
  }).catch(async (e: unknown) => {
    await collection.close();
    throw e;
  });
  context.authRequired = token !== null;
  // read ahead what the first page load and the first threshold of a large collection would wait
  // for: the current map (a million points take a second to read and check), the search's sample
  void context.live
    .current()
    .then((snap) => context.currentMapKey(snap))
    .then(() => collection.search())
    .then((search) => search.prepare())
    .catch(() => undefined);

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
    // a request Node's parser refuses (headers too large, garbage) still gets a JSON answer
    clientErrorHandler: (err: NodeJS.ErrnoException & { bytesParsed?: number }, socket: Socket) => {
      if (!socket.writable) return;
      const big = err.code === 'HPE_HEADER_OVERFLOW';
      const status = big ? 431 : 400;
      const body = JSON.stringify({
        error: { code: big ? 'E_TOO_LARGE' : 'E_USAGE', message: big ? 'request headers too large' : 'malformed request' },
      });
      const reason = big ? 'Request Header Fields Too Large' : 'Bad Request';
      socket.end(
        `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\ncross-origin-resource-policy: same-origin\r\n` +
          `connection: close\r\n\r\n${body}`,
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // DNS rebinding: a loopback server answers only requests addressed to a loopback name
  const checkHost = isLoopback(host);
  const allowedHosts = new Set([...loopbackNames(), host.toLowerCase()]);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const hostHeader = req.headers.host;
    if (checkHost && hostHeader && !allowedHosts.has(hostnameOf(hostHeader))) throw forbidden('unexpected Host header');
    // cross-site writes: a page elsewhere must not post to this server through the user's browser
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined) {
        let same = false;
        try {
          same = hostHeader !== undefined && new URL(origin).host === hostHeader.toLowerCase();
        } catch {
          // not a URL: not the same origin
        }
        if (!same) throw forbidden('cross-origin requests are not accepted');
      }
    }
    if (token !== null) {
      const query = (req.query as Record<string, unknown> | undefined)?.['token'];
      const fromQuery = typeof query === 'string' ? query : undefined;
      const auth = req.headers.authorization;
      const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const cookie = cookieValue(req.headers.cookie, TOKEN_COOKIE);
      // the app's first page load carries ?token=: from then on the browser sends the cookie
      if (sameToken(fromQuery, token)) {
        reply.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      } else if (req.url.startsWith('/api/') && !sameToken(bearer, token) && !sameToken(cookie, token)) {
        throw unauthorized('this server needs its token (open the URL it printed, or send Authorization: Bearer TOKEN)');
      }
    }
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('cross-origin-resource-policy', 'same-origin');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; " +
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      );
    }
    return payload;
  });

  // query strings and path parameters arrive as text: their numbers and booleans are read by the
  // schemas (a repeated parameter is refused); JSON bodies keep their types (no "3" for 3)
  const textParts = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false });
  const jsonParts = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: true, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? jsonParts : textParts).compile(schema));

  // JSON bodies and multipart uploads only: a plain-text POST (what a cross-site form can send) is refused
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler((error, _req, reply) => sendError(reply, error, logInternal));
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, notFound(`no such route: ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`), logInternal),
  );

  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 1, fields: 10, parts: 20, fieldSize: 10_000 } });
  registerImageRoutes(app, context);
  registerSearchRoutes(app, context);
  registerMapRoutes(app, context);
  registerTrainingRoutes(app, context);
  registerJobRoutes(app, context);

  const webDir = options.webDir === undefined ? builtWebDir() : options.webDir === null ? null : resolve(options.webDir);
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

  try {
    await app.ready();
  } catch (e) {
    await context.close();
    throw e;
  }
  let closed = false;
  return {
    app,
    context,
    token,
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
