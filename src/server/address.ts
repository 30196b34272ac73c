/** Where the server listens by default, and what counts as loopback (no dependencies: the CLI reads these early). */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase());
}

/** The names a loopback server answers to (DNS rebinding: any other Host is refused). */
export function loopbackNames(): Set<string> {
  return new Set(LOOPBACK);
}
