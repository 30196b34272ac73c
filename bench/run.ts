/**
 * npm run bench -- <name> [args]: runs bench/<name>.ts (default: model).
 * Names: model, int8, index, cli, scale, large, map-web, search, tsne, heads, server, plot-thumbs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './common.js';

const [name = 'model', ...args] = process.argv.slice(2);
const file = join(BENCH_DIR, `${name}.ts`);
if (!/^[a-z0-9-]+$/.test(name) || !existsSync(file)) {
  console.error(`convlens bench: unknown benchmark "${name}"`);
  process.exit(1);
}
const mod = (await import(`./${name}.js`)) as { run: (args: string[]) => Promise<void> };
await mod.run(args);
