/** `npm run docs`: the HTTP API reference in src/server/README.md, written from the route schemas. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withApiReference } from '../src/server/api-doc.js';

const readme = join(import.meta.dirname, '..', 'src', 'server', 'README.md');
const before = readFileSync(readme, 'utf8');
const after = withApiReference(before);
if (after !== before) writeFileSync(readme, after);
console.log(`${readme}: ${after === before ? 'up to date' : 'API reference rewritten'}`);
