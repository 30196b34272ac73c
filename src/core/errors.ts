/**
 * Errors that reach users. Every failure a user can cause carries a stable `code` (used in JSON
 * output and HTTP answers) and a one-line message; the CLI prints these without a stack trace.
 */
export type ErrorCode =
  // inputs
  | 'E_NOT_FOUND' // the path does not exist
  | 'E_PERMISSION' // the path exists but cannot be read
  | 'E_IS_DIRECTORY' // a file was expected
  | 'E_NOT_FILE' // a FIFO, socket or device where a regular file was expected
  | 'E_EMPTY' // zero bytes
  | 'E_NOT_IMAGE' // bytes are not an image format we decode (text, random bytes, ...)
  | 'E_TRUNCATED' // a known image format whose data ends early
  | 'E_CORRUPT' // a known image format whose data cannot be decoded
  | 'E_TOO_LARGE' // more pixels than the decompression-bomb limit
  | 'E_BAD_PIXELS' // raw pixel input with wrong length or shape
  // usage and data
  | 'E_USAGE' // bad flags or arguments
  | 'E_BAD_INPUT' // a data file (labels, model dir, ...) that is malformed
  | 'E_MODEL' // the network cannot be loaded or converted
  | 'E_UNSUPPORTED_LAYER' // the converter meets a layer or config it cannot translate
  | 'E_DB' // the collection database cannot be opened or is inconsistent
  | 'E_DB_BUSY' // another process holds the collection (an index run, a lock past the busy timeout)
  | 'E_UNAVAILABLE' // a service convlens needs (PostgreSQL, Redis) cannot be reached
  | 'E_DISK_FULL' // no space left where convlens writes (database, model cache, output file)
  | 'E_IO' // the operating system failed to read or write (EIO, a closed pipe, ...)
  | 'E_SETTINGS_MISMATCH' // embeddings from different model / layer / preprocessing would be mixed
  | 'E_INTERNAL';

export class ConvlensError extends Error {
  readonly code: ErrorCode;
  /** The file or item the error is about, when there is one. */
  readonly file?: string;

  constructor(code: ErrorCode, message: string, options?: { file?: string; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'ConvlensError';
    this.code = code;
    if (options?.file !== undefined) this.file = options.file;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isConvlensError(e: unknown): e is ConvlensError {
  return e instanceof ConvlensError;
}

/** Any thrown value as a ConvlensError; unknown errors become E_INTERNAL with their message. */
export function toConvlensError(e: unknown, file?: string): ConvlensError {
  if (e instanceof ConvlensError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ConvlensError('E_INTERNAL', message, { file, cause: e });
}

/**
 * An operating-system error (fs, streams) as a coded one-line error naming the file: the codes a
 * user can act on (space, permissions, missing paths) are kept apart from the rest.
 */
export function fsError(e: unknown, file: string | undefined, doing: string): ConvlensError {
  if (e instanceof ConvlensError) return e;
  const code = (e as NodeJS.ErrnoException)?.code;
  const say = (c: ErrorCode, what: string): ConvlensError => new ConvlensError(c, `${doing}: ${what}`, { file, cause: e });
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return say('E_DISK_FULL', 'no space left on the device');
    case 'EFBIG':
      return say('E_DISK_FULL', 'file too large for the device or its limits');
    case 'EACCES':
    case 'EPERM':
      return say('E_PERMISSION', 'permission denied');
    case 'EROFS':
      return say('E_PERMISSION', 'read-only file system');
    case 'ENOENT':
      return say('E_NOT_FOUND', 'no such file or folder');
    case 'EISDIR':
      return say('E_IS_DIRECTORY', 'is a directory');
    case 'ENOTDIR':
      return say('E_NOT_FOUND', 'a part of the path is not a folder');
    default:
      return say('E_IO', (e as Error)?.message?.split('\n')[0] ?? String(e));
  }
}
