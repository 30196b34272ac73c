/**
 * HTTP plumbing shared by the routes: every failure becomes `{"error": {"code", "message"}}` with
 * a 4xx/5xx status (never a stack trace), and query/body parameters are checked here, so a bad
 * request is answered with a code instead of reaching the library.
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
  E_PERMISSION: 403,
  E_IS_DIRECTORY: 400,
  E_EMPTY: 400,
  E_NOT_IMAGE: 415,
  E_TRUNCATED: 422,
  E_CORRUPT: 422,
  E_TOO_LARGE: 413,
  E_SETTINGS_MISMATCH: 409,
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
    return { status: 500, body: { error: { code: e.code, message: e.message } }, internal: true };
  }
  const err = e as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown } | null;
  if (err && typeof err.code === 'string' && FASTIFY[err.code]) {
    const [status, code] = FASTIFY[err.code]!;
    return { status, body: { error: { code, message: cleanMessage(err.message) } }, internal: false };
  }
  if (err && err.name === 'AbortError') return { status: 409, body: { error: { code: 'E_USAGE', message: 'cancelled' } }, internal: false };
  const statusCode = err && typeof err.statusCode === 'number' ? err.statusCode : 500;
  if (statusCode >= 400 && statusCode < 500) {
    return {
      status: statusCode,
      body: { error: { code: statusCode === 413 ? 'E_TOO_LARGE' : 'E_USAGE', message: cleanMessage(err?.message) } },
      internal: false,
    };
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

type Query = Record<string, unknown>;

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be given once`);
  return v;
}

export function intParam(q: Query, name: string, opts: { min: number; max: number; fallback?: number }): number | undefined {
  const s = single(q, name);
  if (s === undefined || s === '') return opts.fallback;
  if (!/^-?\d{1,15}$/.test(s)) throw badRequest(`${name} must be an integer in ${opts.min}..${opts.max}`);
  const n = Number(s);
  if (n < opts.min || n > opts.max) throw badRequest(`${name} must be an integer in ${opts.min}..${opts.max}`);
  return n;
}

export function floatParam(q: Query, name: string, opts: { min: number; max: number }): number | undefined {
  const s = single(q, name);
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  if (!/^[-+0-9.eE]{1,40}$/.test(s) || !Number.isFinite(n) || n < opts.min || n > opts.max) {
    throw badRequest(`${name} must be a number in [${opts.min}, ${opts.max}]`);
  }
  return n;
}

export function enumParam<T extends string>(q: Query, name: string, values: readonly T[], fallback: T): T {
  const s = single(q, name);
  if (s === undefined || s === '') return fallback;
  if (!(values as readonly string[]).includes(s)) throw badRequest(`${name} must be one of ${values.join(', ')}`);
  return s as T;
}

export function boolParam(q: Query, name: string): boolean {
  const s = single(q, name);
  if (s === undefined || s === '' || s === 'false' || s === '0') return false;
  if (s === 'true' || s === '1') return true;
  throw badRequest(`${name} must be true or false`);
}

export function stringParam(q: Query, name: string, maxLength = 200): string | undefined {
  const s = single(q, name);
  if (s === undefined) return undefined;
  if (s.length > maxLength || /[\u0000-\u001f]/.test(s)) throw badRequest(`${name} must be at most ${maxLength} printable characters`);
  return s;
}

/** An image id from a route parameter. */
export function idParam(params: unknown): number {
  const s = (params as { id?: unknown })?.id;
  if (typeof s !== 'string' || !/^\d{1,12}$/.test(s)) throw badRequest('the image id must be a positive integer');
  return Number(s);
}

/** A JSON body as a plain object. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A list of distinct image ids from a JSON body. */
export function idList(body: Record<string, unknown>, max = 100_000): number[] {
  const ids = body['ids'];
  if (!Array.isArray(ids) || ids.length === 0) throw badRequest('ids must be a non-empty array of image ids');
  if (ids.length > max) throw badRequest(`at most ${max} ids at once`);
  for (const id of ids) if (!Number.isSafeInteger(id) || (id as number) < 0) throw badRequest('ids must be integers ≥ 0');
  return [...new Set(ids as number[])];
}

/** A user label: trimmed, 1-100 printable characters. */
export function labelValue(v: unknown): string {
  if (typeof v !== 'string') throw badRequest('label must be a string');
  const s = v.trim();
  if (s.length === 0 || s.length > 100 || /[\u0000-\u001f\u007f]/.test(s)) throw badRequest('label must be 1-100 printable characters');
  return s;
}
