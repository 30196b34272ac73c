/** Facts about the installed convlens package: its version and where its built web files are. */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (from src/core in the sources and dist/core in the package alike). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** dist/web: the built browser app and map viewer. */
export function builtWebDir(): string {
  return resolve(PACKAGE_ROOT, 'dist', 'web');
}
