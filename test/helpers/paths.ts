/** Where test data lives, and skipping cleanly where the shared data set is absent. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EXAMPLES = join(REPO, 'examples', 'photos');
/** ../shared/data next to the checkout (present on the developers' machines and CI, not on users'). */
export const SHARED_DATA = resolve(REPO, '..', 'shared', 'data');

export function sharedDataPath(...parts: string[]): string | null {
  const p = join(SHARED_DATA, ...parts);
  return existsSync(p) ? p : null;
}

/** Log once why a suite is skipped. */
export function skipNote(what: string): string {
  const msg = `skipped: ${what} needs ${SHARED_DATA} (the shared ImageNet / flower samples), which is absent`;
  console.warn(msg);
  return msg;
}
