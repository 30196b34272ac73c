/**
 * The services the scale-out tests use (PostgreSQL, Redis), as the machine starts them, or where
 * $CONVLENS_TEST_POSTGRES / $CONVLENS_TEST_REDIS point. Each test collection is a fresh PostgreSQL
 * schema, dropped afterwards; tests skip with a one-line reason when a service is absent.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import pg from 'pg';

export const POSTGRES_BASE = process.env.CONVLENS_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.CONVLENS_TEST_REDIS ?? 'redis://127.0.0.1:6379';

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || defaultPort), timeout: 1000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** null when PostgreSQL answers, else why the tests that need it are skipped. */
export async function postgresMissing(): Promise<string | null> {
  if (!(await reachable(POSTGRES_BASE, 5432))) {
    const why = `skipped: PostgreSQL is not running at ${POSTGRES_BASE} (set CONVLENS_TEST_POSTGRES, or start it as .ci/run does)`;
    console.warn(why);
    return why;
  }
  return null;
}

export async function redisMissing(): Promise<string | null> {
  if (!(await reachable(REDIS_URL, 6379))) {
    const why = `skipped: Redis is not running at ${REDIS_URL} (set CONVLENS_TEST_REDIS, or start it as .ci/run does)`;
    console.warn(why);
    return why;
  }
  return null;
}

const made: string[] = [];

/** A URL for a new, empty collection (its own schema). */
export function postgresCollection(tag = 'test'): string {
  const schema = `cl_${tag}_${randomBytes(4).toString('hex')}`;
  made.push(schema);
  return `${POSTGRES_BASE}?schema=${schema}`;
}

/** Drop every schema this process made. */
export async function dropPostgresCollections(): Promise<void> {
  if (made.length === 0) return;
  const client = new pg.Client({ connectionString: POSTGRES_BASE });
  await client.connect();
  try {
    for (const s of made.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await client.end();
  }
}
