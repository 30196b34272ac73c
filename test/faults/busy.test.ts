/**
 * Fault: another process holds the SQLite database past the busy timeout (10 s) while `index`
 * wants to write: one coded line naming the database, exit 1, no stack trace, nothing changed.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { hasStackTrace, jsonLines, runCli } from '../helpers/cli.js';
import { EXAMPLES } from '../helpers/paths.js';
import { syntheticStore } from '../helpers/synthetic-store.js';

describe('a database locked by another process', () => {
  it('index waits the busy timeout, then says so in one coded line (E_DB_BUSY), exit 1, rows untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convlens-busy-'));
    const db = join(dir, 'c.db');
    await syntheticStore(db, join(dir, 'synthetic'), 5, { thumbnails: false });
    const folder = join(dir, 'photos');
    mkdirSync(folder);
    copyFileSync(join(EXAMPLES, 'skimage', 'coffee.png'), join(folder, 'coffee.png'));
    const holder = new Database(db);
    holder.exec('BEGIN EXCLUSIVE');
    let text;
    let json;
    try {
      [text, json] = await Promise.all([
        runCli(['index', folder, '--db', db, '--quiet']),
        runCli(['index', folder, '--db', db, '--json', '--quiet']),
      ]);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    expect(text.code, text.stderr).toBe(1);
    expect(text.stderr).toMatch(/\[E_DB_BUSY\]/);
    expect(text.stderr).toContain(db);
    expect(text.stderr.trim().split('\n')).toHaveLength(1);
    expect(hasStackTrace(text.stderr)).toBe(false);
    // --json: the summary so far, with the coded error
    expect(json.code).toBe(1);
    expect(jsonLines(json.stdout).at(-1)).toMatchObject({ indexed: 0, interrupted: true, error: { code: 'E_DB_BUSY' } });
    const store = await openStore(db, { readonly: true });
    expect((await store.count()).images).toBe(5);
    await store.close();
  }, 60_000);
});
