/**
 * HTTP plumbing shared by the routes: every failure becomes `{"error": {"code", "message"}}` with
 * a 4xx/5xx status (never a stack trace). Parameters are checked by the route schemas
 * (schemas.ts) before a handler runs; what reaches here is the library's coded errors.
 */
import { ConvlensError, type ErrorCode } from '../core/errors.js';

/** A ConvlensError with the HTTP status it should be answered with. */
export class HttpError extends ConvlensError {
  readonly status: number;
  constructor(status: number, code: ErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  E_USAGE: 400,
  E_BAD_INPUT: 400,
  E_BAD_PIXELS: 400,
  E_NOT_FOUND: 404,
  E_NOT_FILE: 404,
  E_PERMISSION: 403,
  E_IS_DIRECTORY: 400,
  E_EMPTY: 400,
  E_NOT_IMAGE: 415,
  E_TRUNCATED: 422,
  E_CORRUPT: 422,
  E_TOO_LARGE: 413,
  E_SETTINGS_MISMATCH: 409,
  E_DB_BUSY: 503,
  E_UNAVAILABLE: 503,
  E_DISK_FULL: 507,
};

/** Fastify's own errors (body parsing, multipart limits, ...) by their code. */
const FASTIFY: Record<string, [number, ErrorCode]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'E_TOO_LARGE'],
  FST_REQ_FILE_TOO_LARGE: [413, 'E_TOO_LARGE'],
  FST_PARTS_LIMIT: [413, 'E_TOO_LARGE'],
  FST_FILES_LIMIT: [413, 'E_TOO_LARGE'],
  FST_FIELDS_LIMIT: [413, 'E_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'E_USAGE'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'E_USAGE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'E_USAGE'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'E_USAGE'],
  FST_ERR_VALIDATION: [400, 'E_USAGE'],
};

export interface ErrorReply {
  status: number;
  body: { error: { code: string; message: string } };
  /** unexpected: worth logging */
  internal: boolean;
}

/** Any thrown value as a status and a JSON error body. */
export function errorReply(e: unknown): ErrorReply {
  if (e instanceof HttpError) return { status: e.status, body: { error: { code: e.code, message: e.message } }, internal: false };
  if (e instanceof ConvlensError) {
    const status = STATUS[e.code];
    if (status !== undefined) return { status, body: { error: { code: e.code, message: e.message } }, internal: false };
    if (e.code === 'E_DB') return { status: 409, body: { error: { code: e.code, message: e.message } }, internal: false };
    return {
      status: 500,
      body: { error: { code: e.code, message: e.code === 'E_INTERNAL' ? 'internal error (see the server log)' : e.message } },
      internal: true,
    };
  }
  const err = e as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown } | null;
  if (err && typeof err.code === 'string' && FASTIFY[err.code]) {
    const [status, code] = FASTIFY[err.code]!;
    return { status, body: { error: { code, message: cleanMessage(err.message) } }, internal: false };
  }
  if (err && err.name === 'AbortError') return { status: 409, body: { error: { code: 'E_USAGE', message: 'cancelled' } }, internal: false };
  const statusCode = err && typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (statusCode >= 400 && statusCode < 500) {
    const code =
      statusCode === 413 || statusCode === 431
        ? 'E_TOO_LARGE'
        : statusCode === 403
          ? 'E_PERMISSION'
          : statusCode === 404
            ? 'E_NOT_FOUND'
            : 'E_USAGE';
    return { status: statusCode, body: { error: { code, message: cleanMessage(err?.message) } }, internal: false };
  }
  return { status: 500, body: { error: { code: 'E_INTERNAL', message: 'internal error (see the server log)' } }, internal: true };
}

function cleanMessage(m: unknown): string {
  const s = typeof m === 'string' ? m : 'bad request';
  return s.split('\n')[0]!.slice(0, 300);
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'E_USAGE', message);
export const notFound = (message: string): HttpError => new HttpError(404, 'E_NOT_FOUND', message);
export const forbidden = (message: string): HttpError => new HttpError(403, 'E_PERMISSION', message);
export const unauthorized = (message: string): HttpError => new HttpError(401, 'E_PERMISSION', message);
