/** The README's API reference is the one the route schemas give (`npm run docs` rewrites it). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiReference, withApiReference } from '../../src/server/api-doc.js';
import { API } from '../../src/server/schemas.js';
import { REPO } from '../helpers/paths.js';

describe('API reference', () => {
  it('is up to date in src/server/README.md, one row per route', () => {
    const readme = readFileSync(join(REPO, 'src', 'server', 'README.md'), 'utf8');
    expect(withApiReference(readme), 'run "npm run docs"').toBe(readme);
    const table = apiReference();
    for (const r of Object.values(API)) expect(table).toContain(`\`${r.method} ${r.url}\``);
  });
});
