/**
 * Errors that reach users. Every failure a user can cause carries a stable `code` (used in JSON
 * output and HTTP answers) and a one-line message; the CLI prints these without a stack trace.
 */
export type ErrorCode =
  // inputs
  | 'E_NOT_FOUND' // the path does not exist
  | 'E_PERMISSION' // the path exists but cannot be read
  | 'E_IS_DIRECTORY' // a file was expected
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
