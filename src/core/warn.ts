/**
 * Warnings the library gives once (a damaged cache rebuilt, a stale index not used): to stderr
 * as one line by default; an application can take them instead.
 */
let handler: (message: string) => void = (m) => process.stderr.write(`convlens: warning: ${m}\n`);
const given = new Set<string>();

export function onWarning(fn: (message: string) => void): void {
  handler = fn;
}

/** Say it once per process. */
export function warnOnce(message: string): void {
  if (given.has(message)) return;
  given.add(message);
  handler(message);
}

let noticeHandler: (message: string) => void = (m) => process.stderr.write(`convlens: ${m}\n`);

/** Take the library's notices (long one-time work starting, e.g. int8 calibration) instead of stderr. */
export function onNotice(fn: (message: string) => void): void {
  noticeHandler = fn;
}

/** Tell a person that something slow is happening, and why. */
export function notice(message: string): void {
  noticeHandler(message);
}
