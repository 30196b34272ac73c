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
